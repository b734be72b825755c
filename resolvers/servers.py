"""``servers`` and ``server``: fan out to providers, merge, paginate, look up by key."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from errors import NotFound, ValidationFailed, quoted
from providers.base import Capability, Provider, ServerKey
from providers.selection import Selection
from resolvers.fanout import ProviderFailures, paginated_across
from resolvers.inputs import server_filter, server_key
from resolvers.selection import IDENTITY

if TYPE_CHECKING:
    from resolvers.context import RequestContext

__all__ = [
    "list_servers",
    "power_action_progress",
    "provider_ref",
    "resolve_server",
    "server_owner",
    "server_provider",
    "with_nested_providers",
    "with_provider",
]


def with_provider(server: dict, provider: Provider) -> dict:
    """A copy of a server dict with its ``Server.provider`` value.

    A copy, because adapters may hand out dicts shared with the read cache (see
    ``UpstreamClient.decode_json``).
    """
    return {**server, "provider": provider_ref(provider)}


def provider_ref(provider: Provider) -> dict[str, str]:
    """``Server.provider``'s value for a server of ``provider``."""
    return {"id": provider.id, "kind": provider.kind.upper()}


def with_nested_providers(value: Any, provider: Provider) -> Any:
    """A copy of billing data (an invoice, a subscription) whose servers, at any depth, carry
    ``provider``: the provider that answered, so ``Server.provider`` never guesses."""
    if isinstance(value, list):
        return [with_nested_providers(item, provider) for item in value]
    if not isinstance(value, dict):
        return value
    copied = {key: with_nested_providers(item, provider) for key, item in value.items()}
    server = copied.get("server")
    if isinstance(server, dict):
        copied["server"] = {**server, "provider": provider_ref(provider)}
    return copied


def server_provider(context: RequestContext, server: dict) -> dict[str, str]:
    """``Server.provider``: the provider the server came from.

    Every resolver that returns servers tags them (``with_provider``,
    ``with_nested_providers``); a server without the tag is taken to its owner by name only
    when exactly one configured provider's naming scheme covers it.
    """
    stored = server.get("provider")
    if stored is not None:
        return stored
    owners = context.providers.owners_of(server["name"])
    if len(owners) != 1:
        raise NotFound(f"No single configured provider owns server {quoted(server['name'])}.")
    return provider_ref(owners[0])


async def power_action_progress(context: RequestContext, server: dict) -> dict | None:
    """``Server.powerAction``: the progress the owning provider tracks, if any."""
    for provider in context.providers.owners_of(server["name"]):
        progress = await provider.power_action_progress(server["name"])
        if progress is not None:
            return progress
    return None


async def list_servers(
    context: RequestContext, values: dict[str, Any] | None, selection: Selection, path: list
) -> dict[str, Any]:
    """The ``servers`` query: one page of the merged, filtered fleet."""
    filter_values = (values or {}).get("filter") or {}
    providers = context.providers.capable(
        Capability.LIST_SERVERS, only=filter_values.get("provider_in")
    )
    wanted = server_filter(filter_values)

    async def fetch(provider: Provider, offset: int, limit: int):
        page = await provider.list_servers(wanted, offset, limit, selection)
        return page.map(lambda server: with_provider(server, provider))

    failing = ProviderFailures(context, path, providers)
    return await paginated_across(failing, providers, values, fetch)


async def resolve_server(
    context: RequestContext, values: dict[str, Any], selection: Selection, path: list | None
) -> dict:
    """The server a ``ServerInput`` designates: by name through the loaders, else by search.

    ``path`` is where partial provider failures are reported (``None``: not reported).
    """
    name = values.get("name")
    key = server_key(values)
    selection = selection.merge(IDENTITY["Server"]).merge(_key_selection(key))
    if name is None and key == ServerKey():
        raise ValidationFailed("ServerInput needs one of name, alias, ip, ipmiIp or tag.")
    if name is not None:
        providers = context.providers.owners_of(name)
        failing = ProviderFailures(context, path, providers)
        load = failing.fetch(
            lambda p: context.loaders.servers_by_name(p, selection).load(name), None
        )
        results = [[found] if found else [] for found in await _gather(load, providers)]
    else:
        providers = context.providers.offering(Capability.LIST_SERVERS, "server")
        failing = ProviderFailures(context, path, providers)
        results = await _gather(
            failing.fetch(lambda p: p.find_servers(key, selection), []), providers
        )
    if failing.errors and not any(results):
        # The server may live on the provider that failed: "not found" would be a guess.
        raise next(iter(failing.errors.values()))
    if name is None and path is not None:
        # A search by alias, ip or tag cannot vouch for uniqueness on a provider that failed.
        failing.settle()
    matches = [
        with_provider(server, provider)
        for provider, servers in zip(providers, results, strict=True)
        for server in servers
        if _matches_key(server, key)
    ]
    if not matches:
        raise NotFound(f"No server matches {_describe(values)}.")
    if len(matches) > 1:
        raise ValidationFailed(
            f"{len(matches)} servers match {_describe(values)}; use a unique alias, ip or tag."
        )
    return matches[0]


async def server_owner(context: RequestContext, values: dict[str, Any]) -> tuple[Provider, str]:
    """The provider and name of the server a mutation targets, with no upstream write."""
    name = values.get("name")
    owners = context.providers.owners_of(name) if name is not None else []
    if len(owners) == 1 and server_key(values) == ServerKey():
        return owners[0], name
    server = await resolve_server(context, values, IDENTITY["Server"], path=None)
    return context.providers.by_id[server["provider"]["id"]], server["name"]


async def _gather(call, providers: list[Provider]) -> list:
    return list(await asyncio.gather(*(call(provider) for provider in providers)))


def _key_selection(key: ServerKey) -> Selection:
    tree: dict[str, Any] = {}
    if key.alias is not None:
        tree["alias"] = {}
    if key.ip is not None:
        tree["network"] = {"ipAddresses": {"ip": {}}}
    if key.ipmiIp is not None:
        tree.setdefault("network", {})["ipmi"] = {"ip": {}}
    if key.tag is not None:
        tree["tags"] = {"key": {}, "value": {}}
    return Selection.of(tree)


def _matches_key(server: dict, key: ServerKey) -> bool:
    """Whether a server found by name also satisfies the other keys of its ServerInput."""
    network = server.get("network") or {}
    if key.alias is not None and server.get("alias") != key.alias:
        return False
    if key.ip is not None and key.ip not in {a["ip"] for a in network.get("ipAddresses", [])}:
        return False
    if key.ipmiIp is not None and (network.get("ipmi") or {}).get("ip") != key.ipmiIp:
        return False
    if key.tag is not None:
        return {"key": key.tag[0], "value": key.tag[1]} in (server.get("tags") or [])
    return True


def _describe(values: dict[str, Any]) -> str:
    return ", ".join(
        f"{name}={quoted(value)}" for name, value in values.items() if value is not None
    )
