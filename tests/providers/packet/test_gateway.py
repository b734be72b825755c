"""Packet through the whole gateway: listing next to DataPacket, mutations, errors, call counts."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest

from emulators.kit import EmulatorServer
from emulators.packet.app import create_app
from tests.conftest import (
    GatewayClient,
    aliased_lookups,
    datapacket_config,
    error_codes,
    start_gateway,
)
from tests.providers.packet.conftest import packet_table
from tests.servers import serving

SERVERS = """
query($input: PaginatedServersInput) { servers(input: $input) {
  entriesTotalCount
  entries {
    name alias hostname powerStatus statusV2 status uptime billing { subscriptionItem { price } }
    provider { id kind }
    location { name short region }
    hardware { cpus { count name } rams { count size } hdds { count storage { size type } } }
    network { hasBgp ddosShieldLevel uplinkCapacity ipmi { ip username }
      ipAddresses { ip cidr type isPrimary netMask gateway network broadcast isBgpPrefix } }
    system { os { name } raid }
    tags { key value }
  }
} }
"""
POWER = """mutation($name: String!, $action: PowerAction!) {
  performServerPowerAction(input: {server: {name: $name}, action: $action}) {
    server { name powerStatus statusV2 } } }"""


@pytest.fixture(scope="module")
def combined(
    packet_kind: None, datapacket_upstream: EmulatorServer
) -> Iterator[tuple[GatewayClient, EmulatorServer]]:
    """DataPacket and Packet (Equinix base path) behind one gateway; read-only tests."""
    with serving(create_app(size=30, seed=2, base_path="/metal/v1")) as packet:
        gateway = start_gateway(
            [datapacket_config(datapacket_upstream), packet_table(packet, "/metal/v1")]
        )
        yield GatewayClient(gateway), packet
        gateway.stop()


def servers(client: GatewayClient, **filters) -> dict:
    return client.data(SERVERS, {"input": {"filter": filters}})["servers"]


def actions(packet: EmulatorServer) -> int:
    """Power actions the emulator received (faults answer before ``operation`` is known)."""
    return sum(
        1
        for entry in packet.app.state.emulator.request_log.entries()
        if entry.method == "POST" and entry.path.endswith("/actions")
    )


def packet_names(packet: EmulatorServer) -> list[str]:
    fleet = packet.app.state.fleet
    return [f"PK-{d['id']}" for p in fleet.project_ids for d in fleet.project_devices(p)]


def test_packet_servers_appear_after_datapacket_ones(combined) -> None:
    client, packet = combined
    everything = servers(client)
    only_packet = servers(client, provider_in=["pk"])
    only_dp = servers(client, provider_in=["dp"])
    assert everything["entriesTotalCount"] == 40 + 30
    assert only_packet["entriesTotalCount"] == 30
    assert only_dp["entriesTotalCount"] == 40
    assert [s["name"] for s in only_packet["entries"]] == packet_names(packet)
    assert {s["provider"]["kind"] for s in only_packet["entries"]} == {"PACKET"}


def test_packet_servers_are_filled_from_the_emulator(combined) -> None:
    client, packet = combined
    entries = servers(client, provider_in=["pk"])["entries"]
    running = next(s for s in entries if s["powerStatus"] == "ON")
    device = packet.app.state.fleet.devices[running["name"][3:]]
    assert running["hostname"] == device["hostname"]
    assert running["statusV2"] == "ACTIVE"
    assert running["system"]["os"]["name"] == device["operating_system"]["name"]
    assert running["hardware"]["cpus"] and running["hardware"]["rams"]
    assert [a["ip"] for a in running["network"]["ipAddresses"]] == [
        a["address"] for a in device["ip_addresses"]
    ]
    assert sum(a["isPrimary"] for a in running["network"]["ipAddresses"]) == 1
    assert running["network"]["ipmi"] == {"ip": None, "username": None}
    assert running["uptime"] is None and running["billing"] is None
    assert {s["location"]["short"] for s in entries} >= {"AMS", "FRA", "LON", "NYC", "SIN"}
    assert any(s["network"]["hasBgp"] for s in entries)
    assert any(s["tags"] for s in entries)


def test_filters_work_across_providers(combined) -> None:
    client, _ = combined
    amsterdam = servers(client, location_in=["Amsterdam"])["entries"]
    assert {s["provider"]["id"] for s in amsterdam} == {"dp", "pk"}
    off = servers(client, provider_in=["pk"], powerStatus_in=["OFF"])["entries"]
    assert off and {s["powerStatus"] for s in off} == {"OFF"}
    tagged = servers(client, provider_in=["pk"], tag_value=[{"key": "env", "value": "prod"}])
    assert all({"key": "env", "value": "prod"} in s["tags"] for s in tagged["entries"])


def test_server_by_name_is_one_listing_per_project(packet_gateway) -> None:
    client, packet = packet_gateway(size=12)
    names = packet_names(packet)[:5]
    log = packet.app.state.emulator.request_log
    data = client.data(aliased_lookups(names, "name"))
    assert [data[f"s{i}"]["name"] for i in range(5)] == names
    assert log.count(operation="findProjectDevices") == 2


def test_unsupported_operations_make_no_upstream_call(combined) -> None:
    client, packet = combined
    name = packet_names(packet)[0]
    log = packet.app.state.emulator.request_log
    log.clear()
    body = client.query(POWER, {"name": name, "action": "SOFT"})
    assert error_codes(body) == ["NOT_SUPPORTED"]
    assert body["errors"][0]["extensions"]["provider"] == "pk"
    body = client.query(
        "mutation($n: String!) { changeServerIpmiPassword(input: "
        '{server: {name: $n}, password: "abcdefgh123"}) { server { name } } }',
        {"n": name},
    )
    assert error_codes(body) == ["NOT_SUPPORTED"]
    assert log.entries() == []


def test_mutations_end_to_end(packet_gateway) -> None:
    client, packet = packet_gateway(size=12, power_delay=0.2)
    packet.app.state.emulator.faults.cache_control = "no-store"  # let the poll see the change
    devices = packet.app.state.fleet.devices
    device = next(d for d in devices.values() if d["state"] == "active")
    name = f"PK-{device['id']}"
    result = client.data(POWER, {"name": name, "action": "OFF"})
    assert result["performServerPowerAction"]["server"]["name"] == name
    deadline = time.monotonic() + 10
    query = f'{{ server(input: {{name: "{name}"}}) {{ powerStatus }} }}'
    while client.data(query)["server"]["powerStatus"] != "OFF":
        assert time.monotonic() < deadline, "the power action never landed"
        time.sleep(0.05)
    alias = client.data(
        'mutation($n: String!) { setServerAlias(input: {server: {name: $n}, alias: "db-1"}) '
        "{ server { alias } } }",
        {"n": name},
    )
    assert alias["setServerAlias"]["server"]["alias"] == "db-1"
    assert client.data(
        'mutation($n: String!) { setServerTag(input: {server: {name: $n}, key: "env", '
        'value: "prod"}) }',
        {"n": name},
    )["setServerTag"]
    assert "env=prod" in device["tags"]
    assert client.data(
        "mutation($n: String!) { setServerTags(input: {server: {name: $n}, "
        'tags: [{key: "role", value: "db"}]}) }',
        {"n": name},
    )["setServerTags"]
    assert device["tags"] == ["role=db"]
    boot = client.data(
        "mutation($n: String!) { setServerBootDevice(input: {server: {name: $n}, "
        "bootDevice: PXE}) { server { name } } }",
        {"n": name},
    )
    assert boot["setServerBootDevice"]["server"]["name"] == name
    assert device["always_pxe"] is True
    by_alias = client.data('{ server(input: {alias: "db-1"}) { name } }')
    assert by_alias["server"]["name"] == name


def test_a_missing_device_is_not_found(packet_gateway) -> None:
    client, _ = packet_gateway(size=4)
    body = client.query(POWER, {"name": "PK-00000000-0000-4000-8000-000000000000", "action": "ON"})
    assert error_codes(body) == ["NOT_FOUND"]


def test_a_slow_power_action_is_sent_once(packet_gateway) -> None:
    client, packet = packet_gateway(size=12, table={"read_timeout": 0.3})
    device = next(d for d in packet.app.state.fleet.devices.values() if d["state"] == "active")
    packet.app.state.emulator.faults.latency_ms = 1500
    body = client.query(POWER, {"name": f"PK-{device['id']}", "action": "RESET"})
    assert error_codes(body) == ["PROVIDER_UNAVAILABLE"]
    assert body["errors"][0]["extensions"]["outcome"] == "unknown"
    assert actions(packet) == 1


def test_a_failed_power_action_is_not_retried(packet_gateway) -> None:
    client, packet = packet_gateway(size=12)
    device = next(d for d in packet.app.state.fleet.devices.values() if d["state"] == "active")
    packet.app.state.emulator.faults.error_rate = 1.0
    body = client.query(POWER, {"name": f"PK-{device['id']}", "action": "OFF"})
    assert error_codes(body) == ["PROVIDER_UNAVAILABLE"]
    assert body["errors"][0]["extensions"]["outcome"] == "unknown"
    assert actions(packet) == 1
    assert device["state"] == "active"


def test_concurrent_tag_mutations_through_the_gateway_keep_every_tag(packet_gateway) -> None:
    client, packet = packet_gateway(size=4)
    device = next(iter(packet.app.state.fleet.devices.values()))
    device["tags"] = []
    packet.app.state.emulator.faults.latency_ms = 20
    mutation = (
        "mutation($n: String!, $k: String!) { setServerTag(input: {server: {name: $n}, "
        'key: $k, value: "1"}) }'
    )

    async def run() -> None:
        await asyncio.gather(
            *(
                asyncio.to_thread(client.data, mutation, {"n": f"PK-{device['id']}", "k": f"k{i}"})
                for i in range(4)
            )
        )

    asyncio.run(run())
    assert sorted(device["tags"]) == ["k0=1", "k1=1", "k2=1", "k3=1"]


def test_instant_delivery_lists_packet_stock(packet_gateway) -> None:
    client, _ = packet_gateway(size=4)
    data = client.data(
        "{ instantDeliveryServers(input: {pageSize: 50}) "
        "{ entriesTotalCount entries { name location { short } uplinkCapacity "
        "hardware { cpus { name } } } } }"
    )["instantDeliveryServers"]
    assert data["entriesTotalCount"] > 0
    assert all(e["name"].startswith("PK-") for e in data["entries"])


def test_a_tag_write_reads_the_device_past_the_cache(packet_gateway) -> None:
    client, packet = packet_gateway(size=12)
    device = next(d for d in packet.app.state.fleet.devices.values() if d["state"] == "active")
    name = f"PK-{device['id']}"
    client.data(POWER, {"name": name, "action": "OFF"})  # its read-back of the device is cached
    device["tags"] = ["changed=elsewhere"]
    mutation = (
        'mutation($n: String!) { setServerTag(input: {server: {name: $n}, key: "k", value: "v"}) }'
    )
    assert client.data(mutation, {"n": name})["setServerTag"]
    assert device["tags"] == ["changed=elsewhere", "k=v"]


@pytest.mark.parametrize("paging", ["next_on_last", "spec"])
def test_a_next_link_on_the_last_page_is_not_followed(packet_kind: None, paging: str) -> None:
    # Spec, Meta: every field is optional, so an answer may keep linking a next page while
    # last_page and total say the list ended. The deadline only bounds a walk that would not end.
    with serving(create_app(size=16, seed=2, page_cap=5, paging=paging)) as packet:
        gateway = start_gateway([packet_table(packet)], request_deadline=10)
        try:
            page = servers(GatewayClient(gateway))
        finally:
            gateway.stop()
        lists = [
            e
            for e in packet.app.state.emulator.request_log.entries()
            if e.operation == "findProjectDevices"
        ]
    assert page["entriesTotalCount"] == 16
    # 8 devices per project at 5 per page: pages 1 and 2 of each, never a third.
    assert sorted(e.query["page"] for e in lists) == ["1", "1", "2", "2"]
