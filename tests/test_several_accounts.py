"""Two DataPacket accounts at once: one merged fleet, and one account failing alone."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from emulators.datapacket import app as emulator
from emulators.kit.server import EmulatorServer
from tests.conftest import GatewayClient, datapacket_config, error_codes, start_gateway
from tests.servers import stop_soon


@pytest.fixture
def two_accounts() -> Iterator[tuple[GatewayClient, EmulatorServer, EmulatorServer]]:
    first = EmulatorServer(emulator.create_app(size=40, seed=1)).start()
    second = EmulatorServer(emulator.create_app(size=30, seed=2, examples=False)).start()
    gateway = start_gateway([datapacket_config(first), datapacket_config(second, id="dp-second")])
    yield GatewayClient(gateway), first, second
    gateway.stop()
    stop_soon([first, second])


def page(client: GatewayClient, index: int, size: int, **filter: object) -> dict:
    return client.data(
        "query P($input: PaginatedServersInput) { servers(input: $input) "
        "{ entriesTotalCount entries { name provider { id } } } }",
        {"input": {"pageIndex": index, "pageSize": size, "filter": filter}},
    )["servers"]


def test_fleets_merge_in_configuration_order_with_exact_totals(two_accounts):
    client, _, _ = two_accounts
    everything = page(client, 0, 50)["entries"] + page(client, 1, 50)["entries"]
    assert len(everything) == 70
    providers = [server["provider"]["id"] for server in everything]
    assert providers == ["dp"] * 40 + ["dp-second"] * 30
    straddling = page(client, 3, 12)
    assert straddling["entriesTotalCount"] == 70
    assert straddling["entries"] == everything[36:48]


def test_provider_in_limits_the_listing(two_accounts):
    client, _, _ = two_accounts
    only_second = page(client, 0, 50, provider_in=["dp-second"])
    assert only_second["entriesTotalCount"] == 30
    assert {s["provider"]["id"] for s in only_second["entries"]} == {"dp-second"}


def test_each_server_is_found_in_its_own_account(two_accounts):
    client, _, _ = two_accounts
    second_name = page(client, 0, 1, provider_in=["dp-second"])["entries"][0]["name"]
    data = client.data(
        f'{{ a: server(input: {{name: "DP-12345"}}) {{ provider {{ id }} }} '
        f'b: server(input: {{name: "{second_name}"}}) {{ provider {{ id }} }} }}'
    )
    assert data == {"a": {"provider": {"id": "dp"}}, "b": {"provider": {"id": "dp-second"}}}


def test_one_account_down_leaves_the_other_answering(two_accounts):
    client, first, second = two_accounts
    second.app.state.emulator.faults.error_rate = 1.0
    body = client.query("{ servers { entriesTotalCount entries { name } } }")
    assert body["data"]["servers"]["entriesTotalCount"] == 40
    assert error_codes(body) == ["PROVIDER_UNAVAILABLE"]
    assert body["errors"][0]["extensions"]["provider"] == "dp-second"
    assert body["errors"][0]["path"] == ["servers"]
    reachable = client.data("{ providers { id reachable } }")["providers"]
    assert reachable == [{"id": "dp", "reachable": True}, {"id": "dp-second", "reachable": False}]
    log = first.app.state.emulator.request_log
    log.clear()
    power = client.data(
        'mutation { performServerPowerAction(input: {server: {name: "DP-12345"}, action: CYCLE})'
        " { server { name } } }"
    )
    assert power == {"performServerPowerAction": {"server": {"name": "DP-12345"}}}
    assert log.count(operation="performServerPowerAction") == 1
    # Found, with a warning: the alias may also exist on the account that did not answer.
    found = client.query('{ server(input: {alias: "Load Balancer 01"}) { name } }')
    assert found["data"] == {"server": {"name": "DP-12345"}}
    assert error_codes(found) == ["PROVIDER_UNAVAILABLE"]
    assert found["errors"][0]["path"] == ["server"]


def test_every_account_down_fails_the_field(two_accounts):
    client, first, second = two_accounts
    first.app.state.emulator.faults.error_rate = 1.0
    second.app.state.emulator.faults.error_rate = 1.0
    body = client.query("{ servers { entriesTotalCount } }")
    assert body["data"] is None
    assert error_codes(body) == ["PROVIDER_UNAVAILABLE"]


def test_locations_are_merged_and_de_duplicated(two_accounts):
    client, _, _ = two_accounts
    locations = client.data("{ locations { name region short } }")["locations"]
    keys = [(loc["region"], loc["name"]) for loc in locations]
    assert keys == sorted(set(keys))
    assert {"name": "Amsterdam", "region": "Europe", "short": "AMS"} in locations
    assert {"name": "London", "region": "Europe", "short": "LON"} in locations


def test_servers_in_billing_data_name_the_account_that_bills_them(two_accounts):
    client, first, second = two_accounts
    names = {
        provider: {server["name"] for server in account.app.state.fleet.servers}
        for provider, account in (("dp", first), ("dp-second", second))
    }
    item = "subscriptionItemDetail { server { name provider { id } } }"
    listed = client.data(f"{{ subscriptions {{ entries {{ subscriptionItems {{ {item} }} }} }} }}")[
        "subscriptions"
    ]["entries"]
    servers = [
        entry["subscriptionItemDetail"]["server"]
        for subscription in listed
        for entry in subscription["subscriptionItems"]
        if entry["subscriptionItemDetail"]["server"] is not None
    ]
    # Both accounts' servers are named DP-…: only the account that answered can tell whose.
    billed_by = {server["provider"]["id"] for server in servers}
    assert billed_by == {"dp", "dp-second"}
    assert all(server["name"] in names[server["provider"]["id"]] for server in servers)
