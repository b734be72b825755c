"""Deterministic data for the Mammoth Cloud emulator: one account and everything it owns.

Payloads are plain dicts shaped exactly like the schemas of ``binarylane-openapi.json``
(``Server``, ``Region``, ``Size``, ``Image``, ``Invoice``, ``DataUsage``, ``Account``), so the
emulator serves them verbatim and the contract tests validate them against the spec.
``build_fleet(size, seed)`` draws everything from ``random.Random(seed)``; billing dates hang off
a fixed date, not the wall clock, so they are stable.
"""

from __future__ import annotations

import ipaddress
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

Payload = dict[str, Any]

BILLING_NOW = datetime(2025, 1, 14, 0, 0, 0, tzinfo=UTC)
GST = {"name": "GST", "type": "scalar", "fixed_percent": 10.0}
NAME_SERVERS = ["ns1.mammoth.com.au", "ns2.mammoth.com.au"]

# (slug, name, weight): the platform's Australian regions and Singapore, plus the European and US
# regions of the demo so that several providers share cities in the combined listing.
REGIONS = [
    ("syd", "Sydney", 5),
    ("mel", "Melbourne", 3),
    ("bne", "Brisbane", 2),
    ("per", "Perth", 1),
    ("sin", "Singapore", 3),
    ("ams", "Amsterdam", 3),
    ("fra", "Frankfurt", 2),
    ("lon", "London", 3),
    ("nyc", "New York", 2),
]
# (slug, type slug, type name, vcpus, memory MB, disk GB, transfer TB, AU$/month, cpu, storage)
SIZES = [
    ("std-min", "standard", "Standard", 1, 1024, 20, 1.0, 4.95, "Intel Xeon (shared)", "SSD"),
    ("std-1vcpu", "standard", "Standard", 1, 2048, 40, 2.0, 9.95, "Intel Xeon (shared)", "SSD"),
    ("std-2vcpu", "standard", "Standard", 2, 4096, 60, 3.0, 19.95, "Intel Xeon (shared)", "SSD"),
    ("std-4vcpu", "standard", "Standard", 4, 8192, 100, 4.0, 39.95, "Intel Xeon (shared)", "SSD"),
    ("std-8vcpu", "standard", "Standard", 8, 16384, 160, 5.0, 79.95, "Intel Xeon (shared)", "SSD"),
    ("cpu-4vcpu", "cpu", "CPU Optimised", 4, 8192, 80, 4.0, 69.95, "AMD EPYC 7543", "NVMe SSD"),
    ("cpu-8vcpu", "cpu", "CPU Optimised", 8, 16384, 160, 6.0, 139.95, "AMD EPYC 7543", "NVMe SSD"),
    ("mem-4vcpu", "memory", "Memory Optimised", 4, 32768, 120, 4.0, 99.95, None, "NVMe SSD"),
    ("stor-2vcpu", "storage", "Storage", 2, 4096, 1000, 5.0, 49.95, "Intel Xeon (shared)", None),
]
# (id, slug, distribution, name, full name, password recovery)
IMAGES = [
    (1001, "ubuntu-24.04", "Ubuntu", "24.04 LTS", "Ubuntu 24.04 LTS", "online-change"),
    (1002, "ubuntu-22.04", "Ubuntu", "22.04 LTS", "Ubuntu 22.04 LTS", "online-change"),
    (1003, "debian-12", "Debian", "12", "Debian 12", "online-change"),
    (1004, "almalinux-9", "AlmaLinux", "9", "AlmaLinux 9", "offline-change"),
    (1005, "rocky-9", "Rocky Linux", "9", "Rocky Linux 9", "offline-change"),
    (1006, "windows-2022", "Windows", "Server 2022", "Windows Server 2022", "offline-clear"),
]
ROLES = ["web", "api", "db", "cache", "edge", "mail", "build", "vpn"]
STATUSES = [("active", 75), ("off", 12), ("new", 5), ("archive", 8)]


@dataclass
class Fleet:
    """Everything the emulated account owns; servers keyed by id, lists in upstream order."""

    account: Payload
    regions: list[Payload]
    sizes: list[Payload]
    images: list[Payload]
    servers: dict[int, Payload]
    data_usages: dict[int, Payload]
    invoices: list[Payload]
    traffic: dict[int, tuple[float, float, float]] = field(default_factory=dict)
    actions: dict[int, Payload] = field(default_factory=dict)
    next_action_id: int = 8_100_000

    def region(self, slug: str) -> Payload:
        """The Region payload of a slug."""
        return next(region for region in self.regions if region["slug"] == slug)

    def size(self, slug: str) -> Payload:
        """The Size payload of a slug."""
        return next(size for size in self.sizes if size["slug"] == slug)


