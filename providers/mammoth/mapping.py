"""Pure mapping from Mammoth Cloud (BinaryLane platform) payloads to FleetQL's GraphQL dicts.

Every function takes upstream JSON (shaped as in ``binarylane-openapi.json`` v0.35.1, the
official spec of the platform; the seed v0.24.3 renders the same objects with the nested
property names collapsed) and returns a dict shaped like a type of ``schema.graphql``.

Choices where Mammoth has no counterpart (documented once here, see also ``adapter.py``):
  * ``Server.name`` is ``<prefix>-<id>``; ``hostname`` is the upstream ``name`` ("The hostname
    of this server"); ``alias``, ``uptime`` and ``billing`` are null; ``tags`` is ``[]``.
  * ``location`` comes from ``region.slug`` through ``REGION_CITIES`` (FleetQL's one location
    vocabulary); an unknown slug becomes ``unknown_location(slug)``.
  * ``hardware.cpus`` is one entry: ``name`` = ``size.cpu_description``, or ``"vCPU"`` when the
    size does not describe its CPU; ``count`` (DataPacket: physical CPUs) is null, since Mammoth
    sells virtual CPUs and ``vcpus`` counts those, not sockets.
  * ``hardware.rams`` is one entry of ``memory`` MB in GB, rounded to the nearest GB (halves
    up): virtual memory has no DIMMs.
  * ``hardware.hdds`` groups ``disks`` by size (or the total ``disk`` GB when the payload has no
    ``disks``, as the seed's rendering allows); the type is read from ``size.storage_description``
    ("NVMe" -> NVME, "SSD" -> SSD, "HDD"/"hard" -> HDD). When the description names no type,
    ``hdds`` is ``[]`` rather than a guessed type.
  * ``network``: ``ipAddresses`` from ``networks.v4``/``v6`` (public and private) then
    ``failover_ips``; the first public IPv4 is primary; ``ddosShieldLevel`` UNKNOWN, ``hasBgp``,
    ``uplinkCapacity`` and ``ipmi`` fields null (a VPS cloud has no IPMI). An address without a
    netmask gets a host-route ``cidr`` (``/32`` or ``/128``) and null network/broadcast/netMask.
  * ``system``: ``os.name`` = ``image.full_name`` (else ``image.name``); ``raid`` UNKNOWN.
  * ``powerStatus`` and ``statusV2`` from the spec's ``ServerStatus`` by ``STATUS_TABLE``;
    ``status`` from ``statusV2`` (``providers.statuses``).
  * Invoices are AUD; ``amount`` includes tax (spec ``InvoiceLineItem.amount_includes_tax``), so
    ``total`` = ``amount``, ``totalVat`` = ``tax``, ``subtotal`` = ``amount - tax``. Mammoth
    states no billing period: ``period`` is null (FleetQL relaxes ``Invoice.period``). Payment
    status: PAID when ``paid``, PAST_DUE after ``date_overdue``, else NOT_PAID; the method is
    not reported.
"""

from __future__ import annotations

import ipaddress
import math
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, NamedTuple

from providers.datetimes import format_datetime, parse_datetime
from providers.locations import city, unknown_location
from providers.observed import add_observed_fields, add_observed_hardware
from providers.statuses import deprecated_status
from providers.traffic import traffic_statistics

__all__ = [
    "REGION_CITIES",
    "STATUS_TABLE",
    "Sample",
    "account",
    "aggregate_traffic",
    "compact_sample_sets",
    "hardware",
    "instant_delivery_server",
    "instant_delivery_with_observed",
    "invoice",
    "ip_address",
    "ip_addresses",
    "location",
    "offered_regions",
    "payment_status",
    "reverse_names",
    "sample",
    "server",
    "server_with_observed",
    "storage_type",
    "timestamp",
    "traffic_plan",
    "traffic_series",
    "vcpu_cores",
]

#: Region slug -> ``providers.locations.CITIES`` key. syd/mel/bne/per/sin are the platform's
#: regions; ams/fra/lon/nyc are the European and US regions the emulator also serves.
REGION_CITIES: dict[str, str] = {
    "syd": "SYD",
    "mel": "MEL",
    "bne": "BNE",
    "per": "PER",
    "sin": "SIN",
    "ams": "AMS",
    "fra": "FRA",
    "lon": "LON",
    "nyc": "NYC",
}

#: Spec ``ServerStatus`` -> (powerStatus, statusV2); the deprecated ``status`` follows from
#: statusV2 (``providers.statuses``). ``active`` is "available for use", the closest signal of
#: power on; ``off`` is powered off but still in service; ``archive`` is "powered off due to
#: cancellation or non payment", off the network, so UNREACHABLE; ``new`` is still building,
#: its power state not meaningful yet.
STATUS_TABLE: dict[str, tuple[str, str]] = {
    "new": ("UNKNOWN", "PROVISIONING"),
    "active": ("ON", "ACTIVE"),
    "off": ("OFF", "ACTIVE"),
    "archive": ("OFF", "UNREACHABLE"),
}
_UNKNOWN_STATUS = ("UNKNOWN", "UNREACHABLE")


