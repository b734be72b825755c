"""GraphQL over HTTP: POST and GET, malformed requests, multi-operation documents, probes."""

from __future__ import annotations

import json

from tests.conftest import FULL, error_codes

SERVER_NAME = '{ server(input: {name: "DP-12345"}) { name } }'


def test_get_runs_a_query_with_variables(gateway):
    response = gateway.http.get(
        "/graphql",
        params={
            "query": "query S($input: ServerInput!) { server(input: $input) { name alias } }",
            "variables": json.dumps({"input": {"name": "DP-12345"}}),
        },
        headers={"Authorization": f"Bearer {FULL}"},
    )
    assert response.status_code == 200
    assert response.json() == {
        "data": {"server": {"name": "DP-12345", "alias": "Load Balancer 01"}}
    }


def test_get_refuses_mutations(gateway, datapacket_upstream):
    log = datapacket_upstream.app.state.emulator.request_log
    before = log.count()
    response = gateway.http.get(
        "/graphql",
        params={
            "query": 'mutation { setServerTag(input: {server: {name: "DP-12345"}, key: "a"}) }'
        },
        headers={"Authorization": f"Bearer {FULL}"},
    )
    assert response.status_code == 405
    assert error_codes(response.json()) == ["BAD_REQUEST"]
    assert log.count() == before


def test_wrong_content_type_is_a_bad_request(gateway):
    response = gateway.http.post(
        "/graphql",
        content=SERVER_NAME,
        headers={"Authorization": f"Bearer {FULL}", "Content-Type": "text/plain"},
    )
    assert response.status_code == 400
    assert error_codes(response.json()) == ["BAD_REQUEST"]


def test_malformed_json_is_a_bad_request(gateway):
    response = gateway.http.post(
        "/graphql",
        content=b'{"query": ',
        headers={"Authorization": f"Bearer {FULL}", "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert error_codes(response.json()) == ["BAD_REQUEST"]


def test_missing_query_is_a_bad_request(gateway):
    response = gateway.http.post(
        "/graphql", json={"variables": {}}, headers={"Authorization": f"Bearer {FULL}"}
    )
    assert response.status_code == 400
    assert error_codes(response.json()) == ["BAD_REQUEST"]


def test_non_object_variables_are_a_bad_request(gateway):
    response = gateway.http.post(
        "/graphql",
        json={"query": SERVER_NAME, "variables": [1]},
        headers={"Authorization": f"Bearer {FULL}"},
    )
    assert response.status_code == 400
    assert error_codes(response.json()) == ["BAD_REQUEST"]


def test_syntax_error_is_a_validation_failure_with_location(gateway):
    body = gateway.query("{ server(input: {name: ", status=400)
    assert error_codes(body) == ["GRAPHQL_VALIDATION_FAILED"]
    assert body["errors"][0]["locations"][0]["line"] == 1
    assert "data" not in body


def test_unknown_field_is_a_validation_failure(gateway):
    body = gateway.query("{ account { name favouriteColour } }", status=400)
    assert error_codes(body) == ["GRAPHQL_VALIDATION_FAILED"]
    assert "favouriteColour" in body["errors"][0]["message"]


def test_variable_of_the_wrong_type_is_a_validation_failure(gateway):
    body = gateway.query(
        "query S($input: ServerInput!) { server(input: $input) { name } }",
        {"input": {"name": 12345}},
        status=400,
    )
    assert error_codes(body) == ["GRAPHQL_VALIDATION_FAILED"]


def test_invalid_datetime_variable_is_a_validation_failure(gateway):
    body = gateway.query(
        "query T($input: TrafficInput!) { traffic(input: $input) "
        "{ aggregated { statisticsIn { sum } } } }",
        {"input": {"from": "yesterday", "to": "2025-01-14T17:07:11.144Z"}},
        status=400,
    )
    assert error_codes(body) == ["GRAPHQL_VALIDATION_FAILED"]


def test_several_operations_run_in_document_order(gateway):
    document = (
        "query First { account { name } } "
        'query Second { server(input: {name: "DP-12345"}) { alias } }'
    )
    data = gateway.data(document)
    assert data == {"account": {"name": "Peter Marlowe"}, "server": {"alias": "Load Balancer 01"}}
    assert list(data) == ["account", "server"]


def test_operation_name_selects_one_operation(gateway):
    document = "query First { account { name } } query Second { account { email } }"
    assert gateway.data(document, operation_name="Second") == {
        "account": {"email": "peter.marlowe@changi.sg"}
    }
    assert error_codes(gateway.query(document, operation_name="Third", status=400)) == [
        "GRAPHQL_VALIDATION_FAILED"
    ]


def test_request_id_is_echoed_or_generated(gateway):
    response = gateway.http.post(
        "/graphql",
        json={"query": "{ account { name } }"},
        headers={"Authorization": f"Bearer {FULL}", "X-Request-ID": "trace-42"},
    )
    assert response.headers["x-request-id"] == "trace-42"
    generated = gateway.post("{ account { name } }").headers["x-request-id"]
    assert len(generated) == 32


def test_graphiql_is_served_to_browsers(gateway):
    response = gateway.http.get("/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 200
    assert "graphiql" in response.text.lower()
    assert "ServersInLondonOrAmsterdam" in response.text


def test_health_and_readiness(gateway):
    assert gateway.http.get("/healthz").json() == {"status": "ok"}
    ready = gateway.http.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["status"] == "up"
    assert ready.json()["providers"] == {"dp": True}
    assert ready.json()["circuits"] == {"dp": "CLOSED"}


def test_readiness_fails_when_a_provider_is_down(fresh):
    client, upstream = fresh()
    upstream.app.state.emulator.faults.error_rate = 1.0
    response = client.http.get("/readyz")
    assert response.status_code == 503
    assert response.json()["status"] == "down"
    assert response.json()["providers"] == {"dp": False}
    providers = client.data("{ providers { id kind reachable capabilities } }")["providers"]
    assert providers[0]["id"] == "dp" and providers[0]["reachable"] is False
