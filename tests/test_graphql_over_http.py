"""GraphQL over HTTP: media-type negotiation, request-error statuses, JSON bodies for every 4xx."""

from __future__ import annotations

import httpx
import pytest

from gateway.app import create_app
from gateway.graphql_http import GRAPHQL_RESPONSE_JSON, negotiate
from gateway.settings import settings_from_dict
from tests.conftest import (
    FULL,
    READ,
    TOKENS,
    GatewayClient,
    datapacket_config,
    error_codes,
    start_gateway,
)
from tests.servers import serving

SPEC_CLIENT = f"{GRAPHQL_RESPONSE_JSON}, application/json;q=0.9"


@pytest.mark.parametrize(
    ("accept", "media_type"),
    [
        (None, "application/json"),
        ("*/*", "application/json"),
        ("application/json", "application/json"),
        (GRAPHQL_RESPONSE_JSON, GRAPHQL_RESPONSE_JSON),
        (SPEC_CLIENT, GRAPHQL_RESPONSE_JSON),
        (f"application/json, {GRAPHQL_RESPONSE_JSON}", GRAPHQL_RESPONSE_JSON),
        (f"{GRAPHQL_RESPONSE_JSON};q=0.5, application/json", "application/json"),
        (f"{GRAPHQL_RESPONSE_JSON};q=0, */*", "application/json"),
        (f"{GRAPHQL_RESPONSE_JSON};q=oops", "application/json"),
        ("text/html", "application/json"),
    ],
)
def test_accept_negotiates_the_response_media_type(accept, media_type):
    assert negotiate(accept) == media_type


def ask(gateway, query, *, accept=SPEC_CLIENT, token=FULL, variables=None) -> httpx.Response:
    headers = {"Accept": accept} if accept else {}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    body = {"query": query, **({"variables": variables} if variables is not None else {})}
    return gateway.http.post("/graphql", json=body, headers=headers)


REQUEST_ERRORS = {
    "parse": ("{ account { name ", None, FULL, 400, "GRAPHQL_VALIDATION_FAILED"),
    "validation": ("{ account { shoeSize } }", None, FULL, 400, "GRAPHQL_VALIDATION_FAILED"),
    "variable coercion": (
        "query S($input: ServerInput!) { server(input: $input) { name } }",
        {"input": {"name": 12345}},
        FULL,
        400,
        "GRAPHQL_VALIDATION_FAILED",
    ),
    "no token": ("{ account { name } }", None, None, 401, "NOT_AUTHORIZED"),
    "read-only mutation": (
        'mutation { setServerAlias(input: {server: {name: "DP-12345"}, alias: "x"}) '
        "{ server { name } } }",
        None,
        READ,
        403,
        "NOT_AUTHORIZED",
    ),
}


@pytest.mark.parametrize("case", REQUEST_ERRORS)
def test_request_errors_are_4xx_without_data_under_graphql_response_json(gateway, case):
    query, variables, token, status, code = REQUEST_ERRORS[case]
    response = ask(gateway, query, token=token, variables=variables)
    assert response.status_code == status
    assert response.headers["content-type"].startswith(GRAPHQL_RESPONSE_JSON)
    body = response.json()
    assert "data" not in body
    assert error_codes(body) == [code]
    if status == 401:
        assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize("accept", [None, "application/json", "*/*"])
@pytest.mark.parametrize("case", REQUEST_ERRORS)
def test_application_json_keeps_datapackets_statuses(gateway, case, accept):
    # DataPacket: a malformed request is 400, a refused token (or any other error) 200.
    query, variables, token, status, code = REQUEST_ERRORS[case]
    response = ask(gateway, query, token=token, variables=variables, accept=accept)
    assert response.status_code == (400 if status == 400 else 200)
    assert response.headers["content-type"].startswith("application/json")
    assert error_codes(response.json()) == [code]


def test_field_errors_answer_200_with_data_under_graphql_response_json(gateway):
    response = ask(gateway, '{ server(input: {name: "DP-99999"}) { name } }')
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(GRAPHQL_RESPONSE_JSON)
    body = response.json()
    assert "data" in body
    assert error_codes(body) == ["NOT_FOUND"]


def test_successful_query_under_graphql_response_json(gateway):
    response = ask(gateway, "{ account { name } }")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(GRAPHQL_RESPONSE_JSON)
    assert response.json() == {"data": {"account": {"name": "Peter Marlowe"}}}


def test_unreadable_request_keeps_its_status_in_the_negotiated_type(gateway):
    response = gateway.http.post(
        "/graphql",
        content=b"{not json",
        headers={"Content-Type": "application/json", "Accept": SPEC_CLIENT},
    )
    assert response.status_code == 400
    assert response.headers["content-type"].startswith(GRAPHQL_RESPONSE_JSON)
    assert error_codes(response.json()) == ["BAD_REQUEST"]


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        ("GET", "/nowhere", 404, "NOT_FOUND"),
        ("PUT", "/graphql", 405, "BAD_REQUEST"),
        ("POST", "/healthz", 405, "BAD_REQUEST"),
    ],
)
def test_every_4xx_has_a_json_error_body_and_a_request_id(gateway, method, path, status, code):
    response = gateway.http.request(method, path, headers={"X-Request-ID": "http-4xx"})
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/json")
    assert error_codes(response.json()) == [code]
    assert response.headers["x-request-id"] == "http-4xx"


def test_a_refused_cors_preflight_has_a_json_error_body(datapacket_upstream):
    server = start_gateway(
        [datapacket_config(datapacket_upstream)], cors_origins=["http://localhost:3000"]
    )
    try:
        response = GatewayClient(server).http.options(
            "/graphql",
            headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
        )
    finally:
        server.stop()
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/json")
    assert error_codes(response.json()) == ["BAD_REQUEST"]
    assert "x-request-id" in response.headers


def test_an_unexpected_exception_is_a_json_500_with_the_request_id(datapacket_upstream):
    settings = settings_from_dict(
        {"providers": [datapacket_config(datapacket_upstream)], "tokens": TOKENS}
    )
    app = create_app(settings)

    async def broken() -> None:
        raise RuntimeError("secret detail")

    app.add_api_route("/broken", broken)
    with serving(app) as server:
        response = httpx.get(f"{server.url}/broken", headers={"X-Request-ID": "boom-1"})
    assert response.status_code == 500
    assert response.headers["x-request-id"] == "boom-1"
    assert "secret detail" not in response.text
    [error] = response.json()["errors"]
    assert error["extensions"] == {"code": "INTERNAL_SERVER_ERROR", "requestId": "boom-1"}