def build_fleet(size: int = 40, seed: int = 1) -> Fleet:
    """A fleet of ``size`` servers drawn from ``seed``."""
    rng = random.Random(seed)
    sizes = [_size(row) for row in SIZES]
    regions = [_region(slug, name, sizes, rng) for slug, name, _ in REGIONS]
    images = [_image(row) for row in IMAGES]
    fleet = Fleet(
        account={
            "email": "ops@outback-analytics.com.au",
            "email_verified": True,
            "two_factor_authentication_enabled": True,
            "status": "active",
            "tax_code": GST,
            "configured_payment_methods": ["credit-card"],
            "additional_ipv4_limit": 5,
        },
        regions=regions,
        sizes=sizes,
        images=images,
        servers={},
        data_usages={},
        invoices=[],
    )
    server_id = 410_000
    for index in range(size):
        server_id += rng.randint(1, 40)
        server = _server(rng, fleet, index, server_id)
        fleet.servers[server_id] = server
        fleet.data_usages[server_id] = _data_usage(rng, server)
        active = server["status"] == "active"
        fleet.traffic[server_id] = (
            10 ** rng.uniform(3, 5.5) if active else 0.0,  # outbound kbit/s
            rng.uniform(0.1, 0.4),  # inbound share
            rng.uniform(0, 6.28),  # phase of the daily wave
        )
    fleet.invoices = _invoices(rng, list(fleet.servers.values()))
    return fleet


