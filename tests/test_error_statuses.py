"""DataPacket's HTTP statuses and graphql-js's wording of errors, through the real ASGI app.

DataPacket answers a malformed request (parse, validation, variable coercion) with HTTP 400
and its errors, and field errors with 200 and ``data``; its messages are graphql-js's.
"""

from __future__ import annotations

import json

import httpx
import pytest

from errors.wording import graphql_js, quoted
from gateway.graphql_http import GRAPHQL_RESPONSE_JSON
from tests.conftest import (
    FULL,
    READ,
    GatewayClient,
    datapacket_config,
    error_codes,
    start_gateway,
)

MEDIA_TYPES = ["application/json", GRAPHQL_RESPONSE_JSON]
SERVER = "query S($input: ServerInput!) { server(input: $input) { name } }"
SERVERS = "query L($input: PaginatedServersInput) { servers(input: $input) { entriesTotalCount } }"

#: A malformed request of each class: document, variables, graphql-js's message.
MALFORMED = {
    "parse": ("{ account { name ", None, "Syntax Error: Expected Name, found <EOF>."),
    "unknown field": ("{ account { x } }", None, 'Cannot query field "x" on type "Account".'),
    "bad enum literal": (
        "{ servers(input: {filter: {powerStatus_in: [BOGUS]}}) { entriesTotalCount } }",
        None,
        'Value "BOGUS" does not exist in "PowerStatus" enum.',
    ),
    "null for a non-null variable": (
        SERVER,
        {"input": None},
        'Variable "$input" of non-null type "ServerInput!" must not be null.',
    ),
    "missing variable": (
        SERVER,
        {},
        'Variable "$input" of required type "ServerInput!" was not provided.',
    ),
    "variable of the wrong type": (
        SERVER,
        {"input": {"name": True}},
        'Variable "$input" has invalid value at .name: '
        "String cannot represent a non string value: true",
    ),
    "bad enum in a variable": (
        SERVERS,
        {"input": {"filter": {"powerStatus_in": ["BOGUS"]}}},
        None,
    ),
    "unknown operation": ("query A { account { name } }", None, 'Unknown operation named "B".'),
}


def send(
    client: GatewayClient,
    method: str,
    query: str,
    variables: dict | None = None,
    *,
    accept: str = "application/json",
    token: str | None = FULL,
    operation_name: str | None = None,
    path: str = "/graphql",
) -> httpx.Response:
    """One GraphQL request over GET (query string) or POST (JSON body) to ``path``."""
    headers = {"Accept": accept}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    params: dict = {"query": query}
    if variables is not None:
        params["variables"] = variables
    if operation_name is not None:
        params["operationName"] = operation_name
    if method == "POST":
        return client.http.post(path, json=params, headers=headers)
    if "variables" in params:
        params["variables"] = json.dumps(params["variables"])
    return client.http.get(path, params=params, headers=headers)


@pytest.mark.parametrize("path", ["/graphql", "/v0/graphql"])
@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize("accept", MEDIA_TYPES)
@pytest.mark.parametrize("case", MALFORMED)
def test_a_malformed_request_is_400_with_its_errors(gateway, case, accept, method, path):
    query, variables, message = MALFORMED[case]
    operation = "B" if case == "unknown operation" else None
    response = send(
        gateway, method, query, variables, accept=accept, operation_name=operation, path=path
    )
    assert response.status_code == 400
    assert response.headers["content-type"].startswith(accept)
    body = response.json()
    assert "data" not in body
    assert error_codes(body) == ["GRAPHQL_VALIDATION_FAILED"]
    if message is not None:
        assert body["errors"][0]["message"] == message


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize("accept", MEDIA_TYPES)
def test_a_limit_passed_is_400(gateway, accept, method):
    aliases = " ".join(f"a{i}: account {{ name }}" for i in range(200))
    response = send(gateway, method, f"{{ {aliases} }}", accept=accept)
    assert response.status_code == 400
    body = response.json()
    assert error_codes(body) == ["GRAPHQL_VALIDATION_FAILED"]
    assert body["errors"][0]["extensions"]["limit"] == "max_aliases"


FIELD_ERRORS = {
    "not found": ('{ server(input: {name: "DP-99999"}) { name } }', "NOT_FOUND"),
    "a rule of the API": (
        "{ servers(input: {pageSize: 60}) { entriesTotalCount } }",
        "VALIDATION_FAILED",
    ),
}


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize("accept", MEDIA_TYPES)
@pytest.mark.parametrize("case", FIELD_ERRORS)
def test_a_field_error_is_200_with_data(gateway, case, accept, method):
    query, code = FIELD_ERRORS[case]
    response = send(gateway, method, query, accept=accept)
    assert response.status_code == 200
    body = response.json()
    assert body["data"] is None
    assert error_codes(body) == [code]
    assert "path" in body["errors"][0]


