"""Gateway-side filtering follows DataPacket's semantics, table-style."""

from __future__ import annotations

import pytest

from providers.base import ServerFilter
from providers.filtering import filter_selection, server_matches, window

LB = {
    "name": "PK-1",
    "alias": "lb",
    "network": {"ipAddresses": [{"ip": "192.0.2.10"}], "ipmi": {"ip": "10.0.0.1"}},
    "location": {"name": "Amsterdam", "short": "AMS", "region": "Europe"},
    "powerStatus": "ON",
    "statusV2": "ACTIVE",
    "status": "IN_PRODUCTION",
    "tags": [{"key": "env", "value": "prod"}, {"key": "role", "value": "lb"}],
}


@pytest.mark.parametrize(
    ("server_filter", "expected"),
    [
        (ServerFilter(), True),
        (ServerFilter(name_in=("PK-1", "PK-2")), True),
        (ServerFilter(name_in=()), False),
        (ServerFilter(alias_in=("db",)), False),
        (ServerFilter(ip_in=("192.0.2.10",)), True),
        (ServerFilter(ipmiIp_in=("10.0.0.2",)), False),
        (ServerFilter(location_in=("amsterdam",)), True),
        (ServerFilter(location_in=("AMS",)), True),
        (ServerFilter(location_in=("London",)), False),
        (ServerFilter(region_in=("Europe",)), True),
        (ServerFilter(powerStatus_in=("OFF", "UNKNOWN")), False),
        (ServerFilter(serverStatusV2_in=("ACTIVE",)), True),
        (ServerFilter(serverStatus_in=("IN_PRODUCTION",)), True),
        (ServerFilter(tag_key=("env", "role")), True),
        (ServerFilter(tag_key=("env", "owner")), False),
        (ServerFilter(tag_value=(("env", "prod"), ("role", "lb"))), True),
        (ServerFilter(tag_value=(("env", "prod"), ("role", "db"))), False),
        (ServerFilter(tags_in=(("env", "dev"), ("role", "lb"))), True),
        (ServerFilter(tags_in=(("env", "dev"),)), False),
        (ServerFilter(location_in=("Amsterdam",), powerStatus_in=("OFF",)), False),
    ],
)
def test_server_matches(server_filter, expected):
    assert server_matches(LB, server_filter) is expected


def test_filter_selection_names_the_fields_needed():
    selection = filter_selection(ServerFilter(ip_in=("x",), tag_key=("env",)))
    assert selection.has("network.ipAddresses.ip")
    assert selection.has("tags.key") and selection.has("name")
    assert not selection.has("location")


def test_window_counts_all_matches_and_slices():
    servers = [dict(LB, name=f"PK-{i}", powerStatus="ON" if i % 2 else "OFF") for i in range(9)]
    page = window(servers, ServerFilter(powerStatus_in=("ON",)), 1, 2)
    assert page.total == 4
    assert [s["name"] for s in page.entries] == ["PK-3", "PK-5"]