def _size(row: tuple) -> Payload:
    slug, type_slug, type_name, vcpus, memory, disk, transfer, monthly, cpu, storage = row
    return {
        "slug": slug,
        "description": f"{vcpus} vCPU, {memory // 1024 or 1} GB",
        "cpu_description": cpu,
        "storage_description": storage,
        "size_type": {"slug": type_slug, "name": type_name},
        "available": True,
        "regions": [],
        "regions_out_of_stock": [],
        "price_monthly": monthly,
        "price_hourly": round(monthly / 730, 4),
        "disk": disk,
        "memory": memory,
        "transfer": transfer,
        "excess_transfer_cost_per_gigabyte": 0.1,
        "vcpus": vcpus,
        "vcpu_units": "core",
        "options": {
            "disk_min": disk,
            "disk_max": disk * 4,
            "disk_cost_per_additional_gigabyte": 0.25,
            "restricted_disk_values": None,
            "memory_max": memory * 2,
            "memory_cost_per_additional_megabyte": 0.005,
            "transfer_max": transfer * 4,
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


def _region(slug: str, name: str, sizes: list[Payload], rng: random.Random) -> Payload:
    """A region offering most sizes; each size learns its regions and stock from here."""
    offered = [size for size in sizes if slug in ("syd", "mel") or rng.random() < 0.8]
    for size in offered:
        size["regions"].append(slug)
        if rng.random() < 0.1:
            size["regions_out_of_stock"].append(slug)
    return {
        "slug": slug,
        "name": name,
        "sizes": [size["slug"] for size in offered],
        "available": slug != "per",
        "features": ["backups", "ipv6", "private_networking"],
        "name_servers": NAME_SERVERS,
    }


def _image(row: tuple) -> Payload:
    image_id, slug, distribution, name, full_name, recovery = row
    return {
        "id": image_id,
        "name": name,
        "type": "snapshot",  # spec ImageType: "only distribution images will have this value"
        "distribution": distribution,
        "full_name": full_name,
        "slug": slug,
        "public": True,
        "regions": [slug for slug, _, _ in REGIONS],
        "created_at": None,
        "min_disk_size": 20,
        "size_gigabytes": 2.5,
        "description": None,
        "status": "available",
        "error_message": None,
        "min_memory_megabytes": 2048 if distribution == "Windows" else None,
        "distribution_surcharges": None,
        "distribution_info": {
            "image_id": image_id,
            "password_recovery": recovery,
            "remote_access_user": "Administrator" if distribution == "Windows" else "root",
            "features": ["remote-desktop"] if distribution == "Windows" else ["ssh", "user-data"],
        },
        "backup_info": None,
    }


def _networks(rng: random.Random, index: int, hostname: str, ipv6: bool, vpc: bool) -> Payload:
    """A public IPv4 in its own /24 (netmask as a prefix or a dotted mask), maybe a VPC address
    and an IPv6 /64; the first public IPv4 carries a reverse name."""
    net = ipaddress.IPv4Network((int(ipaddress.IPv4Address("103.16.128.0")) + 256 * index, 24))
    ip = str(net.network_address + rng.randint(10, 250))
    v4 = [
        {
            "ip_address": ip,
            "netmask": 24 if index % 2 else "255.255.255.0",
            "gateway": str(net.network_address + 1),
            "type": "public",
            "reverse_name": hostname if rng.random() < 0.7 else None,
            "nat_target": None,
        }
    ]
    if vpc:
        v4.append(
            {
                "ip_address": f"10.240.{index // 250}.{index % 250 + 2}",
                "netmask": 16,
                "gateway": None,
                "type": "private",
                "reverse_name": None,
                "nat_target": None,
            }
        )
    v6 = []
    if ipv6:
        prefix = f"2401:fc00:{0x100 + index:x}"
        v6.append(
            {
                "ip_address": f"{prefix}::2",
                "netmask": 64,
                "gateway": f"{prefix}::1",
                "type": "public",
                "reverse_name": None,
                "nat_target": None,
            }
        )
    return {
        "v4": v4,
        "v6": v6,
        "port_blocking": True,
        "separate_private_network_interface": False if vpc else None,
        "source_and_destination_check": None,
        "recent_ddos": False,
        "ipv6_reverse_nameservers": None,
    }


def _server(rng: random.Random, fleet: Fleet, index: int, server_id: int) -> Payload:
    region_slug = rng.choices([r[0] for r in REGIONS], weights=[r[2] for r in REGIONS])[0]
    region = fleet.region(region_slug)
    size = fleet.size(rng.choice(region["sizes"] or [s["slug"] for s in fleet.sizes]))
    image = rng.choice(fleet.images)
    status = rng.choices([s for s, _ in STATUSES], weights=[w for _, w in STATUSES])[0]
    hostname = f"{rng.choice(ROLES)}-{index + 1:02d}.outback-analytics.com.au"
    ipv6, vpc = rng.random() < 0.5, rng.random() < 0.25
    created = BILLING_NOW - timedelta(days=rng.randint(20, 900), minutes=rng.randint(0, 1439))
    disks = [{"id": server_id * 10 + 1, "size_gigabytes": float(size["disk"]), "primary": True}]
    if rng.random() < 0.2:
        disks.append({"id": server_id * 10 + 2, "size_gigabytes": 200.0, "primary": False})
    failover = [f"103.16.{250 - index % 5}.{10 + index % 240}"] if rng.random() < 0.15 else []
    return {
        "id": server_id,
        "name": hostname,
        "memory": size["memory"],
        "vcpus": size["vcpus"],
        "disk": int(sum(disk["size_gigabytes"] for disk in disks)),
        "vpc_id": 5001 if vpc else None,
        "created_at": _iso(created),
        "status": status,
        "backup_ids": [],
        "features": ["ipv6"] if ipv6 else [],
        "region": region,
        "image": image,
        "size": size,
        "size_slug": size["slug"],
        "selected_size_options": None,
        "networks": _networks(rng, index, hostname, ipv6, vpc),
        "kernel": None,
        "next_backup_window": None,
        "disks": disks,
        "backup_settings": {
            "backup_hour_of_day": rng.randint(0, 23),
            "backup_day_of_week": rng.randint(0, 6),
            "backup_day_of_month": rng.randint(1, 28),
            "offsite_backup_settings": None,
        },
        "cancelled_at": _iso(BILLING_NOW - timedelta(days=3)) if status == "archive" else None,
        "failover_ips": failover,
        "host": {"display_name": f"{region_slug}-hv{rng.randint(1, 40):02d}", "uptime_ms": None},
        "partner_id": None,
        "password_change_supported": image["distribution"] != "Windows",
        "permalink": None,
        "attached_backup": None,
        "advanced_features": {
            "processor_model": None,
            "machine_type": None,
            "video_device": "standard",
            "enabled_advanced_features": [],
        },
    }


def _data_usage(rng: random.Random, server: Payload) -> Payload:
    allowance = int(server["size"]["transfer"] * 1000)
    period_end = BILLING_NOW + timedelta(days=17)
    return {
        "server_id": server["id"],
        "expires": _iso(period_end),
        "transfer_gigabytes": allowance,
        "current_transfer_usage_gigabytes": round(allowance * rng.uniform(0, 0.9), 2),
        "transfer_period_end": _iso(period_end),
    }


def _invoices(rng: random.Random, servers: list[Payload]) -> list[Payload]:
    """Twelve monthly invoices, newest first: the latest unpaid, one unpaid and overdue."""
    billed = [s for s in servers if s["status"] != "new"][:8] or servers[:1]
    invoices = []
    for month in range(12):
        created = BILLING_NOW - timedelta(days=30 * month)
        items = [
            {
                "name": f"{s['name']} ({s['size_slug']}) monthly",
                "amount": round(s["size"]["price_monthly"] * 1.1, 2),
                "amount_includes_tax": True,
            }
            for s in billed
            if rng.random() < 0.9
        ]
        amount = round(sum(item["amount"] for item in items), 2)
        paid = month not in (0, 2)
        invoice_id = 73_000 + 12 - month
        invoices.append(
            {
                "invoice_id": invoice_id,
                "reference": "OUTBACK-01",
                "invoice_number": f"INV{invoice_id + 300_000}",
                "amount": amount,
                "tax_code": GST,
                "tax": round(amount / 11, 2),
                "created": _iso(created),
                "date_due": _iso(created + timedelta(days=14)),
                "date_overdue": _iso(created + timedelta(days=21)),
                "paid": paid,
                "refunded": False,
                "payment_failure_count": None if paid else 1,
                "invoice_items": items,
                "invoice_download_url": None,
                "invoice_view_url": None,
            }
        )
    return invoices


def _iso(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


__all__ = ["BILLING_NOW", "Fleet", "Payload", "build_fleet"]
