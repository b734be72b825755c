"""Device -> Server mapping, table-style, on payloads from the spec's own schemas and examples."""

from __future__ import annotations

from functools import cache
from typing import Any

import pytest
import yaml

from providers.packet.mapping import (
    DEVICE_STATES,
    city_key,
    device_location,
    hardware_from_plan,
    ip_address,
    links_device,
    map_device,
    parse_size_gb,
    parse_tags,
    tag_string,
    up_session_links,
    uplink_gbps,
)
from tests.openapi_contract import CONTRACTS


@cache
def spec() -> dict[str, Any]:
    return yaml.safe_load((CONTRACTS / "equinix-metal-openapi.yaml").read_text(encoding="utf-8"))


def schema(name: str) -> dict[str, Any]:
    return spec()["components"]["schemas"][name]


def capacity_example(path: str) -> dict[str, Any]:
    operation = spec()["paths"][path]["get"]
    return operation["responses"]["200"]["content"]["application/json"]["example"]["capacity"]


def test_every_device_state_of_the_spec_has_a_row() -> None:
    assert set(schema("Device")["properties"]["state"]["enum"]) == set(DEVICE_STATES)


@pytest.mark.parametrize(
    ("state", "power", "status_v2", "status"),
    [
        ("active", "ON", "ACTIVE", "IN_PRODUCTION"),
        ("inactive", "OFF", "ACTIVE", "IN_PRODUCTION"),
        ("queued", "UNKNOWN", "WAITING", "INSTALLING"),
        ("provisioning", "UNKNOWN", "PROVISIONING", "PROVISIONING"),
        ("reinstalling", "UNKNOWN", "MAINTENANCE", "IN_MAINTENANCE"),
        ("powering_off", "UNKNOWN", "ACTIVE", "IN_PRODUCTION"),
        ("failed", "UNKNOWN", "MAINTENANCE", "IN_MAINTENANCE"),
        ("something_new", "UNKNOWN", "UNREACHABLE", "IN_PRODUCTION"),
    ],
)
def test_state_table(state: str, power: str, status_v2: str, status: str) -> None:
    server = map_device({"id": "e0ff", "state": state}, "PK")
    assert (server["powerStatus"], server["statusV2"], server["status"]) == (
        power,
        status_v2,
        status,
    )


def test_every_facility_and_metro_of_the_capacity_examples_is_a_known_city() -> None:
    facilities = capacity_example("/capacity")  # am6, da11, sv15 …
    metros = capacity_example("/capacity/metros")  # am, da, dc …
    assert all(city_key(None, code) for code in facilities), facilities.keys()
    assert all(city_key(code, None) for code in metros), metros.keys()


@pytest.mark.parametrize(
    ("device", "expected"),
    [
        ({"metro": {"code": "am", "name": "Amsterdam"}, "facility": {"code": "am6"}}, "AMS"),
        ({"facility": {"code": "am6"}}, "AMS"),  # IBX code: metro code + number
        ({"facility": {"code": "ewr1", "name": "Parsippany, NJ"}}, "NYC"),  # the seed's codes
        ({"facility": {"code": "sjc1"}}, "SJC"),
        ({"metro": {"code": "ld"}, "facility": {"code": "ld7"}}, "LON"),
    ],
)
def test_location_from_metro_or_facility(device: dict, expected: str) -> None:
    assert device_location(device)["short"] == expected


def test_an_unknown_location_is_shown_as_given() -> None:
    location = device_location({"metro": {"code": "mt", "name": "Montreal"}})
    assert location == {"name": "Montreal", "region": "Unknown", "short": "MONTREAL"}


def test_hardware_from_the_spec_plan_schema() -> None:
    drive = schema("Plan")["properties"]["specs"]["properties"]["drives"]["items"]
    nic = schema("Plan")["properties"]["specs"]["properties"]["nics"]["items"]
    plan = {
        "slug": schema("Plan")["properties"]["slug"]["example"],  # m3.large.x86
        "specs": {
            "cpus": [{"count": 1, "type": "AMD EPYC 7502P 32-Core Processor @ 2.5GHz"}],
            "memory": {"total": "256GB"},
            "drives": [
                {"count": 2, "type": "SSD", "size": "240GB", "category": "boot"},
                {
                    "count": 2,
                    "type": "NVME",
                    "size": drive["properties"]["size"]["example"],  # 3.84TB
                    "category": "storage",
                },
                {"count": 1, "type": "tape", "size": "1TB", "category": "storage"},
            ],
            "nics": [{"count": nic["properties"]["count"]["example"], "type": "25Gbps"}],
        },
    }
    assert hardware_from_plan(plan) == {
        "cpus": [{"count": 1, "name": "AMD EPYC 7502P 32-Core Processor @ 2.5GHz"}],
        "rams": [{"count": 1, "size": 256}],
        "hdds": [
            {"count": 2, "storage": {"size": 240, "type": "SSD"}},
            {"count": 2, "storage": {"size": 3840, "type": "NVME"}},
        ],
    }
    assert uplink_gbps(plan) == 50


@pytest.mark.parametrize(
    ("size", "gb"),
    [("3.84TB", 3840), ("480GB", 480), ("240 GB", 240), ("8TB", 8000), ("", None), ("big", None)],
)
def test_sizes(size: str, gb: int | None) -> None:
    assert parse_size_gb(size) == gb


