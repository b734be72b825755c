"""Deterministic demo data for the Packet emulator: one organization, its projects and devices.

Payloads are shaped like the spec's schemas (``equinix-metal-openapi.yaml``: Device, Facility,
Metro, Plan, OperatingSystem, IPAssignment, BgpSession, Project, Organization) with the
seed's field names; everything comes from ``random.Random(seed)`` so a seed always yields the
same fleet. Hrefs carry the emulator's base path, as the API's own hrefs do.
"""

from __future__ import annotations

import ipaddress
import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

Entity = dict[str, Any]

CREATED = datetime(2024, 3, 1, 9, 30, tzinfo=UTC)

# (facility code, facility name, metro code or None, metro name, country, city, weight).
# ``ewr1`` is an old Packet facility without a metro; ``mt1`` (Montreal) is a metro the
# gateway's location table does not know.
FACILITIES = [
    ("am6", "Amsterdam AM6", "am", "Amsterdam", "NL", "Amsterdam", 4),
    ("fr2", "Frankfurt FR2", "fr", "Frankfurt", "DE", "Frankfurt", 3),
    ("ld7", "London LD7", "ld", "London", "GB", "Slough", 4),
    ("ny5", "New York NY5", "ny", "New York", "US", "Secaucus", 3),
    ("sg1", "Singapore SG1", "sg", "Singapore", "SG", "Singapore", 3),
    ("da11", "Dallas DA11", "da", "Dallas", "US", "Dallas", 2),
    ("sv15", "Silicon Valley SV15", "sv", "Silicon Valley", "US", "San Jose", 2),
    ("ty11", "Tokyo TY11", "ty", "Tokyo", "JP", "Tokyo", 1),
    ("sy4", "Sydney SY4", "sy", "Sydney", "AU", "Sydney", 1),
    ("ewr1", "Parsippany, NJ", None, "", "US", "Parsippany", 1),
    ("mt1", "Montreal MT1", "mt", "Montreal", "CA", "Montreal", 1),
]

# (slug, cpus [(count, type)], memory, drives [(count, type, size, category)], nics, $/hour)
PLANS = [
    (
        "c3.small.x86",
        [(1, "Intel Xeon E-2278G 8-Core Processor @ 3.40GHz")],
        "32GB",
        [(2, "SSD", "480GB", "boot")],
        [(2, "10Gbps")],
        0.75,
    ),
    (
        "c3.medium.x86",
        [(1, "AMD EPYC 7402P 24-Core Processor @ 2.8GHz")],
        "64GB",
        [(2, "SSD", "240GB", "boot"), (2, "SSD", "480GB", "storage")],
        [(2, "10Gbps")],
        1.5,
    ),
    (
        "m3.large.x86",
        [(1, "AMD EPYC 7502P 32-Core Processor @ 2.5GHz")],
        "256GB",
        [(2, "SSD", "240GB", "boot"), (2, "NVME", "3.8TB", "storage")],
        [(2, "25Gbps")],
        3.1,
    ),
    (
        "s3.xlarge.x86",
        [(1, "Intel Xeon Silver 4214 12-Core Processor @ 2.20GHz")],
        "192GB",
        [
            (2, "SSD", "960GB", "boot"),
            (2, "NVME", "256GB", "cache"),
            (12, "HDD", "8TB", "storage"),
        ],
        [(2, "25Gbps")],
        2.95,
    ),
    (
        "n3.xlarge.x86",
        [(2, "Intel Xeon Gold 6314U 32-Core Processor @ 2.30GHz")],
        "512GB",
        [(2, "SSD", "240GB", "boot"), (4, "NVME", "3.8TB", "storage")],
        [(4, "25Gbps")],
        4.5,
    ),
]

# (slug, name, distro, version)
OPERATING_SYSTEMS = [
    ("ubuntu_22_04", "Ubuntu 22.04 LTS", "ubuntu", "22.04"),
    ("ubuntu_24_04", "Ubuntu 24.04 LTS", "ubuntu", "24.04"),
    ("debian_12", "Debian 12", "debian", "12"),
    ("rocky_9", "Rocky Linux 9", "rocky", "9"),
    ("alma_9", "AlmaLinux 9", "alma", "9"),
    ("windows_2022", "Windows 2022 Standard", "windows", "2022"),
]

# state -> weight; mostly running machines, a few off, a few in every other stage.
STATES = [("active", 14), ("inactive", 3), ("provisioning", 1), ("queued", 1), ("failed", 1)]
ROLES = ["web", "db", "cache", "worker", "edge", "ci"]
TAG_CHOICES = ["env=prod", "env=staging", "team=core", "team=data", "k8s", "backup=daily"]
#: Capacity levels as the real API reports them (the spec types ``level`` as a plain string).
LEVELS = ["normal", "normal", "limited", "unavailable"]


def _weighted(rng: random.Random, choices: list[tuple[str, int]]) -> str:
    return rng.choices([value for value, _ in choices], weights=[w for _, w in choices])[0]


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


