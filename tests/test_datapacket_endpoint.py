"""``/v0/graphql``: DataPacket's own schema, over the DataPacket providers only.

A gateway here has two DataPacket accounts and a Mammoth one, so that a server of another kind
appearing at ``/v0/graphql`` (or a FleetQL addition leaking into it) would be seen.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from graphql import build_client_schema, get_introspection_query
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from emulators.datapacket import app as datapacket_emulator
from emulators.kit.server import EmulatorServer
from emulators.mammoth import app as mammoth_emulator
from gateway.app import create_app
from gateway.settings import ConfigError, settings_from_dict
from schema.datapacket import build_datapacket_schema, datapacket_schema, read_datapacket_schema
from schema.execution import CompiledExecutor, _is_plain
from tests.conftest import (
    FULL,
    TOKENS,
    GatewayClient,
    datapacket_config,
    error_codes,
    start_gateway,
)
from tests.providers.mammoth.conftest import provider_table as mammoth_config
from tests.schema_diff import differences
from tests.servers import InProcessGateway, stop_soon
from tests.test_seed_examples import (
    MUTATION_VARIABLES,
    QUERY_VARIABLES,
    documented_examples,
)

V0 = "/v0/graphql"
EXAMPLES = documented_examples(read_datapacket_schema())
MAMMOTH_ONLY = "test-mammoth-only"
DATAPACKET_ONLY = "test-datapacket-only"
SCOPED_TOKENS = [
    *TOKENS,
    {"name": "mc", "scope": "read-only", "token": MAMMOTH_ONLY, "providers": ["mc"]},
    {
        "name": "dp",
        "scope": "read-only",
        "token": DATAPACKET_ONLY,
        "providers": ["dp", "dp-second"],
    },
]
SERVERS = (
    "query P($input: PaginatedServersInput) { servers(input: $input) "
    "{ entriesTotalCount entries { name } } }"
)


def _gateway(
    providers: list[dict], tokens: list[dict] = TOKENS, **tables: object
) -> InProcessGateway:
    config = {"providers": providers, "tokens": tokens, **tables}
    return InProcessGateway(create_app(settings_from_dict(config, source="<test>"))).start()


@pytest.fixture(scope="module")
def fleet() -> Iterator[tuple[InProcessGateway, EmulatorServer, EmulatorServer]]:
    """Two DataPacket accounts (40 and 30 servers) and a Mammoth account behind one gateway."""
    first = EmulatorServer(datapacket_emulator.create_app(size=40, seed=1)).start()
    second = EmulatorServer(datapacket_emulator.create_app(size=30, seed=2, examples=False))
    second.start()
    mammoth = EmulatorServer(mammoth_emulator.create_app()).start()
    gateway = _gateway(
        [
            datapacket_config(first),
            mammoth_config(mammoth),
            datapacket_config(second, id="dp-second"),
        ],
        SCOPED_TOKENS,
    )
    yield gateway, first, second
    gateway.stop()
    stop_soon([first, second, mammoth])


@pytest.fixture(scope="module")
def v0(fleet) -> GatewayClient:
    return GatewayClient(fleet[0], path=V0)


@pytest.fixture(scope="module")
def fleetql(fleet) -> GatewayClient:
    return GatewayClient(fleet[0])


def _names(upstream: EmulatorServer) -> list[str]:
    return sorted(server["name"] for server in upstream.app.state.fleet.servers)


def test_introspection_is_datapacket_s_sdl_exactly(v0):
    query = get_introspection_query(descriptions=True, input_value_deprecation=True)
    served = build_client_schema(v0.data(query))
    assert differences(read_datapacket_schema(), served) == []


def test_fleetql_s_own_path_keeps_its_additions(fleetql):
    fields = fleetql.data('{ __type(name: "Server") { fields { name } } }')["__type"]["fields"]
    assert "provider" in {field["name"] for field in fields}


def test_the_compiled_executor_runs_the_datapacket_schema():
    assert datapacket_schema().executor_class is CompiledExecutor


def test_an_observed_file_of_comments_only_adds_nothing():
    documented = "type Query { a: Int! }"
    assert build_datapacket_schema(documented, "# nothing yet\n\n") is not None
    extended = build_datapacket_schema(
        documented, "# seen in a client\nextend type Query { b: Int }"
    )
    assert set(extended.query_type.fields) == {"a", "b"}


@pytest.mark.parametrize("operation", sorted(QUERY_VARIABLES))
def test_seed_query_example_runs_at_v0(v0, operation):
    variables = QUERY_VARIABLES[operation]
    if operation == "InstantDeliveryServer":
        listing = v0.data("{ instantDeliveryServers { entries { name } } }")
        name = listing["instantDeliveryServers"]["entries"][0]["name"]
        variables = {"input": {"name": name}}
    data = v0.data(EXAMPLES[operation], variables)
    field = operation[0].lower() + operation[1:]
    assert data[field], f"{operation} returned no data"


def test_seed_servers_example_lists_datapacket_s_servers_only(v0, fleet):
    _, first, second = fleet
    servers = v0.data(EXAMPLES["Servers"], QUERY_VARIABLES["Servers"])["servers"]
    assert servers["entriesTotalCount"] == 70
    assert all(entry["name"].startswith("DP-") for entry in servers["entries"])
    assert {entry["name"] for entry in servers["entries"]} <= set(_names(first) + _names(second))


@pytest.mark.parametrize("operation", sorted(MUTATION_VARIABLES))
def test_seed_mutation_example_runs_at_v0(fresh, operation):
    client, _ = fresh()
    v0 = GatewayClient(client.server, path=V0)
    data = v0.data(EXAMPLES[operation], MUTATION_VARIABLES[operation])
    field = operation[0].lower() + operation[1:]
    assert data[field] is not None


def test_two_datapacket_accounts_merge_as_one(v0, fleetql, fleet):
    _, first, second = fleet
    everything = [
        entry["name"]
        for index in (0, 1)
        for entry in v0.data(SERVERS, {"input": {"pageIndex": index, "pageSize": 50}})["servers"][
            "entries"
        ]
    ]
    # Configuration order, each account in its own order (DataPacket: by name).
    assert everything == _names(first) + _names(second)
    straddling = v0.data(SERVERS, {"input": {"pageIndex": 3, "pageSize": 12}})["servers"]
    assert straddling["entriesTotalCount"] == 70
    assert [entry["name"] for entry in straddling["entries"]] == everything[36:48]
    # The same fleet as /graphql's DataPacket providers.
    same = fleetql.data(
        SERVERS,
        {"input": {"pageIndex": 3, "pageSize": 12, "filter": {"provider_in": ["dp", "dp-second"]}}},
    )
    assert same == {"servers": straddling}


@pytest.mark.parametrize(
    "document",
    [
        "{ servers { entries { name provider { id } } } }",
        "{ providers { id } }",
        '{ servers(input: {filter: {provider_in: ["dp"]}}) { entriesTotalCount } }',
        "{ servers(input: {filter: {serverStatusV2_in: [ACTIVE]}}) "
        "{ entries { network { ddosShieldLevel } } } } "
        "query Q { invoices(input: {filter: {currency_in: [AUD]}}) { entriesTotalCount } }",
    ],
)
def test_fleetql_s_additions_are_validation_errors_at_v0(v0, document):
    body = v0.query(document, status=400)
    assert "data" not in body
    assert set(error_codes(body)) == {"GRAPHQL_VALIDATION_FAILED"}


def test_a_token_scoped_to_other_kinds_sees_nothing_at_v0(v0, fleetql):
    assert fleetql.data("{ servers { entriesTotalCount } }", token=MAMMOTH_ONLY) != {
        "servers": {"entriesTotalCount": 0}
    }
    empty = v0.data("{ servers { entriesTotalCount entries { name } } }", token=MAMMOTH_ONLY)
    assert empty == {"servers": {"entriesTotalCount": 0, "entries": []}}


def test_the_response_cache_tells_the_two_paths_apart(v0, fleetql):
    # One document, one token, the same providers read: only the path tells the answers apart.
    document = '{ __type(name: "Server") { fields { name } } servers { entriesTotalCount } }'
    first = fleetql.data(document, token=DATAPACKET_ONLY)
    second = v0.data(document, token=DATAPACKET_ONLY)
    assert first["servers"] == second["servers"] == {"entriesTotalCount": 70}
    assert "provider" in {field["name"] for field in first["__type"]["fields"]}
    assert "provider" not in {field["name"] for field in second["__type"]["fields"]}


def test_datapacket_endpoint_disabled_is_an_unknown_path(datapacket_upstream):
    gateway = _gateway(
        [datapacket_config(datapacket_upstream)], datapacket_endpoint={"enabled": False}
    )
    try:
        http = gateway.client()
        response = http.post(V0, json={"query": "{ account { email } }"}, headers=_auth())
        assert response.status_code == 404
        assert error_codes(response.json()) == ["NOT_FOUND"]
        assert GatewayClient(gateway).data("{ account { email } }")
    finally:
        gateway.stop()


def test_only_the_configured_datapacket_providers_answer(fleet):
    _, first, second = fleet
    gateway = _gateway(
        [datapacket_config(first), datapacket_config(second, id="dp-second")],
        datapacket_endpoint={"providers": ["dp-second"]},
    )
    try:
        total = GatewayClient(gateway, path=V0).data("{ servers { entriesTotalCount } }")
        assert total == {"servers": {"entriesTotalCount": 30}}
    finally:
        gateway.stop()


@pytest.mark.parametrize(
    ("providers", "problem"),
    [(["mc"], "is a mammoth provider, not datapacket"), (["nope"], "unknown provider id")],
)
def test_datapacket_endpoint_names_datapacket_providers_only(providers, problem):
    config = {
        "providers": [
            {"id": "dp", "kind": "datapacket", "token": "t"},
            {"id": "mc", "kind": "mammoth", "token": "t"},
        ],
        "tokens": TOKENS,
        "datapacket_endpoint": {"providers": providers},
    }
    with pytest.raises(ConfigError, match=f"datapacket_endpoint.providers: .*{problem}"):
        settings_from_dict(config)


def _auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {FULL}"}


def test_compiled_and_interpreted_answers_are_equal_at_v0(datapacket_upstream):
    answers = []
    for compiled in (True, False):
        gateway = start_gateway(
            [datapacket_config(datapacket_upstream)], compiled_execution=compiled
        )
        try:
            client = GatewayClient(gateway, path=V0)
            answers.append(client.query(EXAMPLES["Servers"], QUERY_VARIABLES["Servers"]))
        finally:
            gateway.stop()
    assert answers[0] == answers[1]
    assert answers[0]["data"]["servers"]["entries"]


def _account_with_a_null_created_at(request: Request) -> JSONResponse:
    """A DataPacket upstream breaking its own schema: ``Account.createdAt`` is ``DateTime!``."""
    account = {"email": "peter@example.com", "createdAt": None, "name": None, "hostname": None}
    return JSONResponse({"data": {"account": account}})


def test_a_datapacket_non_null_answered_null_propagates_at_v0():
    app = Starlette(
        routes=[Route("/v0/graphql", _account_with_a_null_created_at, methods=["POST"])]
    )
    upstream = EmulatorServer(app).start()
    gateway = start_gateway([datapacket_config(upstream)])
    try:
        document = "{ account { email createdAt } }"
        strict = GatewayClient(gateway, path=V0).query(document)
        assert strict["data"] is None
        assert strict["errors"][0]["path"] == ["account", "createdAt"]
        # graphql-core's completion error, reported as every unexpected one is (its message
        # logged with the request id, never returned).
        assert error_codes(strict) == ["INTERNAL_SERVER_ERROR"]
        # FleetQL's own path relaxes it, as documented.
        relaxed = GatewayClient(gateway).data(document)
        assert relaxed == {"account": {"email": "peter@example.com", "createdAt": None}}
    finally:
        gateway.stop()
        stop_soon([upstream])


def test_fields_without_a_resolver_are_compiled_at_v0():
    # Compiled as dict reads, not each left to graphql-core as a field with its own resolver.
    server = datapacket_schema()._schema.type_map["Server"]
    assert _is_plain("name", server.fields["name"]) == "name"
    assert _is_plain("hardware", server.fields["hardware"]) == "hardware"


def test_a_query_over_get_is_served_at_v0(fleet):
    http = fleet[0].client()
    response = http.get(V0, params={"query": "{ account { email } }"}, headers=_auth())
    assert response.status_code == 200
    assert response.json() == {"data": {"account": {"email": "peter.marlowe@changi.sg"}}}


def test_introspection_switched_off_is_refused_at_v0_too(datapacket_upstream):
    gateway = start_gateway([datapacket_config(datapacket_upstream)], introspection=False)
    try:
        for path in ("/graphql", V0):
            client = GatewayClient(gateway, path=path)
            body = client.query("{ __schema { queryType { name } } }", status=400)
            assert "data" not in body
            assert error_codes(body) == ["GRAPHQL_VALIDATION_FAILED"], path
    finally:
        gateway.stop()
