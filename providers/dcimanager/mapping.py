"""Pure mapping from DCImanager v3 payloads (the seed's shapes) to FleetQL's GraphQL dicts.

Every function takes a payload and returns a dict; nothing here does I/O. The tables below
are the documented choices where the seed gives a native value but no FleetQL meaning;
the seed is ``shared/seeds/dcimanager-api-examples.txt`` ("List of servers", "Number of
free servers and their configuration").

Honest representations of non-null fields the API does not report:
  * ``alias`` null, ``tags`` [], ``uptime`` null, ``billing`` null, ``trafficPlan.name`` null,
    ``network.uplinkCapacity`` null, ``network.hasBgp`` null, ``network.ddosShieldLevel``
    UNKNOWN, ``network.ipmi.username`` null, ``system.raid`` UNKNOWN (RAID is only an input
    of OS installation, never returned).
  * ``hardware``: ``hardware_info`` is ``{}`` in the seed with no documented schema, so it
    is not read. The ``configuration`` string is parsed only when it follows the seed's
    example pattern ``i9-9900K-64Gb-2x1024NVMe`` (CPU-RAM-DISKS); otherwise the lists are
    empty. RAM is reported as one entry of the total size (module count unknown).
  * ``system.os.name`` is ``os_template.name``, or "" when no template is recorded.
  * ``IpAddress.isBgpPrefix`` is false (addresses come from IPmanager pools, not BGP).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from typing import Any

from providers.locations import CITIES, city, unknown_location
from providers.observed import add_observed_fields, add_observed_hardware
from providers.statuses import deprecated_status

__all__ = [
    "STATE_TO_STATUS",
    "hardware_from_configuration",
    "instant_delivery_server",
    "instant_delivery_with_observed",
    "ip_addresses",
    "location_of",
    "power_status",
    "server_dict",
    "server_with_observed",
    "status_v2",
]

#: ``state`` (seed: "server state. Possible values") -> statusV2; the deprecated ``status``
#: follows from it (``providers.statuses``). Suspension deactivates the server's switch ports
#: ("Deactivate server connection ports"): the server is cut off the network, UNREACHABLE.
STATE_TO_STATUS: dict[str, str] = {
    "ok": "ACTIVE",
    "suspending": "UNREACHABLE",
    "suspended": "UNREACHABLE",
    "resuming": "PROVISIONING",
    "suspend_error": "MAINTENANCE",
    "resume_error": "MAINTENANCE",
}
#: A state the seed does not list: not known to be in service.
UNKNOWN_STATE_STATUS = "MAINTENANCE"
#: Seed: "operation — operation running on server" (OS install, diagnostics, disk wipe):
#: DataPacket's "maintenance task in progress such as OS reinstall".
OPERATION_STATUS = "MAINTENANCE"

#: ``ipmi.status`` (seed: on — active, off — inactive, unknown, in_progress) -> PowerStatus.
IPMI_POWER = {"on": "ON", "off": "OFF"}
#: ``pdu_connection.power_status`` "down" (the PDU port feeding the server is inactive)
#: means no power reaches it; "up" says nothing about the host itself.
PDU_POWER = {"down": "OFF"}

#: Statuses of ``ip[]`` entries whose address is on the server now (seed: "IP address
#: status"). ``allocating``, ``fail`` and ``allocation_fail`` are not (yet) assigned.
ASSIGNED_IP_STATUSES = frozenset({"ok", "in_progress", "deleting"})

#: The seed's configuration example ``i9-9900K-64Gb-2x1024NVMe``: [<n>x]CPU-<GB>Gb-<n>x<GB><type>.
CONFIGURATION_PATTERN = re.compile(
    r"^(?:(?P<cpus>\d+)x)?(?P<cpu>.+?)-(?P<ram>\d+)Gb-(?P<disks>\d+)x(?P<size>\d+)(?P<type>[A-Za-z]+)$"
)
STORAGE_TYPES = {"nvme": "NVME", "ssd": "SSD", "hdd": "HDD", "emmc": "EMMC", "satadom": "SATADOM"}

_CITY_NAMES = {entry["name"].casefold(): key for key, entry in CITIES.items()}


def location_of(native: Mapping[str, Any] | None, table: Mapping[str, str]) -> dict[str, str]:
    """FleetQL Location for a server's ``location`` object.

    DCImanager locations are named by each installation's operator, so the table comes
    from configuration (``locations`` option: native name -> ``CITIES`` key; ``table`` keys
    are casefolded names). A name equal to a city's name or short code (case-insensitive)
    maps without configuration.
    """
    name = str((native or {}).get("name") or "").strip()
    key = table.get(name.casefold())
    if key is None and name.upper() in CITIES:
        key = name.upper()
    if key is None:
        key = _CITY_NAMES.get(name.casefold())
    return city(key) if key in CITIES else unknown_location(name or None)


def power_status(server: Mapping[str, Any]) -> str:
    """PowerStatus from the PDU port and IPMI status (tables above); UNKNOWN otherwise."""
    pdu = (server.get("pdu_connection") or {}).get("power_status")
    if pdu in PDU_POWER:
        return PDU_POWER[pdu]
    return IPMI_POWER.get((server.get("ipmi") or {}).get("status"), "UNKNOWN")


def status_v2(server: Mapping[str, Any]) -> str:
    """statusV2 from ``state``, then a running ``operation`` on a healthy server."""
    state = server.get("state")
    status = STATE_TO_STATUS.get(state, UNKNOWN_STATE_STATUS)
    # Guess: operation statuses are undocumented, so any non-empty ``operation`` object
    # counts as running (the seed describes it as the "operation running on server").
    if state == "ok" and server.get("operation"):
        return OPERATION_STATUS
    return status


def hardware_from_configuration(configuration: str | None) -> dict[str, list]:
    """Hardware lists parsed from a configuration name in the seed's pattern, else empty."""
    match = CONFIGURATION_PATTERN.match((configuration or "").strip())
    storage_type = STORAGE_TYPES.get(match["type"].casefold()) if match else None
    if match is None or storage_type is None:
        return {"cpus": [], "hdds": [], "rams": []}
    return {
        # The name states a CPU count only as an "<n>x" prefix; without one it is not known.
        "cpus": [{"count": int(match["cpus"]) if match["cpus"] else None, "name": match["cpu"]}],
        "hdds": [
            {
                "count": int(match["disks"]),
                "storage": {"size": int(match["size"]), "type": storage_type},
            }
        ],
        "rams": [{"count": 1, "size": int(match["ram"])}],
    }


