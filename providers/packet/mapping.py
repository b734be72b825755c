"""Pure mapping from Packet / Equinix Metal payloads to FleetQL's GraphQL-shaped dicts.

Every function takes upstream JSON (as the seed and ``equinix-metal-openapi.yaml`` describe it)
and returns plain values; nothing here does I/O. The choices where Packet has no DataPacket
equivalent are documented in ``providers/packet/adapter.py``.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from typing import Any

from providers.locations import city, unknown_location
from providers.observed import add_observed_fields
from providers.statuses import deprecated_status

__all__ = [
    "DEVICE_STATES",
    "DeviceLink",
    "FACILITY_CITIES",
    "METRO_CITIES",
    "city_key",
    "device_location",
    "device_server",
    "hardware_from_plan",
    "ip_address",
    "links_device",
    "map_device",
    "parse_size_gb",
    "parse_tags",
    "plan_cpu_cores",
    "session_is_up",
    "tag_string",
    "up_session_links",
    "uplink_gbps",
]

# --- locations ------------------------------------------------------------------------

#: Equinix Metal metro codes (``Device.metro.code``, ``Facility.metro.code``) -> CITIES key.
METRO_CITIES: dict[str, str] = {
    "am": "AMS",  # Amsterdam
    "at": "ATL",  # Atlanta
    "ch": "CHI",  # Chicago
    "da": "DAL",  # Dallas
    "dc": "WDC",  # Washington DC (Ashburn)
    "fr": "FRA",  # Frankfurt
    "hk": "HKG",  # Hong Kong
    "la": "LAX",  # Los Angeles
    "ld": "LON",  # London
    "md": "MAD",  # Madrid
    "ny": "NYC",  # New York (Secaucus)
    "pa": "PAR",  # Paris
    "se": "SEA",  # Seattle
    "sg": "SIN",  # Singapore
    "sk": "STO",  # Stockholm
    "sp": "SAO",  # São Paulo
    "sv": "SJC",  # Silicon Valley
    "sy": "SYD",  # Sydney
    "tr": "TOR",  # Toronto
    "ty": "TYO",  # Tokyo
}

#: Packet's own facility codes (the seed's capacity example, L461-640) -> CITIES key.
#: Equinix IBX facility codes (``am6``, ``ld7``, ``da11``…) are their metro code plus a
#: number, so they resolve through ``METRO_CITIES`` instead.
FACILITY_CITIES: dict[str, str] = {
    "ams1": "AMS",
    "atl1": "ATL",
    "dfw1": "DAL",
    "dfw2": "DAL",
    "ewr1": "NYC",  # Newark, New York metro
    "fra1": "FRA",
    "fra2": "FRA",
    "hkg1": "HKG",
    "iad1": "WDC",  # Ashburn, Washington metro
    "iad2": "WDC",
    "lax1": "LAX",
    "lax2": "LAX",
    "nrt1": "TYO",  # Narita, Tokyo
    "ord1": "CHI",
    "ord2": "CHI",
    "sea1": "SEA",
    "sin1": "SIN",
    "sin3": "SIN",
    "sjc1": "SJC",
    "syd1": "SYD",
    "syd2": "SYD",
    "yyz1": "TOR",
}

_IBX_CODE = re.compile(r"^([a-z]{2})\d+$")


def city_key(metro_code: str | None, facility_code: str | None) -> str | None:
    """The CITIES key of a metro or facility code, or None when no table knows it."""
    if metro_code and metro_code.lower() in METRO_CITIES:
        return METRO_CITIES[metro_code.lower()]
    code = (facility_code or "").lower()
    if code in FACILITY_CITIES:
        return FACILITY_CITIES[code]
    match = _IBX_CODE.match(code)
    return METRO_CITIES.get(match.group(1)) if match else None


def device_location(device: dict[str, Any]) -> dict[str, str]:
    """``Location`` from ``metro`` (Equinix) or ``facility`` (Packet); unknown codes as given."""
    metro = device.get("metro") or {}
    facility = device.get("facility") or {}
    key = city_key(metro.get("code"), facility.get("code"))
    if key is not None:
        return city(key)
    return unknown_location(metro.get("name") or facility.get("name") or facility.get("code"))


# --- state ----------------------------------------------------------------------------

#: Every ``Device.state`` of the spec -> (powerStatus, statusV2); the deprecated ``status``
#: follows from statusV2 (``providers.statuses``). Packet has no power field; ``inactive`` is
#: "powered off completely" and ``active`` "powered on completely" (spec, Device.state).
#: Transitional and provisioning states do not say whether the machine has power, so they
#: report UNKNOWN.
DEVICE_STATES: dict[str, tuple[str, str]] = {
    "queued": ("UNKNOWN", "WAITING"),
    "provisioning": ("UNKNOWN", "PROVISIONING"),
    "deprovisioning": ("UNKNOWN", "MAINTENANCE"),
    "reinstalling": ("UNKNOWN", "MAINTENANCE"),
    "active": ("ON", "ACTIVE"),
    "inactive": ("OFF", "ACTIVE"),
    "failed": ("UNKNOWN", "MAINTENANCE"),
    "powering_on": ("UNKNOWN", "ACTIVE"),
    "powering_off": ("UNKNOWN", "ACTIVE"),
    "deleted": ("UNKNOWN", "UNREACHABLE"),
}
#: A state the spec does not list (the API may grow): nothing can be said about it.
UNKNOWN_STATE = ("UNKNOWN", "UNREACHABLE")


# --- tags -----------------------------------------------------------------------------


def parse_tags(tags: Iterable[str] | None) -> list[dict[str, str]]:
    """Packet's string tags as ``ServerTag``s: ``key=value``; a tag without ``=`` has value ""."""
    result = []
    for tag in tags or []:
        key, _, value = tag.partition("=")
        result.append({"key": key, "value": value})
    return result


