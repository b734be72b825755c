"""DCImanager servers through the whole gateway, beside DataPacket, over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from emulators.datapacket.fleet import INSTANT_DELIVERY_STOCK
from emulators.dcimanager.app import ACCOUNTS, create_app
from emulators.kit import EmulatorServer
from providers.dcimanager.adapter import DciManagerProvider
from providers.registry import PROVIDER_KINDS
from tests.conftest import GatewayClient, datapacket_config, error_codes, start_gateway
from tests.servers import stop_soon

EMAIL, PASSWORD = next(iter(ACCOUNTS.items()))
SERVER_FIELDS = """
  name provider { id kind } hostname powerStatus statusV2 status
  location { name region short }
  network { ipmi { ip username } ipAddresses { ip cidr isPrimary type } uplinkCapacity }
  hardware { cpus { count name } } system { os { name } raid } tags { key } uptime billing {
    subscriptionItem { price } }
"""


def dci_config(upstream: EmulatorServer, **extra: Any) -> dict[str, Any]:
    """A ``[[providers]]`` table for a DCImanager emulator, logging in with email/password."""
    return {
        "id": "dci",
        "kind": "dcimanager",
        "base_url": upstream.url,
        "email": EMAIL,
        "password": PASSWORD,
        "retry_backoff": 0.001,
        **extra,
    }


@pytest.fixture(scope="module")
def registered() -> Iterator[None]:
    """Make the gateway know the kind until the registry line lands."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(PROVIDER_KINDS, DciManagerProvider.kind, DciManagerProvider)
        yield


@pytest.fixture(scope="module")
def fleet(registered, datapacket_upstream) -> Iterator[tuple[GatewayClient, EmulatorServer]]:
    """Gateway over DataPacket + DCImanager, for read-only tests."""
    upstream = EmulatorServer(create_app(size=30, seed=1)).start()
    gateway = start_gateway([datapacket_config(datapacket_upstream), dci_config(upstream)])
    yield GatewayClient(gateway), upstream
    gateway.stop()
    stop_soon([upstream])


@pytest.fixture
def writable(registered) -> Iterator[tuple[GatewayClient, EmulatorServer]]:
    """A private DCImanager emulator (actions land at once) behind its own gateway."""
    upstream = EmulatorServer(create_app(size=12, seed=1, power_delay=0)).start()
    gateway = start_gateway([dci_config(upstream)])
    yield GatewayClient(gateway), upstream
    gateway.stop()
    stop_soon([upstream])


def upstream_calls(upstream: EmulatorServer, operation: str) -> int:
    return upstream.app.state.emulator.request_log.count(operation=operation)


def test_servers_list_dcimanager_servers_with_ipmi_power_and_status(fleet):
    client, upstream = fleet
    upstream.app.state.emulator.request_log.clear()
    data = client.data(
        f"""{{ servers(input: {{pageSize: 50, filter: {{provider_in: ["dci"]}}}})
        {{ entriesTotalCount entries {{ {SERVER_FIELDS} }} }} }}"""
    )
    servers = data["servers"]
    assert servers["entriesTotalCount"] == 30
    first = servers["entries"][0]
    assert first["name"] == "DCI-1001"
    assert first["provider"] == {"id": "dci", "kind": "DCIMANAGER"}
    assert first["network"]["ipmi"] == {"ip": "10.1.0.2", "username": None}
    assert first["location"] == {"name": "Amsterdam", "region": "Europe", "short": "AMS"}
    assert first["system"]["raid"] == "UNKNOWN" and first["uptime"] is None
    assert {s["powerStatus"] for s in servers["entries"]} >= {"ON", "OFF"}
    assert {s["statusV2"] for s in servers["entries"]} >= {"ACTIVE", "UNREACHABLE"}
    assert upstream_calls(upstream, "server.list") == 1
    assert upstream_calls(upstream, "auth.token") <= 1


def test_a_city_lists_several_providers(fleet):
    client, _ = fleet
    data = client.data(
        '{ servers(input: {filter: {location_in: ["Amsterdam"]}}) '
        "{ entries { name provider { kind } location { short } } } }"
    )
    entries = data["servers"]["entries"]
    assert {e["provider"]["kind"] for e in entries} == {"DATAPACKET", "DCIMANAGER"}
    assert {e["location"]["short"] for e in entries} == {"AMS"}


