"""Mutation resolvers: route by server to its provider, check capability, call once.

The token's scope is checked before execution (gateway.auth), so no resolver here runs for a
read-only token. A capability the owning provider lacks fails before any upstream call.
Nothing here retries: a power action, tag write or support request must not happen twice.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any

from errors import ValidationFailed, quoted
from providers.base import Capability, Provider
from providers.selection import Selection
from resolvers.fanout import first_found
from resolvers.servers import server_owner, with_provider

if TYPE_CHECKING:
    from resolvers.context import RequestContext

__all__ = [
    "change_ipmi_password",
    "create_support_request",
    "perform_power_action",
    "set_reverse_dns_record",
    "set_server_alias",
    "set_server_boot_device",
    "set_server_primary_ip",
    "set_server_tag",
    "set_server_tags",
    "support_request_reply",
]

TAG_KEY = re.compile(r"^[A-Za-z0-9._-]{1,100}$")
MAX_TAG_VALUE = 150
MAX_TAGS = 10


def validate_tag(key: str, value: str | None) -> None:
    """The seed's ServerTagInput rules: key charset and length, value length."""
    if not TAG_KEY.match(key):
        raise ValidationFailed(
            f'Tag key {quoted(key)} must be 1-100 characters of letters, digits, "-", "_" or ".".',
            field="key",
        )
    if value is not None and len(value) > MAX_TAG_VALUE:
        raise ValidationFailed(
            f"Tag value must be at most {MAX_TAG_VALUE} characters.", field="value"
        )


async def _server_call(
    context: RequestContext,
    values: dict[str, Any],
    capability: Capability,
    call,
    operation: str | None = None,
) -> Any:
    """``call(owner, name)`` once, after checking the owner can do ``operation``."""
    provider, name = await server_owner(context, values)
    provider.require(capability, operation)
    return provider, await call(provider, name)


async def perform_power_action(
    context: RequestContext, values: dict[str, Any], selection: Selection
) -> dict:
    """``performServerPowerAction``: one upstream action on the owning provider."""
    provider, server = await _server_call(
        context,
        values["server"],
        Capability.POWER_ACTION,
        lambda p, name: p.perform_power_action(name, values["action"], selection),
    )
    if context.status_feed is not None:
        context.status_feed.action_sent(provider, server["name"])
    return {"server": with_provider(server, provider)}


async def set_server_alias(context: RequestContext, values: dict[str, Any], selection: Selection):
    """``setServerAlias``."""
    provider, server = await _server_call(
        context,
        values["server"],
        Capability.SET_ALIAS,
        lambda p, name: p.set_server_alias(name, values.get("alias"), selection),
    )
    return {"server": with_provider(server, provider)}


async def set_server_boot_device(
    context: RequestContext, values: dict[str, Any], selection: Selection
) -> dict:
    """``setServerBootDevice``."""
    provider, server = await _server_call(
        context,
        values["server"],
        Capability.SET_BOOT_DEVICE,
        lambda p, name: p.set_server_boot_device(name, values["bootDevice"], selection),
    )
    return {"server": with_provider(server, provider)}


async def set_server_primary_ip(
    context: RequestContext, values: dict[str, Any], selection: Selection
) -> dict:
    """``setServerPrimaryIp``."""
    provider, server = await _server_call(
        context,
        values["server"],
        Capability.SET_PRIMARY_IP,
        lambda p, name: p.set_server_primary_ip(name, values["ip"], selection),
    )
    return {"server": with_provider(server, provider)}


async def change_ipmi_password(
    context: RequestContext, values: dict[str, Any], selection: Selection
) -> dict:
    """``changeServerIpmiPassword``: 10–16 characters with a digit, checked before routing."""
    password = values["password"]
    if not 10 <= len(password) <= 16 or not any(char.isdigit() for char in password):
        raise ValidationFailed(
            "The IPMI password must be 10 to 16 characters long with at least one number.",
            field="password",
        )
    provider, server = await _server_call(
        context,
        values["server"],
        Capability.CHANGE_IPMI_PASSWORD,
        lambda p, name: p.change_ipmi_password(name, password, selection),
    )
    return {"server": with_provider(server, provider)}


async def set_server_tag(context: RequestContext, values: dict[str, Any]) -> bool:
    """``setServerTag``: set one tag, or delete it when ``value`` is null."""
    validate_tag(values["key"], values.get("value"))
    _, changed = await _server_call(
        context,
        values["server"],
        Capability.SET_TAGS,
        lambda p, name: p.set_server_tag(name, values["key"], values.get("value")),
        "setServerTag",
    )
    return changed


async def set_server_tags(context: RequestContext, values: dict[str, Any]) -> bool:
    """``setServerTags``: replace all tags (trimmed, at most ten)."""
    tags = [(tag["key"].strip(), tag["value"].strip()) for tag in values["tags"]]
    if len(tags) > MAX_TAGS:
        raise ValidationFailed(f"A server can have at most {MAX_TAGS} tags.", field="tags")
    for key, value in tags:
        validate_tag(key, value)
    _, changed = await _server_call(
        context,
        values["server"],
        Capability.SET_TAGS,
        lambda p, name: p.set_server_tags(name, tags),
    )
    return changed


async def set_reverse_dns_record(
    context: RequestContext, values: dict[str, Any], selection: Selection
) -> dict:
    """``setReverseDnsRecord`` on the provider that owns the IP."""
    hostname = values.get("hostname")
    if hostname is not None and not hostname.endswith("."):
        raise ValidationFailed("The PTR hostname must end with a dot.", field="hostname")
    ip = values["ip"]
    owner = await first_found(
        context.providers.offering(Capability.REVERSE_DNS_WRITE),
        lambda provider: _holder(
            provider.reverse_dns_record(ip, Selection.of({"hostname": {}})), provider
        ),
    )
    return await owner.set_reverse_dns_record(ip, hostname, selection)


async def create_support_request(context: RequestContext, values: dict[str, Any]) -> bool:
    """``createSupportRequest`` with the provider that owns the named servers (else the
    first provider that takes support requests)."""
    servers = values.get("servers") or []
    owners = list({p.id: p for name in servers for p in context.providers.owners_of(name)}.values())
    if len(owners) > 1:
        raise ValidationFailed(
            "A support request can only name servers of one provider.", field="servers"
        )
    if not owners:
        owners = context.providers.offering(Capability.SUPPORT_REQUEST_WRITE)
    owners[0].require(Capability.SUPPORT_REQUEST_WRITE)
    return await owners[0].create_support_request(values)


async def support_request_reply(context: RequestContext, values: dict[str, Any]) -> bool:
    """``supportRequestReply`` on the provider holding the request."""
    providers = context.providers.offering(Capability.SUPPORT_REQUEST_WRITE, "supportRequestReply")
    owner = await first_found(
        providers,
        lambda provider: _holder(
            provider.support_request(values["id"], Selection.of({"id": {}})), provider
        ),
    )
    return await owner.support_request_reply(values["id"], values["message"])


async def _holder(lookup: Awaitable[Any], provider: Provider) -> Provider:
    """``provider`` once ``lookup`` (a read that raises NOT_FOUND elsewhere) succeeds."""
    await lookup
    return provider