def tag_string(key: str, value: str) -> str:
    """The Packet tag string for a ``ServerTag`` (``key`` alone when the value is empty)."""
    return f"{key}={value}" if value else key


# --- hardware -------------------------------------------------------------------------

_SIZE = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([KMGTP]i?B?)\s*$", re.IGNORECASE)
_GB_PER_UNIT = {"K": 1e-6, "M": 1e-3, "G": 1, "T": 1000, "P": 1_000_000}
#: ``Plan.specs.drives[].type`` -> StorageType. Types outside this table are left out.
_DRIVE_TYPES = {"nvme": "NVME", "ssd": "SSD", "hdd": "HDD", "sata": "HDD", "emmc": "EMMC"}


def parse_size_gb(size: str | None) -> int | None:
    """``"3.84TB"`` (the spec's Plan example) -> 3840; unparsable -> None."""
    match = _SIZE.match(size or "")
    if not match:
        return None
    return round(float(match.group(1)) * _GB_PER_UNIT[match.group(2)[0].upper()])


def _count(value: Any) -> int | None:
    """A count the plan states (a positive integer), else None."""
    try:
        count = int(value)
    except (TypeError, ValueError):
        return None
    return count if count > 0 else None


def hardware_from_plan(plan: dict[str, Any] | None) -> dict[str, list]:
    """``Hardware`` from ``Plan.specs`` (cpus, memory.total, drives) per the spec's Plan schema.

    Each ``specs.cpus`` entry is a processor model (``type``) and how many of it the plan has
    (``count``), DataPacket's physical CPUs; a missing count is null, not guessed. Memory is
    reported as a total only, so it becomes one RAM entry of that size.
    """
    specs = (plan or {}).get("specs") or {}
    cpus = [
        {"count": _count(cpu.get("count")), "name": str(cpu.get("type") or "")}
        for cpu in specs.get("cpus") or []
    ]
    memory = parse_size_gb((specs.get("memory") or {}).get("total"))
    rams = [{"count": 1, "size": memory}] if memory else []
    hdds = []
    for drive in specs.get("drives") or []:
        size = parse_size_gb(drive.get("size"))
        kind = _DRIVE_TYPES.get(str(drive.get("type") or "").lower())
        if size is not None and kind is not None:
            hdds.append(
                {"count": int(drive.get("count") or 1), "storage": {"size": size, "type": kind}}
            )
    return {"cpus": cpus, "hdds": hdds, "rams": rams}


_NIC_SPEED = re.compile(r"^\s*(\d+)\s*Gbps\s*$", re.IGNORECASE)


def uplink_gbps(plan: dict[str, Any] | None) -> int | None:
    """Total NIC speed from ``Plan.specs.nics`` (``{"count": 2, "type": "10Gbps"}`` -> 20)."""
    nics = ((plan or {}).get("specs") or {}).get("nics") or []
    total = 0
    for nic in nics:
        match = _NIC_SPEED.match(str(nic.get("type") or ""))
        if match is None:
            return None
        total += int(nic.get("count") or 1) * int(match.group(1))
    return total or None


# --- network --------------------------------------------------------------------------


