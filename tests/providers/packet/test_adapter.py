"""The Packet adapter against its emulator over loopback HTTP, counting upstream calls."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from emulators.kit import EmulatorServer
from errors import (
    NotAuthorized,
    NotFound,
    NotSupported,
    ProviderUnavailable,
    ValidationFailed,
)
from gateway.settings import ConfigError, settings_from_dict
from providers.base import ProviderConfig, ServerFilter, ServerKey
from providers.packet.adapter import PacketProvider
from providers.selection import Selection
from tests.conftest import TOKENS, listed
from tests.providers.packet.conftest import READ_ONLY_TOKEN, TOKEN

NAMES = Selection.of({"name": {}})
FULL = Selection.of(
    {
        "name": {},
        "alias": {},
        "location": {"name": {}, "short": {}, "region": {}},
        "network": {"hasBgp": {}, "ipAddresses": {"ip": {}}},
        "tags": {"key": {}, "value": {}},
        "powerStatus": {},
    }
)


def make_provider(server: EmulatorServer, base_path: str = "", **options: Any) -> PacketProvider:
    fleet = server.app.state.fleet
    credentials = {"token": options.pop("token", TOKEN)}
    read_timeout = options.pop("read_timeout", 5.0)
    config = ProviderConfig(
        id="pk",
        kind="packet",
        base_url=f"{server.url}{base_path}",
        prefix="PK",
        credentials=credentials,
        options={"project_ids": fleet.project_ids, **options},
        read_timeout=read_timeout,
    )
    return PacketProvider(config)


@pytest.fixture
async def packet(
    upstream: Callable[..., EmulatorServer],
) -> AsyncIterator[Callable[..., tuple[PacketProvider, EmulatorServer]]]:
    providers: list[PacketProvider] = []

    def make(base_path: str = "", options: dict | None = None, **emulator: Any):
        server = upstream(base_path=base_path, **emulator)
        provider = make_provider(server, base_path, **(options or {}))
        providers.append(provider)
        return provider, server

    yield make
    for provider in providers:
        await provider.close()


def log(server: EmulatorServer):
    return server.app.state.emulator.request_log


def device_ids(server: EmulatorServer) -> list[str]:
    fleet = server.app.state.fleet
    return [d["id"] for p in fleet.project_ids for d in fleet.project_devices(p)]


@pytest.mark.parametrize("base_path", ["", "/metal/v1"])
async def test_lists_every_device_across_upstream_pages(packet, base_path: str) -> None:
    provider, server = packet(base_path, size=23, page_cap=4)
    page = await listed(provider.list_servers(ServerFilter(), 0, 50, NAMES))
    assert page.total == 23
    assert [s["name"] for s in page.entries] == [f"PK-{i}" for i in device_ids(server)]
    entries = log(server).entries()
    # 12 devices per project at 4 per page: 3 pages each, asking per_page=1000 every time.
    assert log(server).count(operation="findProjectDevices") == 3 + 3
    assert {e.path.split("/devices")[0].startswith(f"{base_path}/projects/") for e in entries} == {
        True
    }
    assert {e.query["per_page"] for e in entries} == {"1000"}
    assert all("include" not in e.query for e in entries)


async def test_window_and_exact_total_after_filtering(packet) -> None:
    provider, server = packet(size=30)
    everything = (await listed(provider.list_servers(ServerFilter(), 0, 50, FULL))).entries
    amsterdam = [s for s in everything if s["location"]["short"] == "AMS"]
    page = await listed(
        provider.list_servers(ServerFilter(location_in=("amsterdam",)), 1, 2, NAMES)
    )
    assert page.total == len(amsterdam)
    assert [s["name"] for s in page.entries] == [s["name"] for s in amsterdam[1:3]]


async def test_bgp_sessions_are_read_only_when_has_bgp_is_selected(packet) -> None:
    provider, server = packet(size=30)
    await listed(provider.list_servers(ServerFilter(), 0, 50, NAMES))
    assert log(server).count(operation="findProjectBgpSessions") == 0
    page = await listed(provider.list_servers(ServerFilter(), 0, 50, FULL))
    assert log(server).count(operation="findProjectBgpSessions") == 2  # one per project
    fleet = server.app.state.fleet
    with_up = {
        d
        for d, sessions in fleet.bgp_sessions.items()
        if any("up" in s["status"] for s in sessions)
    }
    assert {s["name"][3:] for s in page.entries if s["network"]["hasBgp"]} == with_up
    assert with_up, "the seeded fleet should have established sessions"


async def test_a_required_tag_is_pushed_down(packet) -> None:
    provider, server = packet(size=30)
    page = await listed(
        provider.list_servers(ServerFilter(tag_value=(("env", "prod"),)), 0, 50, FULL)
    )
    assert all({"key": "env", "value": "prod"} in s["tags"] for s in page.entries)
    assert page.total > 0
    lists = [e for e in log(server).entries() if e.operation == "findProjectDevices"]
    assert {e.query.get("tag") for e in lists} == {"env=prod"}


async def test_organizations_list_each_device_once(upstream) -> None:
    server = upstream(size=12)
    fleet = server.app.state.fleet
    provider = make_provider(server, organization_ids=[fleet.organization["id"]])
    try:
        page = await listed(provider.list_servers(ServerFilter(), 0, 50, FULL))
    finally:
        await provider.close()
    assert page.total == 12
    assert log(server).count(operation="findOrganizationDevices") == 1


async def test_lookups_by_name_alias_ip_and_ipmi(packet) -> None:
    provider, server = packet(size=20)
    servers = (await listed(provider.list_servers(ServerFilter(), 0, 50, FULL))).entries
    target = next(s for s in servers if s["alias"])
    found = await provider.servers_by_name([target["name"], "PK-nope", "DP-1"], NAMES)
    assert list(found) == [target["name"]]
    by_alias = await provider.find_servers(ServerKey(alias=target["alias"]), NAMES)
    assert target["name"] in [s["name"] for s in by_alias]
    ip = target["network"]["ipAddresses"][0]["ip"]
    assert [s["name"] for s in await provider.find_servers(ServerKey(ip=ip), NAMES)] == [
        target["name"]
    ]
    log(server).clear()
    assert await provider.find_servers(ServerKey(ipmiIp="10.0.0.1"), NAMES) == []
    assert log(server).entries() == []


async def test_errors_name_the_provider(packet) -> None:
    provider, server = packet(size=4, options={"token": "wrong"})
    with pytest.raises(NotAuthorized) as refused:
        await listed(provider.list_servers(ServerFilter(), 0, 50, NAMES))
    assert refused.value.provider == "pk"
    assert "wrong" not in refused.value.message

    provider, server = packet(size=4)
    with pytest.raises(NotFound):
        await provider.set_server_alias("PK-00000000-0000-4000-8000-000000000000", "x", NAMES)
    server.app.state.emulator.faults.error_status = 502
    server.app.state.emulator.faults.error_rate = 1.0
    with pytest.raises(ProviderUnavailable) as failed:
        await listed(provider.list_servers(ServerFilter(), 0, 50, NAMES))
    assert failed.value.extensions["provider"] == "pk"
    server.app.state.emulator.faults.error_rate = 0.0
    server.app.state.emulator.faults.malformed = True
    with pytest.raises(ProviderUnavailable):
        await listed(provider.list_servers(ServerFilter(), 0, 50, NAMES))


async def test_a_refused_state_change_is_a_validation_error(packet) -> None:
    provider, server = packet(size=30)
    inactive = next(d for d in server.app.state.fleet.devices.values() if d["state"] == "inactive")
    with pytest.raises(ValidationFailed) as invalid:
        await provider.perform_power_action(f"PK-{inactive['id']}", "OFF", NAMES)
    assert invalid.value.extensions["field"] == "action"


async def test_a_read_only_upstream_token_cannot_write(packet) -> None:
    provider, server = packet(size=4, options={"token": READ_ONLY_TOKEN})
    name = f"PK-{device_ids(server)[0]}"
    with pytest.raises(NotAuthorized):
        await provider.set_server_alias(name, "x", NAMES)


async def test_power_actions_and_their_upstream_types(packet) -> None:
    provider, server = packet(size=30, power_delay=30)
    devices = server.app.state.fleet.devices.values()
    active = [d["id"] for d in devices if d["state"] == "active"]
    result = await provider.perform_power_action(f"PK-{active[0]}", "OFF", FULL)
    assert result["powerStatus"] == "UNKNOWN"  # powering_off until the delay has passed
    await provider.perform_power_action(f"PK-{active[1]}", "RESET", NAMES)
    await provider.perform_power_action(f"PK-{active[2]}", "CYCLE", NAMES)
    with pytest.raises(NotSupported):
        await provider.perform_power_action(f"PK-{active[3]}", "SOFT", NAMES)
    actions = [e.body for e in log(server).entries() if e.operation == "performAction"]
    assert actions == [{"type": "power_off"}, {"type": "reboot"}, {"type": "reboot"}]


async def test_boot_device_alias_and_tags(packet) -> None:
    provider, server = packet(size=4)
    device_id = device_ids(server)[0]
    name = f"PK-{device_id}"
    device = server.app.state.fleet.devices[device_id]
    await provider.set_server_boot_device(name, "PXE", NAMES)
    assert device["always_pxe"] is True
    await provider.set_server_boot_device(name, "DISK", NAMES)
    assert device["always_pxe"] is False
    log(server).clear()
    with pytest.raises(NotSupported):
        await provider.set_server_boot_device(name, "BIOS", NAMES)
    assert log(server).entries() == []
    assert (await provider.set_server_alias(name, "db-primary", FULL))["alias"] == "db-primary"
    assert device["description"] == "db-primary"
    assert (await provider.set_server_alias(name, None, FULL))["alias"] is None
    device["tags"] = ["k8s", "env=staging"]
    assert await provider.set_server_tag(name, "env", "prod")
    assert device["tags"] == ["k8s", "env=prod"]
    assert await provider.set_server_tag(name, "k8s", None)
    assert device["tags"] == ["env=prod"]
    assert await provider.set_server_tags(name, [("a", "1"), ("b", "")])
    assert device["tags"] == ["a=1", "b"]


async def test_concurrent_tag_writes_never_lose_one(packet) -> None:
    provider, server = packet(size=4)
    device_id = device_ids(server)[0]
    server.app.state.fleet.devices[device_id]["tags"] = []
    server.app.state.emulator.faults.latency_ms = 20
    await asyncio.gather(
        *(provider.set_server_tag(f"PK-{device_id}", f"k{i}", str(i)) for i in range(5))
    )
    assert sorted(server.app.state.fleet.devices[device_id]["tags"]) == [
        f"k{i}={i}" for i in range(5)
    ]
    assert log(server).count(operation="updateDevice") == 5


async def test_instant_delivery_reports_available_pairs_only(packet) -> None:
    provider, server = packet(size=4)
    fleet = server.app.state.fleet
    page = await provider.list_instant_delivery_servers({}, 0, 500, NAMES)
    in_stock = {
        f"PK-{facility}-{plan}"
        for facility, plans in fleet.capacity.items()
        for plan, level in plans.items()
        if level != "unavailable"
    }
    assert {entry["name"] for entry in page.entries} == in_stock
    assert page.total == len(in_stock)
    some = page.entries[0]
    assert await provider.instant_delivery_server(some["name"], NAMES) == some
    with pytest.raises(NotFound):
        await provider.instant_delivery_server("PK-nowhere-c3.small.x86", NAMES)
    london = await provider.list_instant_delivery_servers({"location_in": ["LON"]}, 0, 50, NAMES)
    assert {e["location"]["name"] for e in london.entries} <= {"London"}


@pytest.mark.parametrize(
    ("options", "problem"),
    [
        ({}, "project_ids"),
        ({"project_ids": []}, "project_ids"),
        ({"project_ids": "abc"}, "project_ids"),
        ({"organization_ids": [""]}, "organization_ids"),
    ],
)
def test_config_problems(options: dict, problem: str) -> None:
    with pytest.raises(ConfigError, match=rf"^<dict>: providers\[0\]\.{problem}: "):
        settings_from_dict(packet_settings({"token": "t", **options}))


def test_config_accepts_projects_or_organizations() -> None:
    settings_from_dict(packet_settings({"token": "t", "project_ids": ["p"]}))
    settings_from_dict(packet_settings({"token": "t", "organization_ids": ["o"]}))
    with pytest.raises(ConfigError, match=r"^<dict>: providers\[0\]\.token: is required$"):
        settings_from_dict(packet_settings({"project_ids": ["p"]}))


def packet_settings(keys: dict[str, Any]) -> dict[str, Any]:
    """A configuration with one Packet table of ``keys``."""
    return {"providers": [{"id": "pk", "kind": "packet", **keys}], "tokens": TOKENS}


def up_devices(server: EmulatorServer) -> set[str]:
    """The devices the emulator gives an established BGP session."""
    sessions = server.app.state.fleet.bgp_sessions
    return {d for d, found in sessions.items() if any("up" in s["status"] for s in found)}


def bgp_paths(server: EmulatorServer) -> list[str]:
    return [e.path for e in log(server).entries() if e.path.endswith("/bgp/sessions")]


async def test_bgp_sessions_are_asked_of_the_configured_project_when_the_href_says_nothing(
    packet,
) -> None:
    # Spec: Href.href is a plain string. A device list whose project links read "string" is
    # valid, so the project id cannot come from the link.
    provider, server = packet(size=30)
    fleet = server.app.state.fleet
    for device in fleet.devices.values():
        device["project"] = {"href": "string"}
    page = await listed(provider.list_servers(ServerFilter(), 0, 50, FULL))
    assert sorted(bgp_paths(server)) == sorted(
        f"/projects/{p}/bgp/sessions" for p in fleet.project_ids
    )
    assert {s["name"][3:] for s in page.entries if s["network"]["hasBgp"]} == up_devices(server)


async def test_organization_devices_use_project_id_or_the_organization_projects(upstream) -> None:
    server = upstream(size=12)
    fleet = server.app.state.fleet
    devices = list(fleet.devices.values())
    # Half the devices carry their project's id (the spec's Project has one); the others only
    # a link that names nothing.
    for index, device in enumerate(devices):
        device["project"] = {"href": "string"}
        if index % 2:
            device["project"]["id"] = device["_project"]
    provider = make_provider(server, project_ids=[], organization_ids=[fleet.organization["id"]])
    try:
        page = await listed(provider.list_servers(ServerFilter(), 0, 50, FULL))
    finally:
        await provider.close()
    assert log(server).count(operation="findOrganizationProjects") == 1
    assert sorted(bgp_paths(server)) == sorted(
        f"/projects/{p}/bgp/sessions" for p in fleet.project_ids
    )
    assert {s["name"][3:] for s in page.entries if s["network"]["hasBgp"]} == up_devices(server)


async def test_devices_with_their_project_id_need_no_organization_projects(upstream) -> None:
    server = upstream(size=12)
    fleet = server.app.state.fleet
    for device in fleet.devices.values():
        device["project"] = {"id": device["_project"], "href": "string"}
    provider = make_provider(server, project_ids=[], organization_ids=[fleet.organization["id"]])
    try:
        page = await listed(provider.list_servers(ServerFilter(), 0, 50, FULL))
    finally:
        await provider.close()
    assert log(server).count(operation="findOrganizationProjects") == 0
    assert len(bgp_paths(server)) == len(fleet.project_ids)
    assert {s["name"][3:] for s in page.entries if s["network"]["hasBgp"]} == up_devices(server)


async def test_a_device_read_back_has_bgp_from_its_own_sessions(packet) -> None:
    provider, server = packet(size=30)
    with_up = sorted(up_devices(server))[0]
    fleet = server.app.state.fleet
    # The sessions' device links name nothing: the device's own endpoint needs none.
    for sessions in fleet.bgp_sessions.values():
        for session in sessions:
            session["device"] = {"href": "string"}
    server_dict = await provider.set_server_alias(f"PK-{with_up}", "db-1", FULL)
    assert server_dict["network"]["hasBgp"] is True
    assert bgp_paths(server) == [f"/devices/{with_up}/bgp/sessions"]


async def test_a_list_that_keeps_linking_a_next_page_is_refused_at_the_bound(
    upstream, monkeypatch
) -> None:
    monkeypatch.setattr("providers.paging.MAX_WALKED_PAGES", 6)
    server = upstream(size=16, page_cap=5, paging="endless")
    provider = make_provider(server, project_ids=server.app.state.fleet.project_ids[:1])
    try:
        with pytest.raises(ProviderUnavailable, match="more than 6 pages"):
            await provider.list_servers(ServerFilter(), 0, 50, NAMES)
    finally:
        await provider.close()
    # Spec-valid answers (Meta without total or last_page, always a next link) end nowhere.
    assert [e.query["page"] for e in log(server).entries()] == ["1", "2", "3", "4", "5", "6"]
