"""Strawberry input objects to plain values (names for enums, no UNSET) at the resolver edge."""

from __future__ import annotations

import dataclasses
import enum
from typing import Any

from strawberry.types.unset import UnsetType

from providers.base import ServerFilter, ServerKey

__all__ = ["server_filter", "server_key", "values_of"]


def values_of(value: Any) -> Any:
    """Convert an input object (recursively) to dicts, lists and scalars; drop unset fields."""
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, list | tuple):
        return [values_of(item) for item in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        result = {}
        for field in dataclasses.fields(value):
            item = getattr(value, field.name)
            if isinstance(item, UnsetType):
                continue
            # Input fields whose GraphQL name is a keyword carry it in their metadata.
            name = getattr(field, "graphql_name", None) or field.name
            result[name] = values_of(item)
        return result
    return value


def _tags(values: list[dict] | None) -> tuple[tuple[str, str], ...] | None:
    return None if values is None else tuple((tag["key"], tag["value"]) for tag in values)


def server_filter(values: dict[str, Any]) -> ServerFilter:
    """``ServersInput`` as a ``ServerFilter``; deprecated ``tags_each`` joins ``tag_value``."""
    tag_value = values.get("tag_value")
    if values.get("tags_each") is not None:
        tag_value = [*(tag_value or []), *values["tags_each"]]
    strings = {
        name: tuple(values[name])
        for name in (
            "name_in",
            "alias_in",
            "ip_in",
            "ipmiIp_in",
            "location_in",
            "region_in",
            "powerStatus_in",
            "serverStatusV2_in",
            "serverStatus_in",
            "tag_key",
        )
        if values.get(name) is not None
    }
    return ServerFilter(**strings, tag_value=_tags(tag_value), tags_in=_tags(values.get("tags_in")))


def server_key(values: dict[str, Any]) -> ServerKey:
    """``ServerInput`` without its name, as a ``ServerKey``."""
    tag = values.get("tag")
    return ServerKey(
        alias=values.get("alias"),
        ip=values.get("ip"),
        ipmiIp=values.get("ipmiIp"),
        tag=(tag["key"], tag["value"]) if tag else None,
    )
