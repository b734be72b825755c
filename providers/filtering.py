"""DataPacket's ``ServersInput`` semantics, evaluated on server dicts.

For backends whose API cannot filter on a field, the adapter fetches the fields this module
needs (``filter_selection``), applies ``server_matches`` and pages the result itself
(``window``). Semantics match DataPacket: fields ANDed; values inside one ``*_in`` ORed
(an empty list matches nothing); ``tag_key``/``tag_value`` need all listed tags; ``tags_in``
needs one. Location matches the normalised name or short code, case-insensitively.
"""

from __future__ import annotations

from collections.abc import Iterable

from errors import NotFound, quoted
from providers.base import Page, ServerFilter
from providers.selection import Selection

__all__ = ["filter_selection", "server_matches", "stock_filter", "stock_named", "window"]

_NEEDS: dict[str, dict] = {
    "name_in": {"name": {}},
    "alias_in": {"alias": {}},
    "ip_in": {"network": {"ipAddresses": {"ip": {}}}},
    "ipmiIp_in": {"network": {"ipmi": {"ip": {}}}},
    "location_in": {"location": {"name": {}, "short": {}}},
    "region_in": {"location": {"region": {}}},
    "powerStatus_in": {"powerStatus": {}},
    "serverStatusV2_in": {"statusV2": {}},
    "serverStatus_in": {"status": {}},
    "tag_key": {"tags": {"key": {}, "value": {}}},
    "tag_value": {"tags": {"key": {}, "value": {}}},
    "tags_in": {"tags": {"key": {}, "value": {}}},
}


def filter_selection(server_filter: ServerFilter) -> Selection:
    """The fields a server dict must carry for ``server_matches`` to judge it."""
    selection = Selection.of({"name": {}})
    for name, value in vars(server_filter).items():
        if value is not None:
            selection = selection.merge(Selection.of(_NEEDS[name]))
    return selection


def _folded(values: Iterable[str]) -> set[str]:
    return {value.casefold() for value in values}


def server_matches(server: dict, f: ServerFilter) -> bool:
    """Whether one server dict satisfies every condition of the filter."""
    network = server.get("network") or {}
    location = server.get("location") or {}
    tags = {(tag["key"], tag["value"]) for tag in server.get("tags") or []}
    checks = [
        (f.name_in, lambda: server["name"] in f.name_in),
        (f.alias_in, lambda: server.get("alias") in f.alias_in),
        (
            f.ip_in,
            lambda: any(a["ip"] in f.ip_in for a in network.get("ipAddresses") or []),
        ),
        (f.ipmiIp_in, lambda: (network.get("ipmi") or {}).get("ip") in f.ipmiIp_in),
        (
            f.location_in,
            lambda: bool(
                _folded(f.location_in)
                & _folded(filter(None, [location.get("name"), location.get("short")]))
            ),
        ),
        (f.region_in, lambda: (location.get("region") or "").casefold() in _folded(f.region_in)),
        (f.powerStatus_in, lambda: server.get("powerStatus") in f.powerStatus_in),
        (f.serverStatusV2_in, lambda: server.get("statusV2") in f.serverStatusV2_in),
        (f.serverStatus_in, lambda: server.get("status") in f.serverStatus_in),
        (f.tag_key, lambda: set(f.tag_key) <= {key for key, _ in tags}),
        (f.tag_value, lambda: set(f.tag_value) <= tags),
        (f.tags_in, lambda: bool(set(f.tags_in) & tags)),
    ]
    return all(check() for condition, check in checks if condition is not None)


def window(servers: list[dict], f: ServerFilter, offset: int, limit: int) -> Page[dict]:
    """Filter a provider's whole (ordered) list and cut the requested window out of it."""
    matching = [server for server in servers if server_matches(server, f)]
    return Page(entries=matching[offset : offset + limit], total=len(matching))


def stock_filter(values: dict) -> ServerFilter:
    """``InstantDeliveryServersInput`` (``name_in``, ``location_in``, ``region_in``) as a filter."""
    return ServerFilter(
        **{
            key: tuple(values[key])
            for key in ("name_in", "location_in", "region_in")
            if values.get(key) is not None
        }
    )


def stock_named(entries: list[dict], name: str, provider_id: str) -> dict:
    """The in-stock server called ``name``, or ``NOT_FOUND`` naming the provider."""
    for entry in entries:
        if entry["name"] == name:
            return entry
    raise NotFound(f"Instant delivery server {quoted(name)} was not found.", provider=provider_id)
