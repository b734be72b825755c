"""Filter values a provider cannot hold match nothing there and are never sent to it.

FleetQL's schema adds enum members to DataPacket's (README "Compatibility", e.g. ``Currency.AUD``
for Mammoth's invoices). DataPacket's API refuses them, so forwarding one would fail a healthy
provider and lose its matching data; ``providers.datapacket.adapter.upstream_filter`` leaves them
out, and a filter left with none of its values makes no call at all.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from graphql import GraphQLEnumType, build_schema, get_named_type

from emulators.datapacket import app as datapacket_emulator
from emulators.kit.server import EmulatorServer
from emulators.mammoth import app as mammoth_emulator
from providers.datapacket.adapter import UPSTREAM_ENUM_VALUES, upstream_filter
from tests.conftest import GatewayClient, datapacket_config, start_gateway
from tests.providers.mammoth.conftest import provider_table
from tests.servers import stop_soon

ROOT = Path(__file__).resolve().parents[1]
INVOICES = """query($filter: InvoicesInput) {
  invoices(input: {pageSize: 50, filter: $filter}) {
    entriesTotalCount entries { invoiceNumber currency }
  }
}"""


def test_the_accepted_values_are_datapacket_s_own_enums_for_every_forwarded_filter() -> None:
    upstream = build_schema((ROOT / "schema/datapacket.graphql").read_text())
    served = build_schema((ROOT / "schema.graphql").read_text())
    # Every filter input of a root field the adapter forwards, as DataPacket's schema has it.
    forwarded = {
        get_named_type(get_named_type(arg.type).fields["filter"].type).name
        for field in upstream.query_type.fields.values()
        for arg in field.args.values()
        if "filter" in getattr(get_named_type(arg.type), "fields", {})
    }
    assert forwarded == set(UPSTREAM_ENUM_VALUES)
    added = set()
    for input_type in forwarded:
        enums = {
            name: get_named_type(field.type)
            for name, field in upstream.type_map[input_type].fields.items()
            if isinstance(get_named_type(field.type), GraphQLEnumType)
        }
        table = UPSTREAM_ENUM_VALUES[input_type]
        assert set(table) == set(enums), input_type
        for name, enum in enums.items():
            assert table[name] == set(enum.values), f"{input_type}.{name}"
            served_enum = served.type_map[enum.name]
            added |= {f"{enum.name}.{v}" for v in set(served_enum.values) - table[name]}
    # What FleetQL's schema accepts beyond these is exactly its documented additions.
    assert added == {"Currency.AUD"}


@pytest.mark.parametrize(
    ("input_type", "given", "sent"),
    [
        ("InvoicesInput", {"currency_in": ["AUD", "EUR"]}, {"currency_in": ["EUR"]}),
        ("InvoicesInput", {"currency_in": ["AUD"]}, None),
        ("InvoicesInput", {"currency_in": []}, {"currency_in": []}),
        ("SubscriptionsInput", {"currency_in": ["AUD"], "name_in": ["x"]}, None),
        ("ServersInput", {"name_in": ["MC-1", "DP-2"]}, {"name_in": ["DP-2"]}),
        ("ServersInput", {"name_in": ["PK-1"], "powerStatus_in": ["ON"]}, None),
        ("SupportRequestsInput", {"status": "OPEN"}, {"status": "OPEN"}),
        ("TrafficServersInput", {"name_in": ["MC-7"]}, None),
    ],
)
def test_values_datapacket_cannot_hold_are_left_out(input_type, given, sent) -> None:
    assert upstream_filter(input_type, given) == sent


@pytest.fixture
def two_billers() -> Iterator[tuple[GatewayClient, EmulatorServer, EmulatorServer]]:
    """DataPacket (EUR, USD, GBP invoices) and Mammoth (AUD invoices) behind one gateway."""
    datapacket = EmulatorServer(datapacket_emulator.create_app(size=40, seed=1)).start()
    mammoth = EmulatorServer(mammoth_emulator.create_app(size=10, seed=1)).start()
    gateway = start_gateway([datapacket_config(datapacket), provider_table(mammoth)])
    yield GatewayClient(gateway), datapacket, mammoth
    gateway.stop()
    stop_soon([datapacket, mammoth])


def sent_to(upstream: EmulatorServer) -> list[dict]:
    return [entry.body for entry in upstream.app.state.emulator.request_log.entries()]


def test_invoices_in_aud_or_eur_come_from_both_providers(two_billers) -> None:
    client, datapacket, mammoth = two_billers
    euro = [i for i in datapacket.app.state.fleet.invoices if i["currency"] == "EUR"]
    aud = mammoth.app.state.fleet.invoices
    assert euro and aud
    invoices = client.data(INVOICES, {"filter": {"currency_in": ["AUD", "EUR"]}})["invoices"]
    assert invoices["entriesTotalCount"] == len(euro) + len(aud)
    assert {i["currency"] for i in invoices["entries"]} == {"EUR", "AUD"}
    bodies = sent_to(datapacket)
    assert [b["variables"]["input"]["filter"] for b in bodies] == [{"currency_in": ["EUR"]}]
    assert "AUD" not in json.dumps(bodies)


def test_a_filter_of_only_values_datapacket_cannot_hold_makes_no_datapacket_call(
    two_billers,
) -> None:
    client, datapacket, mammoth = two_billers
    invoices = client.data(INVOICES, {"filter": {"currency_in": ["AUD"]}})["invoices"]
    assert invoices["entriesTotalCount"] == len(mammoth.app.state.fleet.invoices)
    subscriptions = client.data(
        "{ subscriptions(input: {filter: {currency_in: [AUD]}}) { entriesTotalCount } }"
    )["subscriptions"]
    assert subscriptions == {"entriesTotalCount": 0}
    mammoth_name = f"MC-{next(iter(mammoth.app.state.fleet.servers))}"
    servers = client.data(
        "query($n: [String!]) { servers(input: {filter: {name_in: $n}}) "
        "{ entriesTotalCount entries { name } } }",
        {"n": [mammoth_name]},
    )["servers"]
    assert servers == {"entriesTotalCount": 1, "entries": [{"name": mammoth_name}]}
    assert sent_to(datapacket) == []
