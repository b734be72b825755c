"""Pure mapping of DCImanager payloads, table-style, on the seed's own examples."""

from __future__ import annotations

import copy
import json

import pytest

from providers.dcimanager.mapping import (
    hardware_from_configuration,
    instant_delivery_server,
    ip_addresses,
    location_of,
    power_status,
    server_dict,
)
from providers.locations import city, unknown_location

# Seed, "List of servers": the example item verbatim (placeholders included).
SEED_SERVER = json.loads(
    """{ "operation": { "id": 0, "status": "string", "status_info": {}, "progress_info": [ {} ] },
    "domain": "string", "id": 0, "os_template": { "id": 0, "name": "string", "tags": [ "string" ] },
    "hardware_info": {}, "perform_info": {}, "configuration": "string", "settings": { "efi": true },
    "state": "suspending", "state_info": "string", "ip": [ { "domain": "string", "family": "ipv4",
    "gateway": "string", "id": 0, "name": "string", "network": "string", "status": "allocating",
    "status_info": {} } ], "switch_connection": [ { "id": 0, "switch": 0, "connection_id": 0,
    "description": "string", "admin_status": "up", "oper_status": "up",
    "do_not_collect_traffic": true, "is_ipmi_connection": true } ], "pdu_connection": {
    "port_id": 0, "port_identity": "string", "pdu_id": 0, "pdu_name": "string",
    "connection_id": 0, "power_status": "up" }, "ipmi": { "address": "string", "id": 0,
    "status": "on", "status_info": {}, "type": "IPMI v1.5/v2", "web_url": "string" },
    "intel_amt": { "address": "string", "id": 0, "status": "on", "status_info": {},
    "protocol": "http" }, "location": { "geolocation": "1st Street, 25", "id": 0,
    "name": "string", "userspace": 0 }, "location_id": 0, "mac": "string", "main_ipv4": 0,
    "main_ipv6": 0, "name": "string", "platform": { "id": 0, "name": "string", "size": 0,
    "type": "string" }, "rack": { "id": 0, "name": "string", "size": 0 }, "unit": 0,
    "chassis": { "id": 0, "name": "string", "size": 0, "server_slot_count": 0 }, "slot": 0,
    "owner": { "id": 0, "email": "string" }, "owner_email": "string",
    "diag_error": [ { "type": "string", "info": "string" } ], "is_new": true }"""
)


def seed_server(**changes) -> dict:
    """The seed's example with realistic values in place of its placeholders."""
    server = copy.deepcopy(SEED_SERVER)
    server.update(
        id=1042,
        domain="web-1.example.net",
        name="ams-r01-u07",
        configuration="i9-9900K-64Gb-2x1024NVMe",
        operation=None,
        state="ok",
        main_ipv4=7,
    )
    server["os_template"]["name"] = "Ubuntu 22.04"
    server["location"]["name"] = "Amsterdam"
    server["ipmi"]["address"] = "10.1.0.7"
    server["ip"] = [
        {
            "domain": "web-1.example.net",
            "family": "ipv4",
            "gateway": "185.102.0.1",
            "id": 7,
            "name": "185.102.0.7",
            "network": "185.102.0.0/24",
            "status": "ok",
            "status_info": {},
        }
    ]
    for key, value in changes.items():
        server[key] = value
    return server


def test_seed_example_server_maps_every_field():
    server = server_dict(seed_server(), "DCI", {})
    assert server == {
        "name": "DCI-1042",
        "alias": None,
        "hostname": "web-1.example.net",
        "location": city("AMS"),
        "hardware": {
            "cpus": [{"count": None, "name": "i9-9900K"}],
            "hdds": [{"count": 2, "storage": {"size": 1024, "type": "NVME"}}],
            "rams": [{"count": 1, "size": 64}],
        },
        "network": {
            "ipAddresses": [
                {
                    "ip": "185.102.0.7",
                    "type": "IPV4",
                    "cidr": "185.102.0.7/24",
                    "gateway": "185.102.0.1",
                    "network": "185.102.0.0",
                    "netMask": "255.255.255.0",
                    "broadcast": "185.102.0.255",
                    "isPrimary": True,
                    "isBgpPrefix": False,
                }
            ],
            "ipmi": {"ip": "10.1.0.7", "username": None},
            "ddosShieldLevel": "UNKNOWN",
            "hasBgp": None,
            "uplinkCapacity": None,
        },
        "powerStatus": "ON",
        "statusV2": "ACTIVE",
        "status": "IN_PRODUCTION",
        "system": {"os": {"name": "Ubuntu 22.04"}, "raid": "UNKNOWN"},
        "tags": [],
        "trafficPlan": {"name": None},
        "uptime": None,
        "billing": None,
    }


def test_seed_example_verbatim_maps_without_inventing():
    # The placeholders ("string") are no address, location or configuration: nothing invented.
    server = server_dict(SEED_SERVER, "DCI", {})
    assert server["name"] == "DCI-0"
    assert server["network"]["ipAddresses"] == []
    assert server["location"] == unknown_location("string")
    assert server["hardware"] == {"cpus": [], "hdds": [], "rams": []}
    assert (server["statusV2"], server["status"]) == ("UNREACHABLE", "IN_PRODUCTION")


@pytest.mark.parametrize(
    ("pdu", "ipmi", "expected"),
    [
        ("up", "on", "ON"),
        ("up", "off", "OFF"),
        ("up", "unknown", "UNKNOWN"),
        ("up", "in_progress", "UNKNOWN"),
        ("down", "on", "OFF"),
        ("unknown", "off", "OFF"),
        (None, None, "UNKNOWN"),
    ],
)
def test_power_status_table(pdu, ipmi, expected):
    server = {
        "pdu_connection": {"power_status": pdu} if pdu else None,
        "ipmi": {"status": ipmi} if ipmi else None,
    }
    assert power_status(server) == expected


