"""The documented rules of DataPacket's API, as the emulator enforces them.

Each rule cites the part of ``schema/datapacket.graphql`` (from the seed) it comes from.
Failures raise ``ApiError`` carrying the seed's ``ErrorCode``; VALIDATION_FAILED is used wherever
the seed names no better code ("The request is formally valid, but the server can't process it").
"""

from __future__ import annotations

import ipaddress
import math
import re
import time
from typing import Any

from emulators.datapacket.fleet import Entity, Fleet

MAX_PAGE_SIZE = 50  # "The maximum number of results per page is 50."
MAX_TAGS = 10  # SetServerTagsInput: "A server is allowed to have maximum of 10 tags."
TAG_KEY = re.compile(r"[A-Za-z0-9._-]{1,100}")  # ServerTagInput.key
MAX_TAG_VALUE = 150  # ServerTagInput.value
IPMI_PASSWORD = re.compile(r"(?=.*[0-9]).{10,16}", re.DOTALL)  # ChangeIpmiPasswordInput.password
POWER_TARGET = {"ON": "ON", "OFF": "OFF", "SOFT": "OFF", "RESET": "ON", "CYCLE": "ON"}


class ApiError(Exception):
    """An error DataPacket answers with ``extensions.code``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.extensions = {"code": code}


def paginate(items: list[Entity], args: dict[str, Any] | None) -> dict[str, Any]:
    """One page of ``items`` with the Paginated*Response metadata.

    Past the last page the entries are empty, ``nextPageIndex`` is null and ``previousPageIndex``
    is the last page (the seed's indexes name pages that exist); an empty result has
    ``pageCount`` 0 and is both the first and the last page, with no previous page.
    """
    args = args or {}
    size = args.get("pageSize", MAX_PAGE_SIZE)
    index = args.get("pageIndex") or 0
    if not 1 <= size <= MAX_PAGE_SIZE:
        raise ApiError("VALIDATION_FAILED", f"pageSize must be between 1 and {MAX_PAGE_SIZE}")
    if index < 0:
        raise ApiError("VALIDATION_FAILED", "pageIndex must be 0 or greater")
    count = math.ceil(len(items) / size)
    previous = min(index, count) - 1
    return {
        "entries": items[index * size : (index + 1) * size],
        "entriesTotalCount": len(items),
        "pageCount": count,
        "pageSize": size,
        "currentPageIndex": index,
        "isFirstPage": index == 0,
        "isLastPage": index >= count - 1,
        "nextPageIndex": index + 1 if index + 1 < count else None,
        "previousPageIndex": previous if previous >= 0 else None,
    }


def in_filter(value: Any, allowed: list[Any] | None) -> bool:
    """``*_in`` semantics: absent or null means no condition, values inside one list are ORed."""
    return allowed is None or value in allowed


def current_power(server: Entity) -> str:
    """The power status now, after applying a pending power action whose delay has elapsed."""
    pending = server.get("_pendingPower")
    if pending and time.monotonic() >= pending[0]:
        _, target, restarts = pending
        if target == "OFF" or restarts or server["powerStatus"] != "ON":
            server["uptime"] = 0
        server["powerStatus"] = target
        del server["_pendingPower"]
    return server["powerStatus"]


def schedule_power_action(server: Entity, action: str, delay: float) -> None:
    """Record ``action``; the real API is asynchronous, so the status changes after ``delay``."""
    restarts = action in ("RESET", "CYCLE")
    server["_pendingPower"] = (time.monotonic() + delay, POWER_TARGET[action], restarts)


def _ips(server: Entity) -> list[str]:
    return [a["ip"] for a in server["network"]["ipAddresses"]]


def _has_tags(server: Entity, wanted: list[dict[str, str]]) -> list[bool]:
    pairs = {(t["key"], t["value"]) for t in server["tags"]}
    return [(w["key"], w["value"]) in pairs for w in wanted]


def server_matches(server: Entity, f: dict[str, Any]) -> bool:
    """ServersInput / TrafficServersInput: every given condition must hold (AND).

    ``tag_key``, ``tag_value`` and its deprecated twin ``tags_each`` need ALL listed tags;
    ``tags_in`` needs at least one. An empty ``*_in`` list therefore matches nothing.
    """
    location = server["location"]
    keys = {t["key"] for t in server["tags"]}
    return (
        in_filter(server["name"], f.get("name_in"))
        and in_filter(server["alias"], f.get("alias_in"))
        and in_filter(location["name"], f.get("location_in"))
        and in_filter(location["region"], f.get("region_in"))
        and (f.get("ip_in") is None or bool(set(_ips(server)) & set(f["ip_in"])))
        and in_filter(server["network"]["ipmi"]["ip"], f.get("ipmiIp_in"))
        and (f.get("powerStatus_in") is None or current_power(server) in f["powerStatus_in"])
        and in_filter(server["statusV2"], f.get("serverStatusV2_in"))
        and in_filter(server["status"], f.get("serverStatus_in"))
        and all(k in keys for k in f.get("tag_key") or [])
        and all(_has_tags(server, f.get("tag_value") or []))
        and all(_has_tags(server, f.get("tags_each") or []))
        and (f.get("tags_in") is None or any(_has_tags(server, f["tags_in"])))
    )


def find_server(fleet: Fleet, key: dict[str, Any]) -> Entity:
    """ServerInput: the one server matching every given identifier.

    ServerInput.alias: "Make sure all server aliases are unique, otherwise you will get an error" -
    an identifier that matches several servers is refused as ambiguous.
    """
    given = {k: v for k, v in key.items() if v is not None}
    if not given:
        raise ApiError("VALIDATION_FAILED", "ServerInput needs name, alias, ip, ipmiIp or tag")
    if set(given) == {"name"}:
        candidates = [s for s in [fleet.server_by_name.get(given["name"])] if s]
    else:
        candidates = [s for s in fleet.servers if _identified_by(s, given)]
    if not candidates:
        raise ApiError("NOT_FOUND", f"Server not found: {_describe(given)}")
    if len(candidates) > 1:
        raise ApiError(
            "VALIDATION_FAILED",
            f"Server identifier is ambiguous, {len(candidates)} servers match {_describe(given)}",
        )
    return candidates[0]


def _identified_by(server: Entity, given: dict[str, Any]) -> bool:
    return (
        given.get("name", server["name"]) == server["name"]
        and given.get("alias", server["alias"]) == server["alias"]
        and ("ip" not in given or given["ip"] in _ips(server))
        and given.get("ipmiIp", server["network"]["ipmi"]["ip"]) == server["network"]["ipmi"]["ip"]
        and ("tag" not in given or all(_has_tags(server, [given["tag"]])))
    )


def _describe(given: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in given.items())


def check_tag(key: str, value: str | None) -> None:
    """ServerTagInput: key of [A-Za-z0-9._-], 1..100 characters; value at most 150 characters."""
    if not TAG_KEY.fullmatch(key):
        raise ApiError(
            "VALIDATION_FAILED",
            "Tag key must be 1-100 alphanumeric characters, hyphens, underscores or periods",
        )
    if value is not None and len(value) > MAX_TAG_VALUE:
        raise ApiError("VALIDATION_FAILED", f"Tag value must be at most {MAX_TAG_VALUE} characters")


def check_tag_count(count: int) -> None:
    """SetServerTagsInput.tags: at most 10 tags per server."""
    if count > MAX_TAGS:
        raise ApiError("VALIDATION_FAILED", f"A server can have at most {MAX_TAGS} tags")


def check_ipmi_password(password: str) -> None:
    """ChangeIpmiPasswordInput.password: "Minimum 10, maximum 16 characters ... one number"."""
    if not IPMI_PASSWORD.fullmatch(password):
        raise ApiError(
            "VALIDATION_FAILED",
            "IPMI password must be 10 to 16 characters long and contain at least one number",
        )


def owned_ipv4(fleet: Fleet, ip: str) -> Entity:
    """ReverseDnsRecordInput.ip: "Currently only IPv4 addresses are supported"; it must be ours."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        raise ApiError("VALIDATION_FAILED", f"Not an IP address: {ip}") from None
    if address.version != 4:
        raise ApiError("VALIDATION_FAILED", "Only IPv4 addresses are supported")
    for server in fleet.servers:
        for entry in server["network"]["ipAddresses"]:
            if entry["ip"] == ip:
                return entry
    raise ApiError("NOT_FOUND", f"IP address {ip} does not belong to any of your servers")


def check_reverse_dns_available(fleet: Fleet) -> None:
    """Answer REVERSE_DNS_API_NOT_AVAILABLE while the fleet's maintenance switch is on."""
    if fleet.reverse_dns_maintenance:
        raise ApiError(
            "REVERSE_DNS_API_NOT_AVAILABLE",
            "The reverse DNS management API is currently under maintenance. "
            "Please try again in 5 minutes.",
        )


def check_ptr_hostname(hostname: str) -> None:
    """SetReverseDnsRecordInput.hostname: "Must end with a dot"."""
    if not hostname.endswith(".") or len(hostname) < 2 or any(c.isspace() for c in hostname):
        raise ApiError("VALIDATION_FAILED", "Hostname must be a domain name ending with a dot")