@dataclass
class Fleet:
    """Everything the emulator serves; devices are mutable, the catalog is not."""

    base_path: str
    organization: Entity
    projects: list[Entity]
    facilities: dict[str, Entity]
    plans: dict[str, Entity]
    operating_systems: list[Entity]
    devices: dict[str, Entity] = field(default_factory=dict)
    #: device id -> BgpSession list.
    bgp_sessions: dict[str, list[Entity]] = field(default_factory=dict)
    capacity: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def project_ids(self) -> list[str]:
        """The ids of the organization's projects, in creation order."""
        return [project["id"] for project in self.projects]

    def project_devices(self, project_id: str) -> list[Entity]:
        """A project's devices in creation order (the emulator's stable list order)."""
        return [d for d in self.devices.values() if d["_project"] == project_id]


def build_fleet(size: int, seed: int, base_path: str = "", projects: int = 2) -> Fleet:
    """A fleet of ``size`` devices spread over ``projects`` projects of one organization."""
    rng = random.Random(seed)
    org_id = _uuid(rng)
    organization = {
        "id": org_id,
        "name": "Marlowe Labs",
        "description": "Demo organization of the Packet emulator",
        "created_at": _iso(CREATED - timedelta(days=400)),
        "updated_at": _iso(CREATED),
        "href": f"{base_path}/organizations/{org_id}",
        "projects": [],
    }
    metros = {
        code: {"id": _uuid(rng), "code": code, "name": name, "country": country}
        for _, _, code, name, country, _, _ in FACILITIES
        if code
    }
    facilities = {
        code: _facility(rng, code, name, metros.get(metro), country, town)
        for code, name, metro, _, country, town, _ in FACILITIES
    }
    plans = {spec[0]: _plan(rng, base_path, spec, facilities) for spec in PLANS}
    systems = [_os(rng, *spec) for spec in OPERATING_SYSTEMS]
    fleet = Fleet(
        base_path=base_path,
        organization=organization,
        projects=[],
        facilities=facilities,
        plans=plans,
        operating_systems=systems,
    )
    for index in range(projects):
        fleet.projects.append(_project(rng, fleet, index))
    organization["projects"] = [{"href": p["href"]} for p in fleet.projects]
    weights = [w for *_, w in FACILITIES]
    for index in range(size):
        project = fleet.projects[index % len(fleet.projects)]
        facility = rng.choices(list(facilities), weights=weights)[0]
        device = _device(rng, fleet, index, project, facility)
        fleet.devices[device["id"]] = device
        if rng.random() < 0.2 and device["state"] == "active":
            fleet.bgp_sessions[device["id"]] = _bgp_sessions(rng, fleet, device)
    fleet.capacity = {
        code: {slug: rng.choice(LEVELS) for slug in plans if rng.random() < 0.7}
        for code in facilities
    }
    return fleet


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _facility(
    rng: random.Random, code: str, name: str, metro: Entity | None, country: str, town: str
) -> Entity:
    facility = {
        "id": _uuid(rng),
        "code": code,
        "name": name,
        "features": ["baremetal", "backend_transfer", "global_ipv4"],
        "address": {
            "address": f"{rng.randint(1, 300)} Datacenter Way",
            "city": town,
            "country": country,
            "zip_code": f"{rng.randint(10000, 99999)}",
            "coordinates": {
                "latitude": f"{rng.uniform(-40, 60):.4f}",
                "longitude": f"{rng.uniform(-120, 150):.4f}",
            },
        },
    }
    if metro is not None:
        facility["metro"] = dict(metro)
    return facility


def _plan(rng: random.Random, base: str, spec: tuple, facilities: dict[str, Entity]) -> Entity:
    slug, cpus, memory, drives, nics, hourly = spec
    return {
        "id": _uuid(rng),
        "slug": slug,
        "name": slug.split(".")[0].upper() + " " + slug.split(".")[1].capitalize(),
        "description": f"{slug} bare metal server",
        "line": "baremetal",
        "class": slug,
        "type": "standard",
        "categories": ["compute", "current_gen"],
        "deployment_types": ["on_demand", "spot_market"],
        "legacy": False,
        "pricing": {"hour": hourly},
        "specs": {
            "cpus": [{"count": count, "type": kind} for count, kind in cpus],
            "memory": {"total": memory},
            "drives": [
                {"count": count, "type": kind, "size": size, "category": category}
                for count, kind, size, category in drives
            ],
            "nics": [{"count": count, "type": kind} for count, kind in nics],
            "features": {"raid": True, "txt": True, "uefi": True},
        },
        "available_in": [
            {"href": f"{base}/facilities/{f['id']}", "price": {"hour": hourly}}
            for f in facilities.values()
        ],
    }


def _os(rng: random.Random, slug: str, name: str, distro: str, version: str) -> Entity:
    return {
        "id": _uuid(rng),
        "slug": slug,
        "name": name,
        "distro": distro,
        "version": version,
        "provisionable_on": [spec[0] for spec in PLANS],
        "preinstallable": distro != "windows",
        "licensed": distro == "windows",
        "pricing": {},
    }


