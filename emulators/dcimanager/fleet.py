"""The DCImanager emulator's data: a seeded installation in the seed's payload shapes.

Example:
    fleet = build_fleet(size=30, seed=1)
    fleet.list_item(fleet.servers[1001])   # one item of GET /api/dci/v3/server

Servers are stored as the seed's "List of servers" items (plain dicts), so rendering is a
copy; the single-server answer drops the fields the seed's "Server info by ID" example
lacks. Asynchronous actions are timestamps settled lazily on the next request.
"""

from __future__ import annotations

import copy
import ipaddress
import itertools
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Fleet", "build_fleet"]

Payload = dict[str, Any]

#: (id, name, geolocation, rack prefix, IPv4 /16, IPv6 /32). Names are what an operator
#: would type; the adapter maps city names to FleetQL cities.
LOCATIONS = [
    (1, "Amsterdam", "Science Park 610, 1098 XH Amsterdam", "ams", "185.102", "2a0c:9a40"),
    (2, "Frankfurt", "Kleyerstrasse 90, 60326 Frankfurt am Main", "fra", "185.103", "2a0c:9a41"),
    (3, "London", "6-8 Harbour Exchange Square, London E14 9GE", "lon", "185.104", "2a0c:9a42"),
    (4, "New York", "111 8th Avenue, New York, NY 10011", "nyc", "185.105", "2a0c:9a43"),
    (5, "Singapore", "20 Ayer Rajah Crescent, Singapore 139964", "sin", "185.106", "2a0c:9a44"),
    (6, "Prague", "Kodanska 1441/46, 101 00 Praha 10", "prg", "185.107", "2a0c:9a45"),
]
#: Configuration names in the seed's own style ("i9-9900K-64Gb-2x1024NVMe").
CONFIGURATIONS = [
    "i9-9900K-64Gb-2x1024NVMe",
    "E-2288G-32Gb-2x480SSD",
    "2xE5-2680v4-128Gb-4x4000HDD",
    "EPYC-7402P-128Gb-2x1920NVMe",
    "Ryzen-9-5950X-128Gb-2x3840NVMe",
    "Xeon-Silver-4214-96Gb-8x8000HDD",
]
PLATFORMS = [
    (1, "Supermicro SYS-5019C-M", 1),
    (2, "Dell PowerEdge R640", 1),
    (3, "HPE ProLiant DL380 Gen10", 2),
]
OS_TEMPLATES = [
    (11, "Ubuntu 22.04", ["linux"]),
    (12, "Debian 12", ["linux"]),
    (13, "AlmaLinux 9", ["linux"]),
    (14, "Windows Server 2022", ["windows"]),
    (15, "Proxmox VE 8", ["linux", "hypervisor"]),
]
#: The installation's customer accounts (id, email): a server's ``owner``.
CUSTOMERS = [
    (2, "ops@acme.example"),
    (3, "infra@globex.example"),
    (4, "noc@initech.example"),
    (5, "hosting@umbrella.example"),
]
ROLES = ["web", "db", "cache", "edge", "build", "mail"]
#: Fields of a list item absent from the seed's "Server info by ID" example.
LIST_ONLY = (
    "perform_info",
    "settings",
    "intel_amt",
    "main_ipv6",
    "chassis",
    "slot",
    "owner",
    "owner_email",
    "diag_error",
    "is_new",
)
FIRST_SERVER_ID = 1001


@dataclass
class _Pending:
    """A change that lands at ``due`` (monotonic seconds)."""

    due: float
    apply: Callable[[Payload], None]


@dataclass
class Fleet:
    """Servers by id (ascending), free stock, and the changes still in flight."""

    servers: dict[int, Payload]
    configurations: list[Payload]
    pending: dict[int, list[_Pending]] = field(default_factory=dict)
    task_ids: itertools.count = field(default_factory=lambda: itertools.count(5001))

    def settle(self, now: float) -> None:
        """Apply every pending change whose time has come."""
        for server_id, changes in list(self.pending.items()):
            for change in [c for c in changes if c.due <= now]:
                change.apply(self.servers[server_id])
                changes.remove(change)
            if not changes:
                del self.pending[server_id]

    def schedule(
        self, server_id: int, now: float, delay: float, apply: Callable[[Payload], None]
    ) -> int:
        """Queue a change for ``server_id`` after ``delay`` seconds; returns its task id."""
        self.pending.setdefault(server_id, []).append(_Pending(now + delay, apply))
        return next(self.task_ids)

    @staticmethod
    def list_item(server: Payload) -> Payload:
        """The server as one item of ``GET /api/dci/v3/server``."""
        return copy.deepcopy(server)

    @staticmethod
    def single(server: Payload) -> Payload:
        """The server as ``GET /api/dci/v3/server/{id}`` answers it."""
        item = {k: copy.deepcopy(v) for k, v in server.items() if k not in LIST_ONLY}
        for port in item["switch_connection"]:
            port.pop("do_not_collect_traffic", None)
            port.pop("is_ipmi_connection", None)
        if item.get("operation"):
            item["operation"].pop("status_info", None)
        return item


def build_fleet(size: int, seed: int) -> Fleet:
    """A deterministic installation of ``size`` servers spread over ``LOCATIONS``."""
    rng = random.Random(seed)
    ip_ids = itertools.count(701)
    servers = {}
    for index in range(size):
        server_id = FIRST_SERVER_ID + index
        servers[server_id] = _server(rng, server_id, index, ip_ids)
    stock = [
        {"configuration": name, "free_server_count": rng.choice([0, 1, 3, 7, 12, 42])}
        for name in CONFIGURATIONS
    ]
    stock[0]["free_server_count"] = 42  # the seed's own example
    return Fleet(servers=servers, configurations=stock)


