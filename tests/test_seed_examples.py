"""Every query and mutation DataPacket's API documentation shows runs as written against FleetQL.

The documents are the documentation's own examples, one ``<OperationName>.graphql`` each under
``tests/fixtures/datapacket/`` (verbatim; origin in ``tests/fixtures/README.md``). Their
``...XFragment`` spreads are never defined there, so each is expanded here to the fields of
type X as the schema gives them (nested objects two levels deep).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from graphql import GraphQLList, GraphQLNonNull, GraphQLObjectType, GraphQLSchema, build_schema

from gateway.app import create_app
from gateway.demo import DEMO_FULL_ACCESS, start_demo_backends
from schema import schema_sdl
from tests.conftest import GatewayClient
from tests.servers import InProcessGateway, stop_soon

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "datapacket"
SCHEMA = build_schema(schema_sdl())
NOW = datetime.now(UTC).replace(microsecond=0)

QUERY_VARIABLES = {
    "Account": None,
    "InstantDeliveryServer": {"input": {"name": "{instant_delivery_name}"}},
    "InstantDeliveryServers": {"input": {"pageIndex": 0, "pageSize": 10}},
    "Invoice": {"input": {"invoiceNumber": "DP000123"}},
    "Invoices": {"input": {"pageIndex": 0, "pageSize": 10}},
    "ReverseDnsRecord": {"input": {"ip": "123.213.231.132"}},
    "Server": {"input": {"name": "DP-12345"}},
    "Servers": {"input": {"pageIndex": 0, "pageSize": 50}},
    "Subscription": {"input": {"name": "7"}},
    "Subscriptions": {"input": {"pageIndex": 0, "pageSize": 10}},
    "SupportRequest": {"input": {"id": 987}},
    "SupportRequests": {"input": {"pageIndex": 0, "pageSize": 10}},
    "Traffic": {
        "input": {
            "from": (NOW - timedelta(days=2)).isoformat().replace("+00:00", "Z"),
            "to": NOW.isoformat().replace("+00:00", "Z"),
        }
    },
}
DP_12345 = {"name": "DP-12345"}
MUTATION_VARIABLES = {
    "ChangeServerIpmiPassword": {"input": {"password": "1234567890abcdef", "server": DP_12345}},
    "CreateSupportRequest": {
        "input": {
            "message": "Server cannot connect to Chicago internet exchanges.",
            "priority": "HIGH",
            "servers": ["DP-12345"],
            "subject": "HARDWARE_ISSUE",
        }
    },
    "PerformServerPowerAction": {"input": {"action": "CYCLE", "server": DP_12345}},
    "SetReverseDnsRecord": {"input": {"hostname": "example.com.", "ip": "123.213.231.132"}},
    "SetServerAlias": {"input": {"alias": "Load Balancer 01", "server": DP_12345}},
    "SetServerBootDevice": {"input": {"bootDevice": "PXE", "server": DP_12345}},
    "SetServerPrimaryIp": {"input": {"ip": "123.213.231.132", "server": DP_12345}},
    "SetServerTag": {"input": {"key": "env", "server": DP_12345, "value": "production"}},
    "SetServerTags": {
        "input": {"server": DP_12345, "tags": [{"key": "env", "value": "production"}]}
    },
    "SupportRequestReply": {
        "input": {"id": 987, "message": "Can you also upgrade the storage to 24 8TB NVMe SSDs?"}
    },
}


def _named(type_):
    while isinstance(type_, GraphQLNonNull | GraphQLList):
        type_ = type_.of_type
    return type_


def _fields_of(type_name: str, schema: GraphQLSchema, depth: int = 2) -> str:
    """All fields of a type, objects expanded ``depth`` levels (what a fragment would hold)."""
    parts = []
    for name, field in schema.type_map[type_name].fields.items():
        target = _named(field.type)
        if isinstance(target, GraphQLObjectType):
            if depth > 0:
                parts.append(f"{name} {{ {_fields_of(target.name, schema, depth - 1)} }}")
        else:
            parts.append(name)
    return " ".join(parts) or "__typename"


def documented_examples(schema: GraphQLSchema = SCHEMA) -> dict[str, str]:
    """Operation name -> document with its fragment spreads expanded to ``schema``'s fields
    (by default the served one), one per fixture file."""
    return {
        path.stem: re.sub(
            r"\.\.\.(\w+)Fragment",
            lambda m: _fields_of(m.group(1), schema),
            path.read_text(encoding="utf-8"),
        )
        for path in sorted(FIXTURES.glob("*.graphql"))
    }


EXAMPLES = documented_examples()


def test_the_seed_documents_every_operation():
    assert set(EXAMPLES) == set(QUERY_VARIABLES) | set(MUTATION_VARIABLES)
    for name, document in EXAMPLES.items():
        kind = "query" if name in QUERY_VARIABLES else "mutation"
        declared = re.match(r"(query|mutation) (\w+)", document)
        assert declared and declared.groups() == (kind, name), f"{name}.graphql: not {kind} {name}"


@pytest.mark.parametrize("operation", sorted(QUERY_VARIABLES))
def test_seed_query_example_returns_data(gateway, operation):
    variables = QUERY_VARIABLES[operation]
    if operation == "InstantDeliveryServer":
        listing = gateway.data("{ instantDeliveryServers { entries { name } } }")
        name = listing["instantDeliveryServers"]["entries"][0]["name"]
        variables = {"input": {"name": name}}
    data = gateway.data(EXAMPLES[operation], variables)
    field = operation[0].lower() + operation[1:]
    assert data[field], f"{operation} returned no data"


@pytest.mark.parametrize("operation", sorted(MUTATION_VARIABLES))
def test_seed_mutation_example_returns_data(fresh, operation):
    client, _ = fresh()
    data = client.data(EXAMPLES[operation], MUTATION_VARIABLES[operation])
    field = operation[0].lower() + operation[1:]
    assert data[field] is not None


def test_seed_curl_examples_work_verbatim(gateway):
    account = gateway.data("query account { account { name email } }")
    assert account == {"account": {"name": "Peter Marlowe", "email": "peter.marlowe@changi.sg"}}
    servers = gateway.data(
        "query servers($input: PaginatedServersInput) { servers(input: $input) "
        "{ entriesTotalCount currentPageIndex entries { name network { ipmi { ip } } } } }",
        {
            "input": {
                "pageIndex": 0,
                "pageSize": 20,
                "filter": {"location_in": ["London", "Amsterdam"], "powerStatus_in": ["ON"]},
            }
        },
    )["servers"]
    assert servers["currentPageIndex"] == 0
    assert 0 < len(servers["entries"]) == min(servers["entriesTotalCount"], 20)
    assert {"name": "DP-12345", "network": {"ipmi": {"ip": "10.110.120.130"}}} in servers["entries"]


def test_seed_power_action_curl_example_works_verbatim(fresh):
    client, _ = fresh()
    data = client.data(
        "mutation performServerPowerAction($input: PerformServerPowerActionInput!) "
        "{ performServerPowerAction(input: $input) { server { name } } }",
        {"input": {"server": {"name": "DP-12345"}, "action": "ON"}},
    )
    assert data == {"performServerPowerAction": {"server": {"name": "DP-12345"}}}


# The seed's own example values: each input type's "Example", with the input types it nests
# (ServerInput, ServerTagInput, the filters) replaced by their own examples. Each names one
# entity of the demo fleet, across every provider ("unique for the server").
SEED_TAG = {"key": "env", "value": "production"}
SEED_SERVER = {
    "alias": "Load Balancer 01",
    "ip": "123.213.231.132",
    "ipmiIp": "10.110.120.130",
    "name": "DP-12345",
    "tag": SEED_TAG,
}
SEED_SERVERS_FILTER = {
    "alias_in": ["Load Balancer 01"],
    "ip_in": ["123.213.231.132"],
    "ipmiIp_in": ["10.110.120.130"],
    "location_in": ["London"],
    "name_in": ["DP-12345"],
    "powerStatus_in": ["OFF"],
    "region_in": ["Europe"],
    "serverStatusV2_in": ["ACTIVE"],
    "serverStatus_in": ["DISCONNECTED"],
    "tag_key": ["env"],
    "tag_value": [SEED_TAG],
    "tags_each": [SEED_TAG],
    "tags_in": [SEED_TAG],
}
SEED_TRAFFIC_FILTER = {
    "alias_in": ["Load Balancer 01"],
    "ip_in": ["123.213.231.132"],
    "ipmiIp_in": ["10.110.120.130"],
    "location_in": ["London"],
    "name_in": ["DP-12345"],
    "region_in": ["Europe"],
}
SEED_INSTANT_DELIVERY_FILTER = {
    "location_in": ["London"],
    "name_in": ["DP-12345"],
    "region_in": ["Europe"],
}
SEED_INVOICES_FILTER = {
    "currency_in": ["EUR"],
    "invoiceNumber_in": ["DP000123"],
    "paymentStatus_in": ["NOT_PAID"],
}
SEED_SUBSCRIPTIONS_FILTER = {"currency_in": ["EUR"], "name_in": ["7"], "type_in": ["PREPAID"]}
SEED_QUERY_VARIABLES = {
    "Account": None,
    "InstantDeliveryServer": {"input": {"name": "DP-12345"}},
    "InstantDeliveryServers": {
        "input": {"filter": SEED_INSTANT_DELIVERY_FILTER, "pageIndex": 3, "pageSize": 50}
    },
    "Invoice": {"input": {"invoiceNumber": "DP000123"}},
    "Invoices": {"input": {"filter": SEED_INVOICES_FILTER, "pageIndex": 3, "pageSize": 50}},
    "ReverseDnsRecord": {"input": {"ip": "123.213.231.132"}},
    "Server": {"input": SEED_SERVER},
    "Servers": {"input": {"filter": SEED_SERVERS_FILTER, "pageIndex": 3, "pageSize": 50}},
    "Subscription": {"input": {"name": "7"}},
    "Subscriptions": {
        "input": {"filter": SEED_SUBSCRIPTIONS_FILTER, "pageIndex": 987, "pageSize": 50}
    },
    "SupportRequest": {"input": {"id": 987}},
    # The example's pageSize, 987, is past the seed's own "maximum number of results per page
    # is 50" (a VALIDATION_FAILED): its filter and pageIndex are kept, with the maximum.
    "SupportRequests": {
        "input": {
            "filter": {"categories_in": ["ABUSE_REPORT"], "status": "CLOSED"},
            "pageIndex": 123,
            "pageSize": 50,
        }
    },
    # The example's "from" and "to" are the same instant, which the seed's own rule ("to"
    # after "from") refuses: its filter is kept, with the window of QUERY_VARIABLES.
    "Traffic": {"input": {**QUERY_VARIABLES["Traffic"]["input"], "filter": SEED_TRAFFIC_FILTER}},
}
SEED_MUTATION_VARIABLES = {
    "ChangeServerIpmiPassword": {"input": {"password": "1234567890abcdef", "server": SEED_SERVER}},
    "CreateSupportRequest": {
        "input": {
            "destinations": ["162.151.210.193"],
            "message": "Server cannot connect to Chicago internet exchanges. Please check the "
            "network configuration. Further details...",
            "priority": "HIGH",
            "servers": ["DP-12345", "DP-12346"],
            "sources": ["Prague", "Chicage"],
            "subject": "HARDWARE_ISSUE",
        }
    },
    "PerformServerPowerAction": {"input": {"action": "CYCLE", "server": SEED_SERVER}},
    "SetReverseDnsRecord": {"input": {"hostname": "example.com.", "ip": "123.213.231.132"}},
    "SetServerAlias": {"input": {"alias": "Load Balancer 01", "server": SEED_SERVER}},
    "SetServerBootDevice": {"input": {"bootDevice": "BIOS", "server": SEED_SERVER}},
    "SetServerPrimaryIp": {"input": {"ip": "192.168.0.1", "server": SEED_SERVER}},
    "SetServerTag": {"input": {"key": "env", "server": SEED_SERVER, "value": "production"}},
    "SetServerTags": {"input": {"server": SEED_SERVER, "tags": [SEED_TAG]}},
    "SupportRequestReply": {
        "input": {"id": 123, "message": "Can you also upgrade the storage to 24 8TB NVMe SSDs?"}
    },
}


def start_demo() -> tuple[GatewayClient, InProcessGateway, object]:
    """The embedded demo (every emulator, one provider of each kind) in process."""
    backends = start_demo_backends(size=40)
    server = InProcessGateway(create_app(backends.settings, demo_token=DEMO_FULL_ACCESS)).start()
    return GatewayClient(server), server, backends


@pytest.fixture(scope="module")
def demo() -> Iterator[GatewayClient]:
    """The demo, read only."""
    client, server, backends = start_demo()
    yield client
    server.stop()
    stop_soon([backends])


@pytest.fixture(scope="module")
def demo_for_writes() -> Iterator[GatewayClient]:
    """A second demo for the mutation examples, which keep every example entity in place."""
    client, server, backends = start_demo()
    yield client
    server.stop()
    stop_soon([backends])


def test_the_seed_values_cover_every_operation():
    assert set(SEED_QUERY_VARIABLES) == set(QUERY_VARIABLES)
    assert set(SEED_MUTATION_VARIABLES) == set(MUTATION_VARIABLES)


@pytest.mark.parametrize("operation", sorted(SEED_QUERY_VARIABLES))
def test_seed_query_example_with_the_seeds_values_runs_on_the_demo(demo, operation):
    data = demo.data(EXAMPLES[operation], SEED_QUERY_VARIABLES[operation], token=DEMO_FULL_ACCESS)
    assert data[operation[0].lower() + operation[1:]] is not None


@pytest.mark.parametrize("operation", sorted(SEED_MUTATION_VARIABLES))
def test_seed_mutation_example_with_the_seeds_values_runs_on_the_demo(demo_for_writes, operation):
    variables = SEED_MUTATION_VARIABLES[operation]
    data = demo_for_writes.data(EXAMPLES[operation], variables, token=DEMO_FULL_ACCESS)
    assert data[operation[0].lower() + operation[1:]] is not None


@pytest.mark.parametrize(
    "key",
    [*({name: value} for name, value in SEED_SERVER.items()), SEED_SERVER, {"ip": "192.168.0.1"}],
    ids=lambda key: "+".join(key),
)
def test_each_seed_server_key_names_one_server_of_the_demo(demo, key):
    # 192.168.0.1 is SetServerPrimaryIpInput's example: one of DP-12345's addresses.
    data = demo.data(
        "query S($input: ServerInput!) { server(input: $input) { name provider { kind } } }",
        {"input": key},
        token=DEMO_FULL_ACCESS,
    )
    assert data["server"] == {"name": "DP-12345", "provider": {"kind": "DATAPACKET"}}


def _names(demo: GatewayClient, field: str, input_type: str, filter: dict, key: str) -> list:
    document = (
        f"query L($input: {input_type}) {{ {field}(input: $input) "
        f"{{ entriesTotalCount entries {{ {key} }} }} }}"
    )
    page = demo.data(document, {"input": {"filter": filter}}, token=DEMO_FULL_ACCESS)[field]
    assert page["entriesTotalCount"] == len(page["entries"])
    return [entry[key] for entry in page["entries"]]


@pytest.mark.parametrize(
    "field",
    ["alias_in", "ip_in", "ipmiIp_in", "name_in", "tag_value", "tags_each", "tags_in"],
)
def test_each_seed_server_filter_value_selects_one_server_of_the_demo(demo, field):
    filter = {field: SEED_SERVERS_FILTER[field]}
    assert _names(demo, "servers", "PaginatedServersInput", filter, "name") == ["DP-12345"]


def test_the_seeds_other_example_entities_are_one_each_in_the_demo(demo):
    instant = {"name_in": ["DP-12345"]}
    assert _names(
        demo, "instantDeliveryServers", "PaginatedInstantDeliveryServersInput", instant, "name"
    ) == ["DP-12345"]
    invoices = {"invoiceNumber_in": ["DP000123"]}
    assert _names(demo, "invoices", "PaginatedInvoicesInput", invoices, "invoiceNumber") == [
        "DP000123"
    ]
    subscriptions = {"name_in": ["7"]}
    assert _names(demo, "subscriptions", "PaginatedSubscriptionsInput", subscriptions, "name") == [
        "7"
    ]
    tickets = demo.data(
        "{ supportRequests(input: {pageSize: 50}) { id } }", token=DEMO_FULL_ACCESS
    )["supportRequests"]
    ids = [ticket["id"] for ticket in tickets]
    assert ids.count(123) == ids.count(987) == 1
