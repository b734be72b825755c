"""Pure mapping of dashserv payloads, with the seed's own example responses as input."""

from __future__ import annotations

import calendar

import pytest

from providers.dashserv import mapping
from providers.dashserv.mapping import DEDICATED, VSERVER
from tests.providers.dashserv.examples import example

DEDICATED_SERVER = example("dedicated-server-get-single-server")["data"]
VSERVER_OBJECT = example("vserver-get-all")["data"][0]
NETWORK = example("dedicated-server-get-network-information")["data"]
MODELS = example("dedicated-server-get-marketplace")["data"]
STATS = example("vserver-get-graphs")["data"]
INSTALLATION = example("dedicated-server-get-installation-status")["data"]
VSERVER_STATUS = example("vserver-get-status")["data"]
DEDICATED_STATUS = example("dedicated-server-get-status")["data"]


@pytest.mark.parametrize(
    ("native", "expected"),
    [
        # The seed's only location, dashserv's own data centre town.
        (
            DEDICATED_SERVER["device"]["location"],
            {"name": "Eygelshoven", "region": "Europe", "short": "EYG"},
        ),
        # Not a FleetQL city: shown as given, region from the country code.
        (
            {"display": {"name": "Some DC, Maastricht"}, "country": "NL"},
            {"name": "Maastricht", "region": "Europe", "short": "MAASTRIC"},
        ),
        (
            {"display": {"name": "maincubes FRA01, Frankfurt am Main"}, "country": "DE"},
            {"name": "Frankfurt", "region": "Europe", "short": "FRA"},
        ),
        (
            {"display": {"name": "Equinix SG1, Singapur"}, "country": "SG"},
            {"name": "Singapore", "region": "Asia", "short": "SIN"},
        ),
        (
            {"display": {"name": "Equinix NY5, New York"}, "country": "US"},
            {"name": "New York", "region": "North America", "short": "NYC"},
        ),
        (
            {"display": {"name": "Somewhere, Atlantis"}, "country": "XX"},
            {"name": "Atlantis", "region": "Unknown", "short": "ATLANTIS"},
        ),
        (None, {"name": "Unknown", "region": "Unknown", "short": "UNKNOWN"}),
    ],
)
def test_location(native, expected):
    assert mapping.location(native) == expected


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        (
            DEDICATED_SERVER["device"]["model"],
            {
                "cpus": [{"count": 1, "name": "Intel Xeon E3-1270v2"}],
                "rams": [{"count": 8, "size": 4}],
                "hdds": [{"count": 2, "storage": {"size": 250, "type": "SSD"}}],
            },
        ),
        (
            MODELS[0],
            {
                "cpus": [{"count": 1, "name": "Intel Xeon E3-1230v2"}],
                "rams": [{"count": 8, "size": 4}],
                "hdds": [{"count": 1, "storage": {"size": 250, "type": "SSD"}}],
            },
        ),
        (
            {
                "cpu": {"amount": 2, "model": "AMD EPYC 7302P"},
                "ram": {"amount": 96, "sticks": 7},
                "disks": {
                    "all": [
                        {"type": "NVMe", "capacity": "512"},
                        {"type": "HDD", "capacity": "4000"},
                        {"type": "Tape", "capacity": "9000"},
                    ]
                },
            },
            {
                "cpus": [{"count": 2, "name": "AMD EPYC 7302P"}],
                "rams": [{"count": 1, "size": 96}],
                "hdds": [
                    {"count": 1, "storage": {"size": 512, "type": "NVME"}},
                    {"count": 1, "storage": {"size": 4000, "type": "HDD"}},
                ],
            },
        ),
        (
            {"cpu": {"model": "AMD Ryzen 5 3600", "cores": 6}},  # no amount: sockets unknown
            {"cpus": [{"count": None, "name": "AMD Ryzen 5 3600"}], "rams": [], "hdds": []},
        ),
        ({}, {"cpus": [], "rams": [], "hdds": []}),
    ],
)
def test_dedicated_hardware(model, expected):
    assert mapping.dedicated_hardware(model) == expected


def test_vserver_hardware_from_options():
    assert mapping.vserver_hardware(VSERVER_OBJECT) == {
        "cpus": [{"count": None, "name": "vCPU"}],
        "rams": [{"count": 1, "size": 2}],
        "hdds": [],
    }


@pytest.mark.parametrize(("mbits", "gbps"), [(2000, 2), (10000, 10), (750, None), (None, None)])
def test_uplink_capacity(mbits, gbps):
    assert mapping.uplink_capacity(mbits) == gbps


def test_dedicated_ip_addresses_from_the_network_example():
    ips = mapping.dedicated_ip_addresses(NETWORK)
    assert ips[0] == {
        "ip": "185.117.1.72",
        "type": "IPV4",
        "cidr": "185.117.1.72/27",
        "gateway": "123.456.7.89",
        "network": "123.456.7.89",
        "netMask": "255.255.255.224",
        # The seed's subnet "123.456.7.89" is not an address: no broadcast can be derived.
        "broadcast": None,
        "isPrimary": True,
        "isBgpPrefix": False,
    }
    assert [(ip["ip"], ip["isPrimary"]) for ip in ips] == [
        ("185.117.1.72", True),
        ("185.117.1.71", False),
    ]


def test_vserver_ip_addresses_are_deduplicated_and_ipv4_is_primary():
    ips = mapping.vserver_ip_addresses(VSERVER_OBJECT)
    assert [(ip["ip"], ip["type"], ip["isPrimary"], ip["cidr"]) for ip in ips] == [
        ("123.456.7.89", "IPV4", True, "123.456.7.89/24"),
        ("2b1e:4201:a120:10a::135", "IPV6", False, "2b1e:4201:a120:10a::135/64"),
    ]