def ip_addresses(server: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The server's assigned addresses from its embedded ``ip[]`` list."""
    # Guess: main_ipv4/main_ipv6 are typed int in the seed, so they are read as ip[].id.
    primary = {server.get("main_ipv4"), server.get("main_ipv6")} - {None, 0}
    result = []
    for item in server.get("ip") or []:
        if item.get("status", "ok") not in ASSIGNED_IP_STATUSES:
            continue
        try:
            result.append(ip_address(item, item.get("id") in primary))
        except ValueError:
            continue  # ``name`` is not an address: nothing honest to show for this entry
    return result


def ip_address(item: Mapping[str, Any], is_primary: bool) -> dict[str, Any]:
    """One IpAddress from an ``ip[]`` entry (``name`` is the address itself)."""
    address = ipaddress.ip_address(str(item["name"]))
    net = _network(item.get("network"), address)
    ipv4 = address.version == 4
    return {
        "ip": str(address),
        "type": "IPV4" if ipv4 else "IPV6",
        "cidr": f"{address}/{net.prefixlen if net else address.max_prefixlen}",
        "gateway": item.get("gateway") or None,
        "network": str(net.network_address) if net else None,
        "netMask": str(net.netmask) if net and ipv4 else None,
        "broadcast": str(net.broadcast_address) if net and ipv4 else None,
        "isPrimary": is_primary,
        "isBgpPrefix": False,
    }


def _network(value: Any, address: ipaddress._BaseAddress) -> Any:
    """The ``network`` field when it is CIDR text containing the address, else None."""
    # The seed types ``network`` as "network address" without a format; only CIDR text
    # ("185.102.14.0/24") carries a prefix, so anything else leaves the derived fields null.
    if not isinstance(value, str) or "/" not in value:
        return None
    try:
        net = ipaddress.ip_network(value.strip(), strict=False)
    except ValueError:
        return None
    return net if address in net else None


def server_dict(
    server: Mapping[str, Any], prefix: str, locations: Mapping[str, str]
) -> dict[str, Any]:
    """A FleetQL Server dict from one server of ``GET /api/dci/v3/server`` (or ``/{id}``)."""
    server_status = status_v2(server)
    ipmi = server.get("ipmi") or {}
    os_name = (server.get("os_template") or {}).get("name") or ""
    return {
        "name": f"{prefix}-{server['id']}",
        "alias": None,
        "hostname": server.get("domain") or server.get("name") or None,
        "location": location_of(server.get("location"), locations),
        "hardware": hardware_from_configuration(server.get("configuration")),
        "network": {
            "ipAddresses": ip_addresses(server),
            "ipmi": {"ip": ipmi.get("address") or None, "username": None},
            "ddosShieldLevel": "UNKNOWN",
            "hasBgp": None,
            "uplinkCapacity": None,
        },
        "powerStatus": power_status(server),
        "statusV2": server_status,
        "status": deprecated_status(server_status),
        "system": {"os": {"name": os_name}, "raid": "UNKNOWN"},
        "tags": [],
        "trafficPlan": {"name": None},
        "uptime": None,
        "billing": None,
    }


def instant_delivery_server(
    item: Mapping[str, Any], prefix: str, location: dict[str, str]
) -> dict[str, Any]:
    """An InstantDeliveryServer for one free configuration of ``/server/configuration``.

    The list gives a configuration name and a count, no location: ``location`` is the
    configured ``stock_location`` or unknown.
    """
    configuration = str(item["configuration"])
    return {
        "name": f"{prefix}-{configuration}",
        "hardware": hardware_from_configuration(configuration),
        "location": dict(location),
        "uplinkCapacity": None,
    }


# --- the live DataPacket API's observed fields (providers/observed.py) ---------------------


def server_with_observed(
    server: Mapping[str, Any], prefix: str, locations: Mapping[str, str]
) -> dict[str, Any]:
    """``server_dict`` plus the observed fields: the OS template's name as operatingSystem.

    Cores stay null: the configuration name of the seed's pattern names CPUs, not cores.
    """
    return add_observed_fields(server_dict(server, prefix, locations))


def instant_delivery_with_observed(
    item: Mapping[str, Any], prefix: str, location: dict[str, str]
) -> dict[str, Any]:
    """``instant_delivery_server`` with the observed hardware fields (cores null)."""
    entry = instant_delivery_server(item, prefix, location)
    add_observed_hardware(entry["hardware"])
    return entry