def timestamp(value: str) -> str:
    """An upstream ISO 8601 date-time rendered the way FleetQL renders DateTime."""
    return format_datetime(parse_datetime(value))


# --- servers ----------------------------------------------------------------------------------


def location(region: dict | None) -> dict:
    """``Location`` of a spec ``Region`` object (by its slug)."""
    slug = (region or {}).get("slug") or ""
    key = REGION_CITIES.get(slug.lower())
    return city(key) if key else unknown_location(slug or None)


def storage_type(description: str | None) -> str | None:
    """``StorageType`` named by a size's ``storage_description``, or None when it names none."""
    text = (description or "").casefold()
    for needle, kind in (("nvme", "NVME"), ("ssd", "SSD"), ("hdd", "HDD"), ("hard", "HDD")):
        if needle in text:
            return kind
    return None


def _gigabytes(megabytes: int | float) -> int:
    return math.floor(megabytes / 1024 + 0.5)


def hardware(server: dict) -> dict:
    """``Hardware`` from ``vcpus``, ``memory`` (MB), ``disks``/``disk`` and the ``size``."""
    size = server.get("size") or {}
    kind = storage_type(size.get("storage_description"))
    sizes = [disk["size_gigabytes"] for disk in server.get("disks") or []]
    if not sizes and server.get("disk"):
        sizes = [server["disk"]]
    counts = Counter(math.floor(gb + 0.5) for gb in sizes)
    return {
        "cpus": [{"count": None, "name": size.get("cpu_description") or "vCPU"}],
        "rams": [{"count": 1, "size": _gigabytes(server["memory"])}],
        "hdds": (
            [{"count": n, "storage": {"size": gb, "type": kind}} for gb, n in counts.items()]
            if kind
            else []
        ),
    }


def _prefix_length(netmask: int | str | None, version: int) -> int | None:
    """A spec ``Network.netmask`` (an integer prefix or a dotted mask) as a prefix length."""
    if netmask is None or netmask == "":
        return None
    if isinstance(netmask, int) or str(netmask).isdigit():
        return int(netmask)
    try:
        return ipaddress.ip_network(f"0.0.0.0/{netmask}").prefixlen if version == 4 else None
    except ValueError:
        return None


def ip_address(address: str, netmask: int | str | None, gateway: str | None, primary: bool) -> dict:
    """One ``IpAddress``; a missing or unreadable netmask leaves a host route."""
    try:
        version = ipaddress.ip_address(address).version
    except ValueError:
        version = 6 if ":" in address else 4
    host_bits = 32 if version == 4 else 128
    prefix = _prefix_length(netmask, version)
    result = {
        "ip": address,
        "cidr": f"{address}/{prefix if prefix is not None else host_bits}",
        "gateway": gateway,
        "network": None,
        "broadcast": None,
        "netMask": None,
        "isPrimary": primary,
        "isBgpPrefix": False,
        "type": "IPV4" if version == 4 else "IPV6",
    }
    if prefix is not None:
        try:
            net = ipaddress.ip_interface(f"{address}/{prefix}").network
        except ValueError:
            return result
        result["network"] = str(net.network_address)
        result["netMask"] = str(net.netmask)
        if version == 4 and prefix < 31:
            result["broadcast"] = str(net.broadcast_address)
    return result


def ip_addresses(server: dict) -> list[dict]:
    """Every address of ``networks.v4``, ``networks.v6`` and ``failover_ips``, in that order."""
    networks = server.get("networks") or {}
    v4 = networks.get("v4") or []
    primary = next((n["ip_address"] for n in v4 if n.get("type") == "public"), None)
    result = [
        ip_address(n["ip_address"], n.get("netmask"), n.get("gateway"), n["ip_address"] == primary)
        for n in [*v4, *(networks.get("v6") or [])]
    ]
    result += [ip_address(ip, None, None, False) for ip in server.get("failover_ips") or []]
    return result


def reverse_names(server: dict) -> dict[str, str | None]:
    """IP -> its reverse name (spec ``Network.reverse_name``), for the server's own networks."""
    networks = server.get("networks") or {}
    entries = [*(networks.get("v4") or []), *(networks.get("v6") or [])]
    names: dict[str, str | None] = {ip: None for ip in server.get("failover_ips") or []}
    names.update({n["ip_address"]: n.get("reverse_name") for n in entries})
    return names


def traffic_plan(usage: dict | None) -> dict:
    """``TrafficPlan`` named after the data-usage transfer allowance (GB per period)."""
    if not usage:
        return {"name": None}
    return {"name": f"{usage['transfer_gigabytes']} GB"}


