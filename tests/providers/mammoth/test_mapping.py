"""Pure payload -> dict mapping, table-style, on payloads shaped by the spec's schemas.

The seed's response samples are collapsed (``{"server": {}}``) and the spec's only example value
is ``Network.netmask: 5``, so each payload below is built field by field from the spec's schema
(and checked against it), using the spec's own enum values and that example.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from providers.locations import CITIES
from providers.mammoth import mapping

SIZE = {
    "slug": "std-2vcpu",
    "description": "2 vCPU, 4 GB",
    "cpu_description": "Intel Xeon (shared)",
    "storage_description": "NVMe SSD",
    "size_type": {"slug": "standard", "name": "Standard"},
    "available": True,
    "regions": ["syd", "mel", "per"],
    "regions_out_of_stock": ["mel"],
    "price_monthly": 19.95,
    "price_hourly": 0.0273,
    "disk": 60,
    "memory": 4096,
    "transfer": 3.0,
    "excess_transfer_cost_per_gigabyte": 0.1,
    "vcpus": 2,
    "vcpu_units": "core",
    "options": {
        "disk_min": 60,
        "disk_max": 240,
        "disk_cost_per_additional_gigabyte": 0.25,
        "memory_max": 8192,
        "memory_cost_per_additional_megabyte": 0.005,
        "transfer_max": 12.0,
        "transfer_cost_per_additional_gigabyte": 0.01,
        "ipv4_addresses_max": 8,
        "ipv4_addresses_cost_per_address": 3.0,
        "discount_for_no_public_ipv4": 1.0,
        "daily_backups": 0,
        "weekly_backups": 0,
        "monthly_backups": 0,
        "backups_cost_per_backup_per_gigabyte": 0.02,
        "offsite_backups_cost_per_gigabyte": 0.03,
        "offsite_backup_frequency_cost": {
            "daily_per_gigabyte": 0.05,
            "weekly_per_gigabyte": 0.03,
            "monthly_per_gigabyte": 0.02,
        },
    },
}
REGION = {
    "slug": "syd",
    "name": "Sydney",
    "sizes": ["std-2vcpu"],
    "available": True,
    "features": [],
    "name_servers": [],
}
IMAGE = {
    "id": 1003,
    "name": "12",
    "type": "snapshot",
    "distribution": "Debian",
    "full_name": "Debian 12",
    "slug": "debian-12",
    "public": True,
    "regions": ["syd"],
    "min_disk_size": 20,
    "size_gigabytes": 2.5,
    "status": "available",
    "distribution_info": {"image_id": 1003, "password_recovery": "online-change", "features": []},
}


def server_payload(**changes: object) -> dict:
    """A spec ``Server`` with every required property."""
    payload = {
        "id": 4242,
        "name": "web-01.example.com.au",
        "memory": 4096,
        "vcpus": 2,
        "disk": 260,
        "created_at": "2024-03-01T10:00:00Z",
        "status": "active",
        "backup_ids": [],
        "features": [],
        "region": REGION,
        "image": IMAGE,
        "size": SIZE,
        "size_slug": "std-2vcpu",
        "networks": {
            "v4": [
                {"ip_address": "10.240.0.2", "netmask": 16, "type": "private"},
                {
                    "ip_address": "103.16.128.20",
                    "netmask": "255.255.255.0",
                    "gateway": "103.16.128.1",
                    "type": "public",
                    "reverse_name": "web-01.example.com.au",
                },
            ],
            "v6": [
                {
                    "ip_address": "2401:fc00:1::2",
                    "netmask": 64,
                    "gateway": "2401:fc00:1::1",
                    "type": "public",
                }
            ],
            "port_blocking": True,
            "recent_ddos": False,
        },
        "disks": [
            {"id": 1, "size_gigabytes": 60.0, "primary": True},
            {"id": 2, "size_gigabytes": 100.0, "primary": False},
            {"id": 3, "size_gigabytes": 100.0, "primary": False},
        ],
        "backup_settings": {
            "backup_hour_of_day": 2,
            "backup_day_of_week": 0,
            "backup_day_of_month": 1,
        },
        "failover_ips": ["103.16.250.7"],
        "host": {"display_name": "syd-hv01"},
        "password_change_supported": True,
        "advanced_features": {"enabled_advanced_features": [], "video_device": "standard"},
    }
    payload.update(changes)
    return payload


def test_the_example_payloads_fit_the_spec(spec):
    spec.check_response("GET", "/v2/servers/4242", 200, {"server": server_payload()})
    spec.check_response("GET", "/v2/customers/my/invoices/1", 200, {"invoice": INVOICE})
    spec.check_response("GET", "/v2/account", 200, {"account": ACCOUNT})
    spec.check_response("GET", "/v2/samplesets/4242", 200, {"meta": {"total": 2}, **SAMPLES})


@pytest.mark.parametrize(
    ("status", "power", "status_v2", "status_v1"),
    [
        ("new", "UNKNOWN", "PROVISIONING", "PROVISIONING"),
        ("active", "ON", "ACTIVE", "IN_PRODUCTION"),
        ("off", "OFF", "ACTIVE", "IN_PRODUCTION"),
        ("archive", "OFF", "UNREACHABLE", "IN_PRODUCTION"),
    ],
)
def test_every_spec_server_status_maps_by_the_table(status, power, status_v2, status_v1):
    server = mapping.server(server_payload(status=status), "MC")
    assert (server["powerStatus"], server["statusV2"], server["status"]) == (
        power,
        status_v2,
        status_v1,
    )


def test_a_server_keeps_its_identity_and_fills_what_mammoth_lacks_with_null():
    server = mapping.server(server_payload(), "MC")
    assert server["name"] == "MC-4242"
    assert server["hostname"] == "web-01.example.com.au"
    assert (server["alias"], server["uptime"], server["billing"], server["tags"]) == (
        None,
        None,
        None,
        [],
    )
    assert server["system"] == {"os": {"name": "Debian 12"}, "raid": "UNKNOWN"}
    assert server["network"]["ipmi"] == {"ip": None, "username": None}
    assert server["network"]["ddosShieldLevel"] == "UNKNOWN"
    assert server["network"]["hasBgp"] is None and server["network"]["uplinkCapacity"] is None
    assert "trafficPlan" not in server


def test_hardware_comes_from_vcpus_memory_disks_and_the_size():
    assert mapping.hardware(server_payload()) == {
        "cpus": [{"count": None, "name": "Intel Xeon (shared)"}],
        "rams": [{"count": 1, "size": 4}],
        "hdds": [
            {"count": 1, "storage": {"size": 60, "type": "NVME"}},
            {"count": 2, "storage": {"size": 100, "type": "NVME"}},
        ],
    }


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        # The seed renders no ``disks`` names: the total ``disk`` is one drive.
        ({"disks": []}, [{"count": 1, "storage": {"size": 260, "type": "NVME"}}]),
        ({"size": {**SIZE, "storage_description": "SSD"}, "disks": []}, "SSD"),
        ({"size": {**SIZE, "storage_description": "Enterprise HDD"}, "disks": []}, "HDD"),
        ({"size": {**SIZE, "storage_description": None}}, []),
    ],
)
def test_storage_type_is_read_from_the_size_or_left_out(changes, expected):
    hdds = mapping.hardware(server_payload(**changes))["hdds"]
    if isinstance(expected, str):
        assert [hdd["storage"]["type"] for hdd in hdds] == [expected]
    else:
        assert hdds == expected


@pytest.mark.parametrize(
    ("memory", "gigabytes"), [(512, 1), (1024, 1), (1536, 2), (4096, 4), (32768, 32)]
)
def test_memory_megabytes_round_to_whole_gigabytes(memory, gigabytes):
    assert mapping.hardware(server_payload(memory=memory))["rams"] == [
        {"count": 1, "size": gigabytes}
    ]


def test_cpu_name_falls_back_to_vcpu_when_the_size_does_not_describe_it():
    payload = server_payload(size={**SIZE, "cpu_description": None})
    assert mapping.hardware(payload)["cpus"] == [{"count": None, "name": "vCPU"}]


def test_ip_addresses_come_from_v4_v6_and_failover_ips_with_the_first_public_v4_primary():
    addresses = mapping.ip_addresses(server_payload())
    assert [(a["ip"], a["type"], a["isPrimary"]) for a in addresses] == [
        ("10.240.0.2", "IPV4", False),
        ("103.16.128.20", "IPV4", True),
        ("2401:fc00:1::2", "IPV6", False),
        ("103.16.250.7", "IPV4", False),
    ]
    public = addresses[1]
    assert public == {
        "ip": "103.16.128.20",
        "cidr": "103.16.128.20/24",
        "gateway": "103.16.128.1",
        "network": "103.16.128.0",
        "broadcast": "103.16.128.255",
        "netMask": "255.255.255.0",
        "isPrimary": True,
        "isBgpPrefix": False,
        "type": "IPV4",
    }
    assert addresses[2]["cidr"] == "2401:fc00:1::2/64" and addresses[2]["broadcast"] is None
    assert addresses[3]["cidr"] == "103.16.250.7/32" and addresses[3]["netMask"] is None


@pytest.mark.parametrize(
    ("netmask", "cidr", "mask"),
    [
        (5, "103.16.128.20/5", "248.0.0.0"),  # the spec's own example value
        ("24", "103.16.128.20/24", "255.255.255.0"),
        ("255.255.255.248", "103.16.128.20/29", "255.255.255.248"),
        (None, "103.16.128.20/32", None),
        ("not a mask", "103.16.128.20/32", None),
    ],
)
def test_netmask_may_be_a_prefix_or_a_dotted_mask(netmask, cidr, mask):
    address = mapping.ip_address("103.16.128.20", netmask, None, False)
    assert (address["cidr"], address["netMask"]) == (cidr, mask)


@pytest.mark.parametrize(
    ("slug", "expected"),
    [
        ("syd", CITIES["SYD"]),
        ("sin", CITIES["SIN"]),
        ("ams", CITIES["AMS"]),
        ("fra", CITIES["FRA"]),
        ("lon", CITIES["LON"]),
        ("nyc", CITIES["NYC"]),
        ("akl", {"name": "akl", "region": "Unknown", "short": "AKL"}),
    ],
)
def test_region_slugs_map_to_the_shared_location_vocabulary(slug, expected):
    assert mapping.location({"slug": slug, "name": "whatever"}) == expected


def test_reverse_names_cover_networks_and_failover_ips():
    assert mapping.reverse_names(server_payload()) == {
        "103.16.250.7": None,
        "10.240.0.2": None,
        "103.16.128.20": "web-01.example.com.au",
        "2401:fc00:1::2": None,
    }


@pytest.mark.parametrize(
    ("usage", "name"), [(None, None), ({"transfer_gigabytes": 3000}, "3000 GB")]
)
def test_traffic_plan_is_the_transfer_allowance(usage, name):
    assert mapping.traffic_plan(usage) == {"name": name}


ACCOUNT = {
    "email": "ops@example.com.au",
    "email_verified": True,
    "two_factor_authentication_enabled": False,
    "status": "active",
    "tax_code": {"name": "GST", "type": "scalar", "fixed_percent": 10.0},
    "configured_payment_methods": ["credit-card", "paypal"],
    "additional_ipv4_limit": 5,
}


def test_account_reports_the_email_only():
    assert mapping.account(ACCOUNT) == {
        "email": "ops@example.com.au",
        "name": None,
        "hostname": None,
        "createdAt": None,
    }


INVOICE = {
    "invoice_id": 73012,
    "reference": "ACME-01",
    "invoice_number": "INV373012",
    "amount": 110.0,
    "tax_code": {"name": "GST", "type": "scalar", "fixed_percent": 10.0},
    "tax": 10.0,
    "created": "2025-01-14T00:00:00Z",
    "date_due": "2025-01-28T00:00:00Z",
    "date_overdue": "2025-02-04T00:00:00Z",
    "paid": False,
    "refunded": False,
    "invoice_items": [
        {"name": "web-01 monthly", "amount": 88.0, "amount_includes_tax": True},
        {"name": "extra IPv4", "amount": 20.0, "amount_includes_tax": False},
    ],
}


def test_an_invoice_is_in_aud_with_tax_included_in_the_amount():
    invoice = mapping.invoice(INVOICE, now=datetime(2025, 1, 20, tzinfo=UTC))
    assert invoice == {
        "invoiceNumber": "INV373012",
        "createdAt": "2025-01-14T00:00:00.000Z",
        "dueDate": "2025-01-28T00:00:00.000Z",
        "currency": "AUD",
        "invoiceType": None,
        "invoiceItems": [
            {
                "amount": 80.0,
                "currency": "AUD",
                "description": "web-01 monthly",
                "quantity": 1.0,
                "type": None,
                "unitPrice": 80.0,
                "vatPercent": 10.0,
            },
            {
                "amount": 20.0,
                "currency": "AUD",
                "description": "extra IPv4",
                "quantity": 1.0,
                "type": None,
                "unitPrice": 20.0,
                "vatPercent": 10.0,
            },
        ],
        "payment": {"method": None, "paidOn": None, "status": "NOT_PAID"},
        "period": None,
        "subscription": None,
        "subtotal": 100.0,
        "total": 110.0,
        "totalVat": 10.0,
    }


@pytest.mark.parametrize(
    ("changes", "now", "status"),
    [
        ({"paid": True}, datetime(2026, 1, 1, tzinfo=UTC), "PAID"),
        ({}, datetime(2025, 1, 20, tzinfo=UTC), "NOT_PAID"),
        ({}, datetime(2025, 2, 4, tzinfo=UTC), "PAST_DUE"),
    ],
)
def test_payment_status_follows_paid_and_the_overdue_date(changes, now, status):
    assert mapping.payment_status({**INVOICE, **changes}, now) == status


def test_a_tax_free_invoice_has_zero_vat():
    invoice = mapping.invoice({**INVOICE, "tax_code": {"name": "None", "type": "none"}, "tax": 0})
    assert {item["vatPercent"] for item in invoice["invoiceItems"]} == {0.0}
    assert invoice["invoiceItems"][0]["amount"] == 88.0


def test_stock_is_every_available_size_in_open_regions_that_are_in_stock():
    regions = [REGION, {**REGION, "slug": "mel"}, {**REGION, "slug": "per", "available": False}]
    assert mapping.offered_regions(SIZE, regions) == ["syd"]  # mel out of stock, per closed
    assert mapping.offered_regions({**SIZE, "available": False}, regions) == []
    server = mapping.instant_delivery_server(SIZE, "syd", "MC")
    assert server == {
        "name": "MC-std-2vcpu@syd",
        "hardware": {
            "cpus": [{"count": None, "name": "Intel Xeon (shared)"}],
            "rams": [{"count": 1, "size": 4}],
            "hdds": [{"count": 1, "storage": {"size": 60, "type": "NVME"}}],
        },
        "location": CITIES["SYD"],
        "uplinkCapacity": None,
    }


def _sample_set(server_id: int, start: str, end: str, incoming: float, outgoing: float) -> dict:
    return {
        "server_id": server_id,
        "period": {"start": start, "end": end, "data_interval": "five-minute"},
        "average": {
            "cpu_usage_percent": 1.0,
            "cpu_usage_detailed": [1.0],
            "memory_usage_bytes": 1.0,
            "network_incoming_kbps": incoming,
            "network_outgoing_kbps": outgoing,
            "storage_usage_megabytes": 1.0,
            "storage_read_kbps": 1.0,
            "storage_write_kbps": 1.0,
            "storage_read_requests_per_second": 1.0,
            "storage_write_requests_per_second": 1.0,
        },
        "maximum_memory_megabytes": 1.0,
        "maximum_storage_gigabytes": 1.0,
    }


SAMPLES = {
    "sample_sets": [
        _sample_set(1, "2025-01-01T00:00:00Z", "2025-01-01T00:05:00Z", 1, 10),
        _sample_set(2, "2025-01-01T00:00:00Z", "2025-01-01T00:05:00Z", 2, 20),
        _sample_set(1, "2025-01-01T00:05:00Z", "2025-01-01T00:10:00Z", 3, 30),
        _sample_set(1, "2025-01-01T00:10:00Z", "2025-01-01T00:15:00Z", 9, 90),  # outside
    ]
}


def test_traffic_sums_servers_per_period_in_bits_per_second():
    start = datetime(2025, 1, 1, tzinfo=UTC)
    end = datetime(2025, 1, 1, 0, 10, tzinfo=UTC)
    traffic = mapping.aggregate_traffic(SAMPLES["sample_sets"], start, end)
    assert traffic["statisticsOut"] == {
        "sum": (30_000 + 30_000) * 300.0,
        "average": 30_000.0,
        "maximum": 30_000.0,
        "last": 30_000.0,
        "p95": 30_000.0,
    }
    assert traffic["statisticsIn"]["sum"] == (3_000 + 3_000) * 300.0
    empty = mapping.aggregate_traffic([], start, end)["statisticsIn"]
    assert set(empty.values()) == {0.0}


def test_a_traffic_series_starts_at_the_first_period_boundary_and_sums_servers():
    start = datetime(2024, 12, 31, 23, 58, tzinfo=UTC)  # not on a 5-minute boundary
    end = datetime(2025, 1, 1, 0, 15, tzinfo=UTC)
    first, inbound, outbound = mapping.traffic_series(SAMPLES["sample_sets"], start, end, 300)
    assert first == datetime(2025, 1, 1, tzinfo=UTC)
    assert outbound == [30_000.0, 30_000.0, 90_000.0]
    assert inbound == [3_000.0, 3_000.0, 9_000.0]
    _, _, empty = mapping.traffic_series([], start, datetime(2025, 1, 1, 0, 10, tzinfo=UTC), 300)
    assert empty == [0.0, 0.0]


def test_compacted_sample_sets_give_the_same_traffic_and_keep_malformed_items():
    page = {**SAMPLES, "meta": {"total": 4}, "links": {"pages": {}}}
    compacted = mapping.compact_sample_sets(page)
    assert compacted["meta"] == page["meta"] and compacted["links"] == page["links"]
    assert compacted["sample_sets"][0] == mapping.Sample(
        start=datetime(2025, 1, 1, tzinfo=UTC).timestamp(),
        seconds=300.0,
        incoming=1_000.0,
        outgoing=10_000.0,
    )
    start, end = datetime(2025, 1, 1, tzinfo=UTC), datetime(2025, 1, 1, 0, 15, tzinfo=UTC)
    assert mapping.aggregate_traffic(compacted["sample_sets"], start, end) == (
        mapping.aggregate_traffic(SAMPLES["sample_sets"], start, end)
    )
    assert mapping.traffic_series(compacted["sample_sets"], start, end, 300) == (
        mapping.traffic_series(SAMPLES["sample_sets"], start, end, 300)
    )
    # What the mappings would refuse stays as it came, so they still refuse it.
    odd = [None, {"period": "x", "average": {}}, {"period": {"start": "s"}, "average": {}}]
    assert mapping.compact_sample_sets({"sample_sets": odd})["sample_sets"] == odd
    assert mapping.compact_sample_sets(["not", "a", "page"]) == ["not", "a", "page"]
