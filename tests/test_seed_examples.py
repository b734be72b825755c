"""Every query and mutation DataPacket's API documentation shows runs as written against FleetQL.

The documents are the documentation's own examples, one ``<OperationName>.graphql`` each under
``tests/fixtures/datapacket/`` (verbatim; origin in ``tests/fixtures/README.md``). Their
``...XFragment`` spreads are never defined there, so each is expanded here to the fields of
type X as the schema gives them (nested objects two levels deep).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from graphql import GraphQLList, GraphQLNonNull, GraphQLObjectType, GraphQLSchema, build_schema

from schema import schema_sdl

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