def server(payload: dict, prefix: str, usage: dict | None = None) -> dict:
    """A ``Server`` dict (without ``trafficPlan`` unless ``usage`` is given)."""
    power, status_v2 = STATUS_TABLE.get(payload.get("status", ""), _UNKNOWN_STATUS)
    image = payload.get("image") or {}
    result = {
        "name": f"{prefix}-{payload['id']}",
        "hostname": payload.get("name"),
        "alias": None,
        "uptime": None,
        "billing": None,
        "tags": [],
        "location": location(payload.get("region")),
        "hardware": hardware(payload),
        "network": {
            "ipAddresses": ip_addresses(payload),
            "ipmi": {"ip": None, "username": None},
            "ddosShieldLevel": "UNKNOWN",
            "hasBgp": None,
            "uplinkCapacity": None,
        },
        "system": {
            "os": {"name": image.get("full_name") or image.get("name") or "Unknown"},
            "raid": "UNKNOWN",
        },
        "powerStatus": power,
        "statusV2": status_v2,
        "status": deprecated_status(status_v2),
    }
    if usage is not None:
        result["trafficPlan"] = traffic_plan(usage)
    return result


# --- account, invoices, stock ------------------------------------------------------------------


def account(payload: dict) -> dict:
    """``Account`` of a spec ``Account``: only the email is reported (no creation date)."""
    return {"email": payload["email"], "name": None, "hostname": None, "createdAt": None}


def _vat_percent(tax_code: dict | None) -> float:
    code = tax_code or {}
    return float(code.get("fixed_percent") or 0.0) if code.get("type") == "scalar" else 0.0


def _invoice_item(item: dict, vat: float) -> dict:
    amount = float(item["amount"])
    if item.get("amount_includes_tax"):
        amount = round(amount / (1 + vat / 100), 2)
    return {
        "amount": amount,
        "currency": "AUD",
        "description": item["name"],
        "quantity": 1.0,
        "type": None,
        "unitPrice": amount,
        "vatPercent": vat,
    }


def payment_status(payload: dict, now: datetime | None = None) -> str:
    """PAID, PAST_DUE (unpaid after ``date_overdue``) or NOT_PAID."""
    if payload.get("paid"):
        return "PAID"
    now = now or datetime.now(UTC)
    return "PAST_DUE" if parse_datetime(payload["date_overdue"]) <= now else "NOT_PAID"


def invoice(payload: dict, now: datetime | None = None) -> dict:
    """``Invoice`` of a spec ``Invoice`` (AUD, amounts including tax)."""
    vat = _vat_percent(payload.get("tax_code"))
    amount, tax = float(payload["amount"]), float(payload["tax"])
    created = timestamp(payload["created"])
    return {
        "invoiceNumber": payload["invoice_number"],
        "createdAt": created,
        "dueDate": timestamp(payload["date_due"]),
        "currency": "AUD",
        "invoiceType": None,
        "invoiceItems": [_invoice_item(item, vat) for item in payload.get("invoice_items") or []],
        "payment": {"method": None, "paidOn": None, "status": payment_status(payload, now)},
        "period": None,
        "subscription": None,
        "subtotal": round(amount - tax, 2),
        "total": amount,
        "totalVat": tax,
    }


def instant_delivery_server(size: dict, region_slug: str, prefix: str) -> dict:
    """``InstantDeliveryServer`` for one size offered in one region (``<prefix>-<size>@<slug>``)."""
    shape = {
        "vcpus": size["vcpus"],
        "memory": size["memory"],
        "disk": size["disk"],
        "size": size,
    }
    return {
        "name": f"{prefix}-{size['slug']}@{region_slug}",
        "hardware": hardware(shape),
        "location": location({"slug": region_slug}),
        "uplinkCapacity": None,
    }


def offered_regions(size: dict, regions: Iterable[dict]) -> list[str]:
    """Region slugs where a size can be ordered now: available, listed and in stock."""
    if not size.get("available"):
        return []
    open_regions = {r["slug"] for r in regions if r.get("available")}
    out_of_stock = set(size.get("regions_out_of_stock") or [])
    return [s for s in size.get("regions") or [] if s in open_regions and s not in out_of_stock]


# --- traffic ------------------------------------------------------------------------------------


class Sample(NamedTuple):
    """The four values of a spec ``SampleSet`` the traffic mappings read, in their units."""

    start: float  # the period's start, seconds since the epoch
    seconds: float  # the period's length
    incoming: float  # bit/s (the spec's ``average.network_incoming_kbps`` x 1000)
    outgoing: float