def _server(rng: random.Random, server_id: int, index: int, ip_ids: itertools.count) -> Payload:
    loc_id, loc_name, geo, code, v4, v6 = LOCATIONS[index % len(LOCATIONS)]
    per_location = index // len(LOCATIONS)
    rack, unit = 1 + per_location // 20, 1 + per_location % 20 * 2
    owner_id, owner_email = rng.choice(CUSTOMERS)
    template = rng.choice([*OS_TEMPLATES, None])
    platform = rng.choice(PLATFORMS)
    state = rng.choices(["ok", "suspended", "resuming", "suspend_error"], weights=[88, 7, 2, 3])[0]
    ipmi_status = rng.choices(["on", "off", "unknown"], weights=[80, 15, 5])[0]
    ips = _addresses(rng, server_id, index, v4, v6, ip_ids)
    name = f"{code}-r{rack:02d}-u{unit:02d}"
    organisation = owner_email.partition("@")[2]
    domain = "" if rng.random() < 0.15 else f"{rng.choice(ROLES)}-{index:03d}.{organisation}"
    return {
        "operation": _operation(rng, server_id) if state == "ok" and rng.random() < 0.1 else None,
        "domain": domain,
        "id": server_id,
        "os_template": (
            {"id": template[0], "name": template[1], "tags": list(template[2])}
            if template
            else None
        ),
        "hardware_info": {},
        "perform_info": {},
        "configuration": rng.choice(CONFIGURATIONS),
        "settings": {"efi": rng.random() < 0.7},
        "state": state,
        "state_info": "",
        "ip": ips,
        "switch_connection": [_switch_port(server_id, loc_id, rack, unit, state)],
        "pdu_connection": {
            "port_id": server_id * 10 + 1,
            "port_identity": f"{unit}",
            "pdu_id": loc_id * 100 + rack,
            "pdu_name": f"{code}-pdu-r{rack:02d}a",
            "connection_id": server_id * 10 + 2,
            "power_status": "down" if ipmi_status == "off" and rng.random() < 0.3 else "up",
        },
        "ipmi": {
            "address": f"10.{loc_id}.{index // 250}.{index % 250 + 2}",
            "id": server_id + 9000,
            "status": ipmi_status,
            "status_info": {},
            "type": rng.choice(["IPMI v1.5/v2", "IPMI v2(lanplus)"]),
            "web_url": f"https://10.{loc_id}.{index // 250}.{index % 250 + 2}/",
        },
        "intel_amt": None,
        "location": {"geolocation": geo, "id": loc_id, "name": loc_name, "userspace": loc_id},
        "location_id": loc_id,
        "mac": "0c:c4:7a:" + ":".join(f"{rng.randrange(256):02x}" for _ in range(3)),
        "main_ipv4": ips[0]["id"],
        "main_ipv6": next((ip["id"] for ip in ips if ip["family"] == "ipv6"), 0),
        "name": name,
        "platform": {"id": platform[0], "name": platform[1], "size": platform[2], "type": "server"},
        "rack": {"id": loc_id * 100 + rack, "name": f"{code.upper()}-R{rack:02d}", "size": 42},
        "unit": unit,
        "chassis": None,
        "slot": 0,
        "owner": {"id": owner_id, "email": owner_email},
        "owner_email": owner_email,
        "diag_error": [],
        "is_new": False,
    }


def _addresses(
    rng: random.Random, server_id: int, index: int, v4: str, v6: str, ip_ids: itertools.count
) -> list[Payload]:
    net = ipaddress.ip_network(f"{v4}.{index // 250}.0/24")
    main = {
        "domain": "",
        "family": "ipv4",
        "gateway": str(net.network_address + 1),
        "id": next(ip_ids),
        "name": str(net.network_address + index % 250 + 2),
        "network": str(net),
        "status": "ok",
        "status_info": {},
    }
    ips = [main]
    if rng.random() < 0.3:
        extra = dict(main, id=next(ip_ids), name=str(net.network_address + 252 - index % 200))
        extra["status"] = rng.choices(["ok", "allocating"], weights=[9, 1])[0]
        ips.append(extra)
    if rng.random() < 0.5:
        prefix = ipaddress.ip_network(f"{v6}:{server_id:x}::/64")
        ips.append(
            {
                "domain": "",
                "family": "ipv6",
                "gateway": str(prefix.network_address + 1),
                "id": next(ip_ids),
                "name": str(prefix.network_address + 2),
                "network": str(prefix),
                "status": "ok",
                "status_info": {},
            }
        )
    return ips


def _switch_port(server_id: int, loc_id: int, rack: int, unit: int, state: str) -> Payload:
    # Suspension deactivates the server's connection ports (seed: "suspend").
    status = "down" if state in ("suspended", "suspending") else "up"
    return {
        "id": server_id * 10,
        "switch": loc_id * 100 + rack,
        "connection_id": server_id * 10 + 3,
        "description": f"GigabitEthernet1/0/{unit}",
        "admin_status": status,
        "oper_status": status,
        "do_not_collect_traffic": False,
        "is_ipmi_connection": False,
    }


def _operation(rng: random.Random, server_id: int) -> Payload:
    return {
        "id": server_id + 20000,
        "status": "in_progress",
        "status_info": {},
        "progress_info": [{"name": rng.choice(["os_install", "diag", "clear_hdd"])}],
    }