@pytest.mark.parametrize(
    ("state", "operation", "expected"),
    [
        ("ok", None, ("ACTIVE", "IN_PRODUCTION")),
        ("ok", {"id": 3, "status": "in_progress"}, ("MAINTENANCE", "IN_MAINTENANCE")),
        ("suspending", None, ("UNREACHABLE", "IN_PRODUCTION")),
        ("suspended", {"id": 3}, ("UNREACHABLE", "IN_PRODUCTION")),
        ("resuming", None, ("PROVISIONING", "PROVISIONING")),
        ("suspend_error", None, ("MAINTENANCE", "IN_MAINTENANCE")),
        ("resume_error", None, ("MAINTENANCE", "IN_MAINTENANCE")),
        ("something_new", None, ("MAINTENANCE", "IN_MAINTENANCE")),
    ],
)
def test_status_table(state, operation, expected):
    server = server_dict({"id": 1, "state": state, "operation": operation}, "DCI", {})
    assert (server["statusV2"], server["status"]) == expected


@pytest.mark.parametrize(
    ("configuration", "expected"),
    [
        (
            "i9-9900K-64Gb-2x1024NVMe",  # the seed's "Number of free servers" example
            {
                "cpus": [{"count": None, "name": "i9-9900K"}],
                "hdds": [{"count": 2, "storage": {"size": 1024, "type": "NVME"}}],
                "rams": [{"count": 1, "size": 64}],
            },
        ),
        (
            "2xE5-2680v4-128Gb-4x4000HDD",
            {
                "cpus": [{"count": 2, "name": "E5-2680v4"}],
                "hdds": [{"count": 4, "storage": {"size": 4000, "type": "HDD"}}],
                "rams": [{"count": 1, "size": 128}],
            },
        ),
        ("string", {"cpus": [], "hdds": [], "rams": []}),
        ("Big box with disks", {"cpus": [], "hdds": [], "rams": []}),
        ("i9-64Gb-2x1024Tape", {"cpus": [], "hdds": [], "rams": []}),
        (None, {"cpus": [], "hdds": [], "rams": []}),
    ],
)
def test_hardware_from_configuration(configuration, expected):
    assert hardware_from_configuration(configuration) == expected


def test_ip_addresses_keep_assigned_ones_and_mark_the_main_address():
    entry = {"family": "ipv4", "gateway": "185.102.0.1", "network": "185.102.0.0/24"}
    server = {
        "main_ipv4": 1,
        "main_ipv6": 3,
        "ip": [
            {**entry, "id": 1, "name": "185.102.0.7", "status": "ok"},
            {**entry, "id": 2, "name": "185.102.0.8", "status": "allocating"},
            {**entry, "id": 4, "name": "185.102.0.9", "status": "allocation_fail"},
            {**entry, "id": 5, "name": "185.102.0.10", "status": "deleting"},
            {
                "id": 3,
                "family": "ipv6",
                "name": "2a0c:9a40:3e9::2",
                "gateway": "2a0c:9a40:3e9::1",
                "network": "2a0c:9a40:3e9::/64",
                "status": "ok",
            },
            {**entry, "id": 6, "name": "not-an-address", "status": "ok"},
        ],
    }
    addresses = ip_addresses(server)
    assert [(a["ip"], a["isPrimary"], a["type"]) for a in addresses] == [
        ("185.102.0.7", True, "IPV4"),
        ("185.102.0.10", False, "IPV4"),
        ("2a0c:9a40:3e9::2", True, "IPV6"),
    ]
    assert addresses[2]["cidr"] == "2a0c:9a40:3e9::2/64"
    assert addresses[2]["broadcast"] is None and addresses[2]["netMask"] is None


def test_ip_without_cidr_network_leaves_derived_fields_null():
    server = {"ip": [{"id": 1, "name": "198.51.100.4", "network": "198.51.100.0", "gateway": ""}]}
    (address,) = ip_addresses(server)
    assert address["cidr"] == "198.51.100.4/32"
    assert (address["network"], address["netMask"], address["gateway"]) == (None, None, None)


@pytest.mark.parametrize(
    ("name", "table", "expected"),
    [
        ("Amsterdam", {}, city("AMS")),
        ("new york", {}, city("NYC")),
        ("FRA", {}, city("FRA")),
        ("DC-2 Slough", {"dc-2 slough": "LON"}, city("LON")),
        ("Rack room 3", {}, unknown_location("Rack room 3")),
        ("", {}, unknown_location(None)),
    ],
)
def test_location_table(name, table, expected):
    assert location_of({"name": name, "id": 1}, table) == expected


def test_instant_delivery_from_the_seed_configuration_example():
    item = {"configuration": "i9-9900K-64Gb-2x1024NVMe", "free_server_count": 42}
    entry = instant_delivery_server(item, "DCI", city("AMS"))
    assert entry["name"] == "DCI-i9-9900K-64Gb-2x1024NVMe"
    assert entry["location"] == city("AMS")
    assert entry["uplinkCapacity"] is None
    assert entry["hardware"]["cpus"] == [{"count": None, "name": "i9-9900K"}]


def test_hostname_falls_back_to_the_server_name():
    assert server_dict(seed_server(domain=""), "DCI", {})["hostname"] == "ams-r01-u07"
    assert server_dict(seed_server(domain="", name=""), "DCI", {})["hostname"] is None