def sample(sample_set: Any) -> Sample:
    """A spec ``SampleSet`` as a ``Sample``; KeyError, TypeError or ValueError if it is not
    shaped as the spec says."""
    if isinstance(sample_set, Sample):
        return sample_set
    period, average = sample_set["period"], sample_set["average"]
    begin = parse_datetime(period["start"]).timestamp()
    return Sample(
        begin,
        parse_datetime(period["end"]).timestamp() - begin,
        float(average["network_incoming_kbps"]) * 1000,
        float(average["network_outgoing_kbps"]) * 1000,
    )


def compact_sample_sets(body: Any) -> Any:
    """A ``/samplesets/{id}`` page whose sample sets are ``Sample``s.

    A sample set carries about twenty values in three objects; the mappings read four. Made
    ``Sample``s once per upstream body, a cached day of 5-minute samples takes about a quarter
    of the memory, and each request's aggregate reads floats instead of parsing dates.
    Anything not shaped as the spec says is kept as it is, for the mappings to report.
    """
    if not isinstance(body, dict) or not isinstance(body.get("sample_sets"), list):
        return body
    return {**body, "sample_sets": [_compact_sample_set(item) for item in body["sample_sets"]]}


def _compact_sample_set(item: Any) -> Any:
    try:
        return sample(item)
    except (KeyError, TypeError, ValueError, AttributeError):
        return item


def aggregate_traffic(sample_sets: Iterable[Any], start: datetime, end: datetime) -> dict:
    """``AggregatedTraffic`` of spec ``SampleSet``s or ``Sample``s (any servers) whose period
    starts in the window.

    Rates are the periods' ``average.network_incoming_kbps``/``outgoing`` (kbit/s -> bit/s),
    summed across servers per period start. ``sum`` = rate x period length (bits); ``average``
    the mean, ``maximum`` the peak, ``last`` the latest and ``p95`` the nearest-rank 95th
    percentile of that summed series. A window without samples yields zeros.
    """
    low, high = start.timestamp(), end.timestamp()
    series: dict[str, dict[float, list[float]]] = {"in": {}, "out": {}}
    for item in sample_sets:
        one = sample(item)
        if not low <= one.start < high:
            continue
        for direction, rate in (("in", one.incoming), ("out", one.outgoing)):
            slot = series[direction].setdefault(one.start, [0.0, one.seconds])
            slot[0] += rate
    return {
        "statisticsIn": _statistics(series["in"]),
        "statisticsOut": _statistics(series["out"]),
    }


def _statistics(series: dict[float, list[float]]) -> dict[str, float]:
    """``traffic_statistics`` of the rates in period order, ``sum`` weighted by each period's
    own length."""
    ordered = [series[key] for key in sorted(series)]
    statistics = traffic_statistics([rate for rate, _ in ordered], 0)
    statistics["sum"] = float(round(sum(rate * seconds for rate, seconds in ordered)))
    return statistics


def traffic_series(
    sample_sets: Iterable[Any], start: datetime, end: datetime, step: int
) -> tuple[datetime, list[float], list[float]]:
    """(first period start, inbound, outbound): bit/s per ``step``-second period, servers summed.

    Mammoth's periods are aligned to the epoch, so the series starts at the first period
    boundary at or after ``start``; a period without samples counts as zero.
    """
    first = math.ceil(start.timestamp() / step) * step
    count = max(0, math.ceil((end.timestamp() - first) / step))
    inbound, outbound = [0.0] * count, [0.0] * count
    for item in sample_sets:
        one = sample(item)
        index = (one.start - first) / step
        if index != int(index) or not 0 <= index < count:
            continue
        inbound[int(index)] += one.incoming
        outbound[int(index)] += one.outgoing
    return datetime.fromtimestamp(first, UTC), inbound, outbound


# --- the live DataPacket API's observed fields (providers/observed.py) ---------------------


def vcpu_cores(payload: dict) -> list[int | None]:
    """Cores of the server's one CPU entry: ``vcpus`` when the size counts them in cores.

    The spec's ``Size.vcpu_units`` says what ``vcpus`` counts ("core" or "thread"); threads
    are not cores, so any other unit (or none) gives null.
    """
    size = payload.get("size") or {}
    return [payload.get("vcpus") if size.get("vcpu_units") == "core" else None]


def server_with_observed(payload: dict, prefix: str) -> dict:
    """``server`` plus the observed fields; the OS is the image's name, null without one."""
    image = payload.get("image") or {}
    return add_observed_fields(
        server(payload, prefix),
        cores=vcpu_cores(payload),
        os_name=image.get("full_name") or image.get("name") or "",
    )


def instant_delivery_with_observed(size: dict, region_slug: str, prefix: str) -> dict:
    """``instant_delivery_server`` with the observed hardware fields (cores as ``vcpu_cores``)."""
    entry = instant_delivery_server(size, region_slug, prefix)
    add_observed_hardware(entry["hardware"], vcpu_cores({"vcpus": size["vcpus"], "size": size}))
    return entry