def ip_address(assignment: dict[str, Any]) -> dict[str, Any]:
    """``IpAddress`` from an ``IPAssignment``.

    Packet has no "primary" flag: the public IPv4 assigned with the device (``management``)
    is the primary one. Assignments are never BGP prefixes.
    """
    address = assignment["address"]
    family = assignment.get("address_family")
    cidr = assignment.get("cidr")
    network = assignment.get("network")
    is_v4 = family == 4 or (family is None and ":" not in address)
    broadcast = None
    # A /31 or /32 has no broadcast address (RFC 3021); Equinix assigns /31s to devices.
    if is_v4 and network and cidr is not None and int(cidr) <= 30:
        broadcast = str(ipaddress.ip_network(f"{network}/{cidr}", strict=False).broadcast_address)
    return {
        "ip": address,
        "cidr": f"{address}/{cidr}" if cidr is not None else address,
        "gateway": assignment.get("gateway"),
        "network": network,
        "netMask": assignment.get("netmask"),
        "broadcast": broadcast,
        "isPrimary": bool(is_v4 and assignment.get("public") and assignment.get("management")),
        "isBgpPrefix": False,
        "type": "IPV4" if is_v4 else "IPV6",
    }


def session_is_up(session: dict[str, Any]) -> bool:
    """Whether a BGP session is established; ``status`` may list one value per switch."""
    return "up" in re.split(r"[\s,]+", str(session.get("status") or "").lower())


#: A link to a device: ``("id", <device id>)`` or ``("href", <the device's href>)``.
DeviceLink = tuple[str, str]


def up_session_links(sessions: Iterable[dict[str, Any]]) -> set[DeviceLink]:
    """The links to the devices of the sessions that are up (``device.id`` and ``device.href``).

    A link is compared whole with a device's own ``id`` or ``href`` (``links_device``), never
    taken apart: the spec types ``href`` as a plain string, so no id can be read out of it.
    """
    links: set[DeviceLink] = set()
    for session in sessions:
        device = session.get("device")
        if session_is_up(session) and isinstance(device, dict):
            links.update(_links(device))
    return links


def links_device(links: set[DeviceLink], device: dict[str, Any]) -> bool:
    """Whether one of ``links`` names ``device``, by its ``id`` or its own ``href``."""
    return not links.isdisjoint(_links(device))


def _links(entity: dict[str, Any]) -> list[DeviceLink]:
    return [(k, v) for k in ("id", "href") if isinstance(v := entity.get(k), str) and v]


# --- device ---------------------------------------------------------------------------


def map_device(device: dict[str, Any], prefix: str, has_bgp: bool | None = None) -> dict[str, Any]:
    """A ``Server`` dict from a ``Device``; ``hasBgp`` is null unless ``has_bgp`` was found out."""
    power, status_v2 = DEVICE_STATES.get(device.get("state") or "", UNKNOWN_STATE)
    plan = device.get("plan")
    os_name = (device.get("operating_system") or {}).get("name")
    return {
        "name": f"{prefix}-{device['id']}",
        "hostname": device.get("hostname"),
        "alias": device.get("description") or None,
        "location": device_location(device),
        "hardware": hardware_from_plan(plan),
        "network": {
            "ipAddresses": [ip_address(a) for a in device.get("ip_addresses") or []],
            "ipmi": {"ip": None, "username": None},
            "ddosShieldLevel": "UNKNOWN",
            "uplinkCapacity": uplink_gbps(plan),
            "hasBgp": has_bgp,
        },
        "system": {"os": {"name": os_name or ""}, "raid": "UNKNOWN"},
        "tags": parse_tags(device.get("tags")),
        "powerStatus": power,
        "statusV2": status_v2,
        "status": deprecated_status(status_v2),
        "trafficPlan": {"name": None},
        "uptime": None,
        "billing": None,
    }


# --- the live DataPacket API's observed fields (providers/observed.py) ---------------------

_CORES_IN_NAME = re.compile(r"\b(\d+)-Core\b", re.IGNORECASE)


def plan_cpu_cores(plan: dict[str, Any] | None) -> list[int | None]:
    """Cores per CPU of ``Plan.specs.cpus``, as the processor ``type`` names them.

    The spec's ``cpus`` items have only ``count`` and ``type``; the type is the processor's
    name, which says its cores ("AMD EPYC 7402P 24-Core Processor @ 2.8GHz"). A name that
    does not say them gives null.
    """
    cores: list[int | None] = []
    for cpu in ((plan or {}).get("specs") or {}).get("cpus") or []:
        match = _CORES_IN_NAME.search(str(cpu.get("type") or ""))
        cores.append(int(match[1]) if match else None)
    return cores


def device_server(
    device: dict[str, Any], prefix: str, has_bgp: bool | None = None
) -> dict[str, Any]:
    """``map_device`` plus the observed fields: cores from the plan, the OS of the device."""
    return add_observed_fields(
        map_device(device, prefix, has_bgp), cores=plan_cpu_cores(device.get("plan"))
    )