def _project(rng: random.Random, fleet: Fleet, index: int) -> Entity:
    project_id = _uuid(rng)
    base = fleet.base_path
    return {
        "id": project_id,
        "name": ["Production", "Staging", "Research", "Edge"][index % 4],
        "created_at": _iso(CREATED - timedelta(days=300 - index)),
        "updated_at": _iso(CREATED),
        "href": f"{base}/projects/{project_id}",
        "organization": {"id": fleet.organization["id"], "href": fleet.organization["href"]},
        "bgp_config": {"href": f"{base}/projects/{project_id}/bgp-config"},
        "devices": [],
        "type": "default",
    }


def _device(
    rng: random.Random, fleet: Fleet, index: int, project: Entity, facility_code: str
) -> Entity:
    device_id = _uuid(rng)
    base = fleet.base_path
    facility = fleet.facilities[facility_code]
    plan = fleet.plans[rng.choice(list(fleet.plans))]
    role = rng.choice(ROLES)
    # The first devices take every state once, so any fleet shows each of them.
    state = STATES[index][0] if index < len(STATES) else _weighted(rng, STATES)
    created = CREATED + timedelta(hours=index * 7 + rng.randint(0, 6))
    device = {
        "id": device_id,
        "short_id": device_id[:8],
        "hostname": f"{role}-{facility_code}-{index:03d}",
        "description": rng.choice(["", "", f"{role} node {index}", f"{role}-{index}"]),
        "state": state,
        "tags": sorted(rng.sample(TAG_CHOICES, rng.randint(0, 3))),
        "billing_cycle": "hourly",
        "always_pxe": False,
        "locked": rng.random() < 0.1,
        "spot_instance": False,
        "bonding_mode": 4,
        "user": "root",
        "created_at": _iso(created),
        "updated_at": _iso(created),
        "customdata": {},
        "href": f"{base}/devices/{device_id}",
        "facility": facility,
        "plan": plan,
        "operating_system": rng.choice(fleet.operating_systems),
        "project": {"href": project["href"]},
        "project_lite": {"href": project["href"]},
        "ssh_keys": [],
        "volumes": [],
        "ip_addresses": _ips(rng, base, device_id, index, facility),
        "network_frozen": False,
        "_project": project["id"],
    }
    if "metro" in facility:
        device["metro"] = facility["metro"]
    if state == "provisioning":
        device["provisioning_percentage"] = float(rng.randint(5, 95))
    project["devices"].append({"href": device["href"]})
    return device


def _ips(rng: random.Random, base: str, device_id: str, index: int, facility: Entity) -> list:
    """A public IPv4 /31, a public IPv6 /127 and a private IPv4 /31, as Equinix assigns."""
    third, fourth = divmod(index * 2, 256)
    public_net = f"147.75.{40 + third}.{fourth}"
    public = f"147.75.{40 + third}.{fourth + 1}"
    private_net = f"10.70.{third}.{fourth}"
    private = f"10.70.{third}.{fourth + 1}"
    v6_net = ipaddress.IPv6Address(f"2604:1380:4641:{index:x}00::")
    v6_mask = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe"
    specs = [
        (4, True, public, public_net, public_net, 31, "255.255.255.254"),
        (6, True, str(v6_net + 1), str(v6_net), str(v6_net), 127, v6_mask),
        (4, False, private, private_net, private_net, 31, "255.255.255.254"),
    ]
    assignments = []
    for family, public_ip, address, network, gateway, cidr, netmask in specs:
        assignment_id = _uuid(rng)
        assignments.append(
            {
                "id": assignment_id,
                "address_family": family,
                "address": address,
                "network": network,
                "gateway": gateway,
                "cidr": cidr,
                "netmask": netmask,
                "public": public_ip,
                "management": True,
                "manageable": True,
                "enabled": True,
                "global_ip": False,
                "created_at": _iso(CREATED),
                "href": f"{base}/ips/{assignment_id}",
                "assigned_to": {"href": f"{base}/devices/{device_id}"},
                "parent_block": {
                    "network": network,
                    "netmask": netmask,
                    "cidr": cidr,
                    "href": f"{base}/ips/{_uuid(rng)}",
                },
                "type": "IPAssignment",
            }
        )
        if "metro" in facility:
            assignments[-1]["metro"] = facility["metro"]
    return assignments


def _bgp_sessions(rng: random.Random, fleet: Fleet, device: Entity) -> list[Entity]:
    sessions = []
    for family in ("ipv4", "ipv6")[: rng.randint(1, 2)]:
        session_id = _uuid(rng)
        sessions.append(
            {
                "id": session_id,
                "address_family": family,
                "status": rng.choice(["up", "up", "up,up", "down", "unknown"]),
                "learned_routes": [f"10.32.16.{rng.randint(0, 127) * 2}/31"],
                "default_route": False,
                "device": {"href": device["href"]},
                "href": f"{fleet.base_path}/bgp/sessions/{session_id}",
                "created_at": device["created_at"],
                "updated_at": device["created_at"],
            }
        )
    return sessions
