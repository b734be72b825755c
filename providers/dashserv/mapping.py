"""Pure mapping from dashserv API v1 payloads to FleetQL's GraphQL-shaped dicts.

Every function takes the ``data`` part of a ``{success, data}`` envelope (or a piece of it)
and returns plain values; nothing here does I/O. Section names refer to the seed
(``shared/seeds/dashserv-api.txt``); the guesses are marked GUESS and live in one constant each.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from typing import Any

from providers.locations import CITIES, city, unknown_location
from providers.observed import add_observed_fields, add_observed_hardware
from providers.statuses import deprecated_status
from providers.traffic import traffic_statistics

__all__ = [
    "DEDICATED",
    "VSERVER",
    "aggregate_traffic",
    "cpu_cores",
    "dedicated_hardware",
    "dedicated_ip_addresses",
    "instant_delivery_entries",
    "instant_delivery_with_observed",
    "location",
    "power_status",
    "server",
    "server_status",
    "server_with_observed",
    "series_timestamps",
    "stock",
    "timeframe_for",
    "traffic_grid",
    "uplink_capacity",
    "vserver_hardware",
    "vserver_ip_addresses",
]

DEDICATED = "dedicated-server"
VSERVER = "vserver"

# --- locations ------------------------------------------------------------------------------

#: dashserv location names read "<datacenter>, <city>" ("Skylink, Eygelshoven", seed "Get
#: product pricing"); the city part is looked up here. Keys are casefolded city names: every
#: ``CITIES`` name, plus the German exonyms the API's German display strings use.
CITY_KEYS: dict[str, str] = {
    **{entry["name"].casefold(): key for key, entry in CITIES.items()},
    "frankfurt am main": "FRA",
    "duesseldorf": "DUS",
    "münchen": "MUC",
    "mailand": "MIL",
    "prag": "PRG",
    "warschau": "WAW",
    "singapur": "SIN",
    "tokio": "TYO",
    "zürich": "ZRH",
    "new york city": "NYC",
}

#: Region of a location no ``CITY_KEYS`` entry knows, from its two-letter ``country`` code.
COUNTRY_REGIONS: dict[str, str] = {
    **dict.fromkeys("AT BE CH CZ DE DK ES FI FR GB IE IT LU NL NO PL PT SE UK".split(), "Europe"),
    **dict.fromkeys("CA US".split(), "North America"),
    **dict.fromkeys("HK IN JP SG".split(), "Asia"),
    **dict.fromkeys("AU NZ".split(), "Oceania"),
    "BR": "South America",
}


def location(native: Mapping[str, Any] | None) -> dict[str, str]:
    """A FleetQL Location for a dashserv location object (``device.location`` / ``location``).

    Known city -> the canonical ``CITIES`` entry; otherwise the city part of the display name,
    with the region from ``COUNTRY_REGIONS`` (``Unknown`` when the country is not listed).
    """
    native = native or {}
    display_name = str((native.get("display") or {}).get("name") or "")
    city_part = display_name.rsplit(",", 1)[-1].strip()
    key = CITY_KEYS.get(city_part.casefold())
    if key is not None:
        return city(key)
    result = unknown_location(city_part or native.get("uuid"))
    country = str(native.get("country") or "").upper()
    result["region"] = COUNTRY_REGIONS.get(country, "Unknown")
    return result


# --- hardware -------------------------------------------------------------------------------

_STORAGE_TYPES = {"SSD": "SSD", "HDD": "HDD", "NVME": "NVME", "SATADOM": "SATADOM", "EMMC": "EMMC"}


def _int(value: Any) -> int | None:
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return None


def dedicated_hardware(model: Mapping[str, Any] | None) -> dict[str, list[dict]]:
    """``Hardware`` from a dedicated-server model (``device.model`` or a marketplace item).

    * cpus: one entry, ``cpu.amount`` sockets of ``cpu.name`` (beside ``cores`` and
      ``threads``); null when the model states no amount.
    * rams: GUESS - ``ram.amount`` is the total in GB and ``ram.sticks`` the module count
      (the seed's ``sticks: 8, max: 4`` is unexplained); when the total does not divide evenly
      the total is reported as one module.
    * hdds: ``disks.all`` grouped by (capacity GB, type); a disk whose ``type`` is not one of
      FleetQL's StorageType values is left out (StorageType has no UNKNOWN member).
    """
    model = model or {}
    cpu = model.get("cpu") or {}
    cpus = []
    if cpu.get("name") or cpu.get("model"):
        cpus.append(
            {"count": _int(cpu.get("amount")) or None, "name": cpu.get("name") or cpu["model"]}
        )
    ram = model.get("ram") or {}
    total, sticks = _int(ram.get("amount")), _int(ram.get("sticks"))
    rams = []
    if total:
        if sticks and total % sticks == 0:
            rams.append({"count": sticks, "size": total // sticks})
        else:
            rams.append({"count": 1, "size": total})
    return {"cpus": cpus, "rams": rams, "hdds": _disks((model.get("disks") or {}).get("all"))}


def _disks(disks: Iterable[Mapping[str, Any]] | None) -> list[dict]:
    groups: dict[tuple[int, str], int] = {}
    for disk in disks or []:
        size = _int(disk.get("capacity"))
        storage_type = _STORAGE_TYPES.get(str(disk.get("type") or "").upper())
        if size is None or storage_type is None:
            continue
        groups[(size, storage_type)] = groups.get((size, storage_type), 0) + 1
    return [
        {"count": count, "storage": {"size": size, "type": storage_type}}
        for (size, storage_type), count in groups.items()
    ]


def vserver_hardware(vserver: Mapping[str, Any]) -> dict[str, list[dict]]:
    """``Hardware`` from a vServer's ``options`` (cores, ram GB, disk GB).

    The API names no CPU model, so a vServer with ``options.cores`` has one CPU "vCPU"; its
    ``count`` (physical CPUs) is null, since virtual cores are no sockets. The disk type is not
    given and StorageType has no UNKNOWN member, so hdds is [] (the size is in ``options.disk``).
    """
    options = vserver.get("options") or {}
    cores, ram = _int(options.get("cores")), _int(options.get("ram"))
    return {
        "cpus": [{"count": None, "name": "vCPU"}] if cores else [],
        "rams": [{"count": 1, "size": ram}] if ram else [],
        "hdds": [],
    }


def uplink_capacity(mbits: float | None) -> int | None:
    """Gbps from Mbit/s when it is a whole number of Gbps, else None (the field is an Int).

    GUESS: dedicated ``model.network.bandwith`` is ``amount`` x ``quantity`` Mbit/s ("2x 1
    Gbit/s" in the order form) and vServer ``network.bandwidth.amount`` is Mbit/s (750).
    """
    if not mbits or mbits % 1000:
        return None
    return int(mbits // 1000)


def dedicated_uplink(model: Mapping[str, Any] | None) -> int | None:
    """Uplink capacity of a dedicated-server model (``network.bandwith``, sic)."""
    bandwidth = ((model or {}).get("network") or {}).get("bandwith") or {}
    amount, quantity = _int(bandwidth.get("amount")), _int(bandwidth.get("quantity"))
    return uplink_capacity(amount * quantity if amount and quantity else None)


# --- IP addresses ---------------------------------------------------------------------------


def ip_address(native: Mapping[str, Any], *, primary: bool) -> dict[str, Any]:
    """``IpAddress`` from a dashserv IP object (seed "Get network information")."""
    subnet = native.get("subnet") or {}
    ip = str(native.get("ip") or "")
    is_v6 = str(native.get("type") or "").lower() == "ipv6" or ":" in ip
    prefix = _int(subnet.get("prefix"))
    if prefix is None:
        prefix = 128 if is_v6 else 32
    return {
        "ip": ip,
        "type": "IPV6" if is_v6 else "IPV4",
        "cidr": f"{ip}/{prefix}",
        "gateway": subnet.get("gateway"),
        "network": subnet.get("netaddress"),
        "netMask": subnet.get("netmask"),
        "broadcast": None if is_v6 else _broadcast(subnet.get("netaddress"), prefix),
        "isPrimary": primary,
        # dashserv has no BGP product; these are provider-assigned addresses.
        "isBgpPrefix": False,
    }


def _broadcast(netaddress: Any, prefix: int) -> str | None:
    # The seed's own example subnet "123.456.7.89" is not an address: never fail on it.
    try:
        return str(ipaddress.IPv4Network(f"{netaddress}/{prefix}", strict=False).broadcast_address)
    except ValueError:
        return None


def dedicated_ip_addresses(network: Iterable[Mapping[str, Any]] | None) -> list[dict]:
    """IPs of a dedicated server from ``GET .../{uuid}/network``.

    Every listed address is reported (the seed lists GIVEN and AVAILABLE addresses of the
    server's subnet); the first GIVEN IPv4 is the primary one.
    """
    items = [item for item in network or [] if isinstance(item, Mapping) and item.get("ip")]
    primary = next(
        (
            item["ip"]
            for item in items
            if item.get("status") == "GIVEN" and str(item.get("type")).lower() == "ipv4"
        ),
        None,
    )
    return [ip_address(item, primary=item["ip"] == primary) for item in items]


def vserver_ip_addresses(vserver: Mapping[str, Any]) -> list[dict]:
    """IPs of a vServer from its own ``network.public`` (ipv4 is the primary address).

    ``interfaces.*`` repeat the public addresses; each address is reported once.
    """
    public = (vserver.get("network") or {}).get("public") or {}
    candidates: list[Any] = [public.get("ipv4"), public.get("ipv6")]
    for interface in (public.get("interfaces") or {}).values():
        if isinstance(interface, Mapping):
            candidates += [interface.get("ipv4"), interface.get("ipv6")]
    candidates += list(public.get("additional") or [])
    primary = (public.get("ipv4") or {}).get("ip")
    seen: set[str] = set()
    result = []
    for item in candidates:
        if isinstance(item, Mapping) and item.get("ip") and item["ip"] not in seen:
            seen.add(item["ip"])
            result.append(ip_address(item, primary=item["ip"] == primary))
    return result


# --- statuses -------------------------------------------------------------------------------

#: ``GET .../{uuid}/status`` ``data.status`` -> PowerStatus. The seed shows "online" and names
#: "offline" (vServer reinstall); anything else ("installing", …) is UNKNOWN.
POWER_STATUS = {"online": "ON", "offline": "OFF"}

#: Product ``status`` ("okay" dedicated, "OKAY" vServer) -> ServerStatusV2. Only "okay" is
#: shown for products; the other keys are the order statuses of seed "Check order", which a
#: product may carry while it is being deployed. GUESS: any other value (error, cancelled,
#: locked, …) means the server is not in normal production -> MAINTENANCE.
STATUS_V2 = {"okay": "ACTIVE", "installing": "PROVISIONING", "wait_for_host": "WAITING"}


def power_status(status: Mapping[str, Any] | None) -> str:
    """PowerStatus from the per-server status endpoint's ``data``."""
    return POWER_STATUS.get(str((status or {}).get("status") or "").lower(), "UNKNOWN")


def server_status(product_status: Any) -> str:
    """ServerStatusV2 from a product's ``status``."""
    return STATUS_V2.get(str(product_status or "").lower(), "MAINTENANCE")


# --- instant delivery -----------------------------------------------------------------------


def stock(model: Mapping[str, Any]) -> int:
    """Units of a marketplace model that can be delivered instantly (``stock``, never < 0)."""
    return max(_int(model.get("stock")) or 0, 0)


def instant_delivery_entries(model: Mapping[str, Any], prefix: str) -> list[dict]:
    """One InstantDeliveryServer per unit of ``stock`` (seed "Get marketplace": stock above
    zero can be ordered and is deployed instantly), named ``<prefix>-<model uuid>-<n>``.

    ``location`` is not part of a model; the adapter adds it from the product's locations.
    """
    hardware = dedicated_hardware(model)
    uplink = dedicated_uplink(model)
    return [
        {
            "name": f"{prefix}-{model['uuid']}-{n}",
            "hardware": hardware,
            "uplinkCapacity": uplink,
        }
        for n in range(1, stock(model) + 1)
    ]


# --- traffic (vServer "Get graphs") ---------------------------------------------------------

#: ``stats?timeframe=`` values and the span each covers, in seconds (GUESS: month = 30 days).
TIMEFRAMES: list[tuple[str, int]] = [
    ("hour", 3600),
    ("day", 86400),
    ("week", 7 * 86400),
    ("month", 30 * 86400),
    ("year", 365 * 86400),
]
#: GUESS: ``net_in``/``net_out`` are bytes per second (the Proxmox convention the vServer
#: stack - QEMU, qemu-guest-agent - suggests); FleetQL reports bits.
RATE_TO_BITS = 8


def timeframe_for(start: float, now: float) -> str:
    """The shortest timeframe reaching back to ``start`` (``year`` when none does)."""
    for name, span in TIMEFRAMES:
        if now - start <= span:
            return name
    return TIMEFRAMES[-1][0]


def _seconds_of_day(text: str) -> int | None:
    try:
        hours, minutes, seconds = (int(part) for part in text.split(":"))
    except (AttributeError, ValueError):
        return None
    return hours * 3600 + minutes * 60 + seconds


def series_timestamps(times: list[str], now: float) -> list[float | None]:
    """Epoch seconds of a stats series whose points carry only ``time`` ("08:18:00", UTC).

    The series is oldest first and ends at or before ``now``: walking backwards, each point
    is the latest instant with its time of day before the point after it (GUESS: points are
    less than a day apart, true for every timeframe but ``year``, whose daily points keep
    the same time of day and so land one day apart as well).
    """
    result: list[float | None] = [None] * len(times)
    bound = now + 1
    for index in range(len(times) - 1, -1, -1):
        of_day = _seconds_of_day(times[index])
        if of_day is None:
            continue
        day_start = (bound // 86400) * 86400
        candidate = day_start + of_day
        if candidate >= bound:
            candidate -= 86400
        result[index] = candidate
        bound = candidate
    return result


#: GUESS: the spacing of a series with a single point (the seed's hour series is per minute).
FALLBACK_STEP = 60


def traffic_grid(
    series: Iterable[list[Mapping[str, Any]]], start: float, end: float, now: float
) -> tuple[float | None, int, list[float], list[float]]:
    """Several servers' stats series summed on one grid over ``[start, end)``.

    Returns ``(first timestamp, step seconds, inbound, outbound)`` with rates in bits per
    second; the step is the spacing of the series' points (``None`` first when no point falls
    in the window).
    """
    totals: dict[float, list[float]] = {}
    step = 0.0
    for points in series:
        stamps = series_timestamps([str(p.get("time")) for p in points], now)
        known = [stamp for stamp in stamps if stamp is not None]
        gaps = [b - a for a, b in zip(known, known[1:], strict=False) if b > a]
        if gaps:
            step = min(step or min(gaps), min(gaps))
        for point, stamp in zip(points, stamps, strict=True):
            if stamp is not None and start <= stamp < end:
                total = totals.setdefault(stamp, [0.0, 0.0])
                total[0] += float(point.get("net_in") or 0) * RATE_TO_BITS
                total[1] += float(point.get("net_out") or 0) * RATE_TO_BITS
    step = int(step) or FALLBACK_STEP
    if not totals:
        return None, step, [], []
    first = min(totals)
    count = round((max(totals) - first) / step) + 1
    inbound, outbound = [0.0] * count, [0.0] * count
    for stamp, (rate_in, rate_out) in totals.items():
        index = round((stamp - first) / step)
        inbound[index] += rate_in
        outbound[index] += rate_out
    return first, step, inbound, outbound


def aggregate_traffic(
    series: Iterable[list[Mapping[str, Any]]], start: float, end: float, now: float
) -> dict[str, dict[str, float]]:
    """``AggregatedTraffic`` of several servers' stats series over ``[start, end)``.

    As DataPacket defines them: ``sum`` in bits (rate x step, summed), ``average``,
    ``maximum``, ``last`` and the nearest-rank ``p95`` in bits per second; whole numbers.
    """
    _, step, inbound, outbound = traffic_grid(series, start, end, now)
    return {
        "statisticsIn": traffic_statistics(inbound, step),
        "statisticsOut": traffic_statistics(outbound, step),
    }


# --- servers --------------------------------------------------------------------------------


def server(
    product: str, native: Mapping[str, Any], prefix: str, extras: Mapping[str, Any]
) -> dict[str, Any]:
    """A FleetQL ``Server`` dict for a dedicated server or a vServer product object.

    ``extras`` holds the per-server calls the adapter made (``status``, ``network``,
    ``installation``); fields that need a call that was not made are left out.
    Fields dashserv does not report: hostname, billing, tags, ipmi, RAID, DDoS level, BGP,
    traffic plan name, and uptime of dedicated servers (null / [] / UNKNOWN).
    """
    is_dedicated = product == DEDICATED
    device = native.get("device") or {}
    model = device.get("model") or {}
    status_v2 = server_status(native.get("status"))
    network: dict[str, Any] = {
        "ddosShieldLevel": "UNKNOWN",
        "hasBgp": None,
        "ipmi": {"ip": None, "username": None},
        "uplinkCapacity": dedicated_uplink(model)
        if is_dedicated
        else uplink_capacity(
            _int(((native.get("network") or {}).get("bandwidth") or {}).get("amount"))
        ),
    }
    result: dict[str, Any] = {
        "name": f"{prefix}-{native.get('uuid')}",
        # The product's own label ("kd14810", "test"): dashserv's equivalent of an alias.
        "alias": native.get("name"),
        "hostname": None,
        "location": location(device.get("location") if is_dedicated else native.get("location")),
        "hardware": dedicated_hardware(model) if is_dedicated else vserver_hardware(native),
        "network": network,
        "statusV2": status_v2,
        "status": deprecated_status(status_v2),
        "tags": [],
        "trafficPlan": {"name": None},
        "billing": None,
        "uptime": None,
        "system": {"raid": "UNKNOWN"},
    }
    if not is_dedicated:
        network["ipAddresses"] = vserver_ip_addresses(native)
        image = native.get("image") or (native.get("options") or {}).get("image") or {}
        result["system"]["os"] = {"name": str(image.get("displayName") or image.get("name") or "")}
    elif "network" in extras:
        network["ipAddresses"] = dedicated_ip_addresses(extras["network"])
    if is_dedicated and "installation" in extras:
        result["system"]["os"] = {"name": str((extras["installation"] or {}).get("os") or "")}
    if "status" in extras:
        status = extras["status"] or {}
        result["powerStatus"] = power_status(status)
        uptime = _int((status.get("stats") or {}).get("uptime"))
        if not is_dedicated and uptime is not None:
            result["uptime"] = uptime // 86400  # seconds (vServer status stats) -> days
    return result


# --- the live DataPacket API's observed fields (providers/observed.py) ---------------------


def cpu_cores(product: str, native: Mapping[str, Any]) -> list[int | None]:
    """Cores of the one CPU entry: the model's ``cpu.cores``, a vServer's ``options.cores``."""
    if product == DEDICATED:
        model = (native.get("device") or {}).get("model") or {}
        return [_int((model.get("cpu") or {}).get("cores"))]
    return [_int((native.get("options") or {}).get("cores"))]


def server_with_observed(
    product: str, native: Mapping[str, Any], prefix: str, extras: Mapping[str, Any]
) -> dict[str, Any]:
    """``server`` plus the observed fields (the OS only where ``server`` has it)."""
    return add_observed_fields(
        server(product, native, prefix, extras), cores=cpu_cores(product, native)
    )


def instant_delivery_with_observed(model: Mapping[str, Any], prefix: str) -> list[dict]:
    """``instant_delivery_entries`` with the observed hardware fields (the model's cores)."""
    entries = instant_delivery_entries(model, prefix)
    cores = cpu_cores(DEDICATED, {"device": {"model": model}})
    for entry in entries:
        add_observed_hardware(entry["hardware"], cores)
    return entries