def test_a_cpu_without_a_count_has_a_null_count() -> None:
    plan = {"specs": {"cpus": [{"type": "Intel Xeon E-2278G"}, {"count": "two", "type": "X"}]}}
    assert hardware_from_plan(plan)["cpus"] == [
        {"count": None, "name": "Intel Xeon E-2278G"},
        {"count": None, "name": "X"},
    ]


def test_a_plan_without_specs_has_empty_hardware() -> None:
    assert hardware_from_plan({"href": "/plans/x"}) == {"cpus": [], "hdds": [], "rams": []}
    assert uplink_gbps({"specs": {"nics": [{"count": 2, "type": "fast"}]}}) is None


@pytest.mark.parametrize(
    ("assignment", "expected"),
    [
        (
            {
                "address": "147.75.84.95",
                "address_family": 4,
                "cidr": 31,
                "network": "147.75.84.94",
                "netmask": "255.255.255.254",
                "gateway": "147.75.84.94",
                "public": True,
                "management": True,
            },
            {
                "ip": "147.75.84.95",
                "cidr": "147.75.84.95/31",
                "gateway": "147.75.84.94",
                "network": "147.75.84.94",
                "netMask": "255.255.255.254",
                "broadcast": None,
                "isPrimary": True,
                "isBgpPrefix": False,
                "type": "IPV4",
            },
        ),
        (
            {
                "address": "10.32.16.5",
                "address_family": 4,
                "cidr": 29,
                "network": "10.32.16.0",
                "netmask": "255.255.255.248",
                "gateway": "10.32.16.1",
                "public": False,
                "management": True,
            },
            {
                "ip": "10.32.16.5",
                "cidr": "10.32.16.5/29",
                "gateway": "10.32.16.1",
                "network": "10.32.16.0",
                "netMask": "255.255.255.248",
                "broadcast": "10.32.16.7",
                "isPrimary": False,
                "isBgpPrefix": False,
                "type": "IPV4",
            },
        ),
        (
            {
                "address": "2604:1380::1",
                "address_family": 6,
                "cidr": 127,
                "network": "2604:1380::",
                "public": True,
                "management": True,
            },
            {
                "ip": "2604:1380::1",
                "cidr": "2604:1380::1/127",
                "gateway": None,
                "network": "2604:1380::",
                "netMask": None,
                "broadcast": None,
                "isPrimary": False,
                "isBgpPrefix": False,
                "type": "IPV6",
            },
        ),
    ],
)
def test_ip_assignments(assignment: dict, expected: dict) -> None:
    assert ip_address(assignment) == expected


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        (["env=prod"], [("env", "prod")]),
        (["k8s"], [("k8s", "")]),
        (["url=a=b"], [("url", "a=b")]),
        (["env="], [("env", "")]),
    ],
)
def test_tags(tags: list[str], expected: list[tuple[str, str]]) -> None:
    assert [(t["key"], t["value"]) for t in parse_tags(tags)] == expected


def test_tag_strings() -> None:
    assert tag_string("env", "prod") == "env=prod"
    assert tag_string("k8s", "") == "k8s"


def test_bgp_sessions_count_when_a_switch_reports_up() -> None:
    example = schema("BgpSession")["properties"]["learned_routes"]["items"]["example"]
    sessions = [
        {"status": "up", "device": {"href": "/metal/v1/devices/a"}, "learned_routes": [example]},
        {"status": "unknown,up", "device": {"href": "/devices/b"}},
        {"status": "down", "device": {"href": "/devices/c"}},
        {"status": "unknown", "device": {"href": "/devices/d"}},
    ]
    assert up_session_links(sessions) == {("href", "/metal/v1/devices/a"), ("href", "/devices/b")}


def test_a_session_names_its_device_by_a_whole_link_never_by_a_parsed_id() -> None:
    # Spec: Href.href is a plain string; "string" is as valid as a path ending in an id.
    links = up_session_links(
        [{"status": "up", "device": {"href": "string"}}, {"status": "up", "device": {"id": "b"}}]
    )
    assert links_device(links, {"id": "a", "href": "string"})
    assert links_device(links, {"id": "b", "href": "/devices/b"})
    assert not links_device(links, {"id": "string", "href": "/devices/string"})
    assert not links_device(up_session_links([{"device": {"href": "/devices/c"}}]), {"id": "c"})


def test_a_whole_device() -> None:
    device = {
        "id": "8a4e3a3d-6a3b-4f2f-9d51-6a0f0a9a1b2c",
        "hostname": "web-1",
        "description": "",
        "state": "inactive",
        "tags": ["env=prod", "k8s"],
        "facility": {"code": "fr2", "name": "Frankfurt FR2"},
        "operating_system": {"slug": "ubuntu_22_04", "name": "Ubuntu 22.04 LTS"},
        "ip_addresses": [],
    }
    server = map_device(device, "PK", has_bgp=False)
    assert server["name"] == "PK-8a4e3a3d-6a3b-4f2f-9d51-6a0f0a9a1b2c"
    assert server["alias"] is None
    assert server["location"] == {"name": "Frankfurt", "region": "Europe", "short": "FRA"}
    assert server["system"] == {"os": {"name": "Ubuntu 22.04 LTS"}, "raid": "UNKNOWN"}
    assert server["tags"] == [{"key": "env", "value": "prod"}, {"key": "k8s", "value": ""}]
    assert server["network"]["hasBgp"] is False
    assert server["network"]["ipmi"] == {"ip": None, "username": None}
    assert server["powerStatus"] == "OFF"
    assert (server["uptime"], server["billing"], server["trafficPlan"]) == (
        None,
        None,
        {"name": None},
    )
    assert map_device(device, "PK")["network"]["hasBgp"] is None