@pytest.mark.parametrize(
    ("status", "power"),
    [
        (DEDICATED_STATUS, "ON"),
        (VSERVER_STATUS, "ON"),
        ({"status": "offline"}, "OFF"),
        ({"status": "installing"}, "UNKNOWN"),
        (None, "UNKNOWN"),
    ],
)
def test_power_status(status, power):
    assert mapping.power_status(status) == power


@pytest.mark.parametrize(
    ("native", "v2"),
    [
        ("okay", "ACTIVE"),
        ("OKAY", "ACTIVE"),
        ("installing", "PROVISIONING"),
        ("wait_for_host", "WAITING"),
        ("error", "MAINTENANCE"),
        (None, "MAINTENANCE"),
    ],
)
def test_server_status(native, v2):
    assert mapping.server_status(native) == v2


def test_dedicated_server_with_every_extra():
    extras = {"status": DEDICATED_STATUS, "network": NETWORK, "installation": INSTALLATION}
    server = mapping.server(DEDICATED, DEDICATED_SERVER, "DS", extras)
    assert server["name"] == "DS-o3qzt"
    assert server["alias"] == "kd14810"
    assert server["powerStatus"] == "ON"
    assert server["system"] == {"os": {"name": "Proxmox VE 6"}, "raid": "UNKNOWN"}
    assert server["network"]["uplinkCapacity"] == 2
    assert len(server["network"]["ipAddresses"]) == 2
    assert (server["statusV2"], server["status"]) == ("ACTIVE", "IN_PRODUCTION")
    assert server["uptime"] is None and server["billing"] is None and server["tags"] == []


def test_dedicated_server_without_extras_leaves_their_fields_out():
    server = mapping.server(DEDICATED, DEDICATED_SERVER, "DS", {})
    assert "powerStatus" not in server
    assert "ipAddresses" not in server["network"]
    assert "os" not in server["system"]


def test_vserver_needs_no_extra_for_ips_and_os():
    server = mapping.server(VSERVER, VSERVER_OBJECT, "DS", {"status": VSERVER_STATUS})
    assert server["name"] == "DS-lLPgX"
    assert server["system"]["os"] == {"name": "Debian 10"}
    assert server["network"]["ipAddresses"][0]["ip"] == "123.456.7.89"
    assert server["network"]["uplinkCapacity"] is None  # 750 Mbit/s is no whole Gbps
    assert server["uptime"] == 0  # 77062 s is under a day
    assert server["location"]["region"] == "Europe"


def test_instant_delivery_entries_one_per_unit_of_stock():
    entries = [e for model in MODELS for e in mapping.instant_delivery_entries(model, "DS")]
    assert [e["name"] for e in entries] == ["DS-Fzasc-1", "DS-Fzasc-2", "DS-BSDcu-1"]
    assert entries[0]["uplinkCapacity"] == 2
    assert mapping.instant_delivery_entries(DEDICATED_SERVER["device"]["model"], "DS") == []


@pytest.mark.parametrize(
    ("age", "timeframe"),
    [
        (600, "hour"),
        (3600, "hour"),
        (7200, "day"),
        (3 * 86400, "week"),
        (20 * 86400, "month"),
        (200 * 86400, "year"),
        (900 * 86400, "year"),
    ],
)
def test_timeframe_for(age, timeframe):
    assert mapping.timeframe_for(1_000_000_000 - age, 1_000_000_000) == timeframe


def test_series_timestamps_walk_back_from_now_across_midnight():
    now = calendar.timegm((2024, 3, 2, 0, 0, 30, 0, 0, 0))
    stamps = mapping.series_timestamps(["23:59:00", "00:00:00"], now)
    assert stamps == [now - 90, now - 30]


def test_aggregate_traffic_of_the_seed_example():
    now = calendar.timegm((2024, 3, 2, 8, 19, 30, 0, 0, 0))
    result = mapping.aggregate_traffic([STATS, STATS], now - 3600, now, now)
    incoming = result["statisticsIn"]
    # Two servers with the seed's series: (828.07 + 828.07) B/s and (723.06 + 723.06) B/s.
    assert incoming["last"] == round(723.06 * 2 * 8)
    assert incoming["maximum"] == round(828.07 * 2 * 8)
    assert incoming["average"] == round((828.07 + 723.06) * 8)
    assert incoming["sum"] == round((828.07 + 723.06) * 2 * 8 * 60)
    assert result["statisticsOut"]["p95"] == round(82.63 * 2 * 8)


def test_traffic_grid_fills_a_regular_grid():
    now = calendar.timegm((2024, 3, 2, 8, 30, 0, 0, 0, 0))
    points = [{"time": t, "net_in": 1, "net_out": 2} for t in ("08:18:00", "08:20:00")]
    first, step, inbound, outbound = mapping.traffic_grid([points], now - 3600, now, now)
    assert (first, step) == (now - 12 * 60, 120)
    assert (inbound, outbound) == ([8.0, 8.0], [16.0, 16.0])
    single = mapping.traffic_grid([points[:1]], now - 3600, now, now)
    assert single == (now - 12 * 60, 60, [8.0], [16.0])


def test_aggregate_traffic_outside_the_window_is_zero():
    now = calendar.timegm((2024, 3, 2, 12, 0, 0, 0, 0, 0))  # the series is 08:18-08:19
    result = mapping.aggregate_traffic([STATS], now - 10, now - 5, now)
    assert result["statisticsIn"] == dict.fromkeys(
        ("sum", "average", "maximum", "last", "p95"), 0.0
    )