def test_server_by_name_and_by_ipmi_ip(fleet):
    client, upstream = fleet
    upstream.app.state.emulator.request_log.clear()
    by_name = client.data('{ server(input: {name: "DCI-1004"}) { name network { ipmi { ip } } } }')
    assert upstream_calls(upstream, "server.get") == 1
    ipmi_ip = by_name["server"]["network"]["ipmi"]["ip"]
    by_ipmi = client.data(f'{{ server(input: {{ipmiIp: "{ipmi_ip}"}}) {{ name }} }}')
    assert by_ipmi["server"]["name"] == "DCI-1004"
    missing = client.query('{ server(input: {name: "DCI-999999"}) { name } }')
    assert error_codes(missing) == ["NOT_FOUND"]


def test_providers_lists_the_capabilities(fleet):
    client, _ = fleet
    data = client.data("{ providers { id kind capabilities } }")
    dci = next(p for p in data["providers"] if p["id"] == "dci")
    assert dci["kind"] == "DCIMANAGER"
    assert dci["capabilities"] == [
        "instantDeliveryServers",
        "performServerPowerAction",
        "servers",
    ]


def test_instant_delivery_shows_free_configurations(fleet):
    client, upstream = fleet
    free = [c for c in upstream.app.state.dci.fleet.configurations if c["free_server_count"]]
    everything = client.data("{ instantDeliveryServers { entriesTotalCount } }")
    data = client.data(
        '{ instantDeliveryServers(input: {filter: {name_in: ["DCI-i9-9900K-64Gb-2x1024NVMe"]}}) '
        "{ entriesTotalCount entries { name uplinkCapacity location { name } "
        "hardware { hdds { count storage { size type } } } } } }"
    )
    total = everything["instantDeliveryServers"]["entriesTotalCount"]
    assert total == INSTANT_DELIVERY_STOCK + len(free)
    (ours,) = data["instantDeliveryServers"]["entries"]
    assert ours["hardware"]["hdds"] == [{"count": 2, "storage": {"size": 1024, "type": "NVME"}}]
    assert ours["uplinkCapacity"] is None and ours["location"]["name"] == "Unknown"


def test_power_action_end_to_end_is_one_upstream_write(writable):
    client, upstream = writable
    data = client.data(
        'mutation { performServerPowerAction(input: {server: {name: "DCI-1001"}, action: OFF}) '
        "{ server { name powerStatus provider { kind } } } }"
    )
    assert data["performServerPowerAction"]["server"] == {
        "name": "DCI-1001",
        "powerStatus": "OFF",
        "provider": {"kind": "DCIMANAGER"},
    }
    entries = upstream.app.state.emulator.request_log.entries()
    assert [e.operation for e in entries if e.method == "POST" and e.operation != "auth.token"] == [
        "server.power_off"
    ]
    listed = client.data('{ server(input: {name: "DCI-1001"}) { powerStatus } }')
    assert listed["server"]["powerStatus"] == "OFF"


@pytest.mark.parametrize("action", ["CYCLE", "SOFT"])
def test_cycle_and_soft_answer_not_supported_without_upstream_calls(writable, action):
    client, upstream = writable
    body = client.query(
        "mutation { performServerPowerAction(input: "
        f'{{server: {{name: "DCI-1001"}}, action: {action}}}) {{ server {{ name }} }} }}'
    )
    assert error_codes(body) == ["NOT_SUPPORTED"]
    assert body["errors"][0]["extensions"]["provider"] == "dci"
    assert upstream.app.state.emulator.request_log.entries() == []


def test_mutations_it_lacks_answer_not_supported(writable):
    client, upstream = writable
    body = client.query(
        'mutation { setServerAlias(input: {server: {name: "DCI-1001"}, alias: "x"}) '
        "{ server { name } } }"
    )
    assert error_codes(body) == ["NOT_SUPPORTED"]
    assert upstream.app.state.emulator.request_log.entries() == []


def test_power_action_on_a_suspended_platform_is_not_repeated(writable):
    client, upstream = writable
    client.data('{ server(input: {name: "DCI-1002"}) { name } }')  # logs in first
    upstream.app.state.emulator.request_log.clear()
    upstream.app.state.dci.suspend(requests=1)
    body = client.query(
        'mutation { performServerPowerAction(input: {server: {name: "DCI-1002"}, action: ON}) '
        "{ server { name } } }"
    )
    assert error_codes(body) == ["PROVIDER_UNAVAILABLE"]
    assert body["errors"][0]["extensions"]["provider"] == "dci"
    assert upstream_calls(upstream, "server.power_on") == 1


def test_locations_include_the_installation_cities(fleet):
    client, _ = fleet
    data = client.data("{ locations { name region short } }")
    shorts = {location["short"] for location in data["locations"]}
    assert {"AMS", "FRA", "LON", "NYC", "SIN", "PRG"} <= shorts