def test_a_field_error_message_quotes_as_graphql_js(gateway):
    response = send(gateway, "POST", '{ server(input: {alias: "nope"}) { name } }')
    assert response.json()["errors"][0]["message"] == 'No server matches alias="nope".'


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize("token", [None, "not-a-token"])
def test_a_refused_token_is_200_under_json_with_datapackets_message(gateway, token, method):
    response = send(gateway, method, "{ account { name } }", token=token)
    assert response.status_code == 200
    body = response.json()
    assert error_codes(body) == ["NOT_AUTHORIZED"]
    message = body["errors"][0]["message"]
    assert message.startswith("You are not authorized to perform this action. ")


def test_a_read_only_mutation_says_not_authorized(gateway):
    mutation = (
        'mutation { setServerAlias(input: {server: {name: "DP-12345"}, alias: "x"}) '
        "{ server { name } } }"
    )
    response = send(gateway, "POST", mutation, token=READ)
    assert response.status_code == 200
    assert response.json()["errors"][0]["message"].startswith(
        "You are not authorized to perform this action. "
    )


def test_a_provider_refusing_credentials_is_a_field_error_that_says_not_authorized(
    datapacket_upstream,
):
    gateway = start_gateway([datapacket_config(datapacket_upstream, token="revoked")])
    try:
        client = GatewayClient(gateway)
        for accept in MEDIA_TYPES:
            response = send(client, "POST", "{ servers { entriesTotalCount } }", accept=accept)
            assert response.status_code == 200
            body = response.json()
            assert "data" in body and error_codes(body) == ["NOT_AUTHORIZED"]
            error = body["errors"][0]
            assert error["extensions"]["provider"] == "dp"
            assert error["message"] == (
                'You are not authorized to perform this action. Provider "dp" refused the '
                "configured credentials for this operation."
            )
    finally:
        gateway.stop()


@pytest.mark.parametrize("write", [False, True])
def test_an_upstream_400_is_the_providers_failure_without_its_body(fresh, write):
    client, upstream = fresh()
    upstream.app.state.emulator.faults.update({"error_rate": 1.0, "error_status": 400})
    if write:
        query = (
            'mutation { setServerAlias(input: {server: {name: "DP-12345"}, alias: "x"}) '
            "{ server { name } } }"
        )
    else:
        query = "{ servers { entriesTotalCount } }"
    log = upstream.app.state.emulator.request_log
    log.clear()
    response = send(client, "POST", query)
    assert response.status_code == 200
    body = response.json()
    assert error_codes(body) == ["PROVIDER_UNAVAILABLE"]
    assert body["errors"][0]["extensions"]["provider"] == "dp"
    assert "injected" not in response.text  # the upstream's own message is not passed on
    assert len(log.entries()) == 1  # a 400 is an answer: not retried


@pytest.mark.parametrize(
    ("core", "js"),
    [
        ("Cannot query field 'x' on type 'Y'.", 'Cannot query field "x" on type "Y".'),
        (
            "Variable '$input' has invalid value: Expected value of non-null type "
            "'ServerInput!' not to be None.",
            'Variable "$input" of non-null type "ServerInput!" must not be null.',
        ),
        (
            "Variable '$x' has invalid value: Expected a value of non-null type 'Int!' "
            "to be provided.",
            'Variable "$x" of required type "Int!" was not provided.',
        ),
        (
            "Int cannot represent non-integer value: True",
            "Int cannot represent non-integer value: true",
        ),
        (
            "String cannot represent a non string value: None",
            "String cannot represent a non string value: null",
        ),
        ("Found: {'nam': 'it\\'s'}.", 'Found: {"nam": "it\'s"}.'),
        # A word inside a quoted value is the client's text: left as it is.
        ("Value 'None' does not exist in 'E' enum.", 'Value "None" does not exist in "E" enum.'),
        ("Syntax Error: Expected Name, found <EOF>.", "Syntax Error: Expected Name, found <EOF>."),
    ],
)
def test_graphql_cores_wording_is_translated_to_graphql_js(core, js):
    assert graphql_js(core) == js


@pytest.mark.parametrize(
    ("value", "text"), [("DP-1", '"DP-1"'), (None, "null"), (True, "true"), (12, "12")]
)
def test_quoted_prints_a_value_as_graphql_js(value, text):
    assert quoted(value) == text
