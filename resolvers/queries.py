"""Query resolvers other than ``servers``/``server``: account, billing, support, traffic, …"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TYPE_CHECKING

from providers.base import Capability, Provider
from providers.selection import Selection
from resolvers.fanout import ProviderFailures, first_found, paginated_across
from resolvers.pagination import page_request
from resolvers.servers import with_nested_providers

if TYPE_CHECKING:
    from resolvers.context import RequestContext

__all__ = [
    "account",
    "instant_delivery_server",
    "instant_delivery_servers",
    "invoice",
    "invoices",
    "locations",
    "provider_statuses",
    "reverse_dns_record",
    "subscription",
    "subscriptions",
    "support_request",
    "support_requests",
]


async def account(context: RequestContext, selection: Selection) -> dict:
    """The account of the first configured provider that has one."""
    return await context.providers.offering(Capability.ACCOUNT)[0].account(selection)


async def invoices(
    context: RequestContext, values: dict | None, selection: Selection, path: list
) -> dict:
    """Invoices of every provider that bills, merged in provider order."""
    invoice_filter = (values or {}).get("filter") or {}

    async def fetch(provider: Provider, offset: int, limit: int):
        page = await provider.list_invoices(invoice_filter, offset, limit, selection)
        return page.map(lambda invoice: with_nested_providers(invoice, provider))

    return await _merged(context, Capability.INVOICES, values, fetch, path)


async def invoice(context: RequestContext, number: str, selection: Selection) -> dict:
    """One invoice by number, from whichever provider issued it."""
    return await first_found(
        context.providers.offering(Capability.INVOICES, "invoice"),
        lambda provider: _billed(provider.invoice(number, selection), provider),
    )


async def subscriptions(
    context: RequestContext, values: dict | None, selection: Selection, path: list
) -> dict:
    """Subscriptions of every provider, merged in provider order."""
    subscription_filter = (values or {}).get("filter") or {}

    async def fetch(provider: Provider, offset: int, limit: int):
        page = await provider.list_subscriptions(subscription_filter, offset, limit, selection)
        return page.map(lambda subscription: with_nested_providers(subscription, provider))

    return await _merged(context, Capability.SUBSCRIPTIONS, values, fetch, path)


async def subscription(context: RequestContext, name: str, selection: Selection) -> dict:
    """One subscription by name."""
    return await first_found(
        context.providers.offering(Capability.SUBSCRIPTIONS, "subscription"),
        lambda provider: _billed(provider.subscription(name, selection), provider),
    )


async def support_requests(
    context: RequestContext, values: dict | None, selection: Selection, path: list
) -> list[dict]:
    """One page of the support requests of every provider (a bare list, as in DataPacket)."""
    request = page_request(values)
    request_filter = (values or {}).get("filter") or {}
    providers = context.providers.offering(Capability.SUPPORT_REQUESTS)
    failing = ProviderFailures(context, path, providers)
    fetch = failing.fetch(lambda p: p.list_support_requests(request_filter, selection), [])
    lists = await asyncio.gather(*(fetch(provider) for provider in providers))
    failing.settle()
    merged = [item for requests in lists for item in requests]
    return merged[request.offset : request.offset + request.size]


async def support_request(context: RequestContext, request_id: int, selection: Selection):
    """One support request by id."""
    return await first_found(
        context.providers.offering(Capability.SUPPORT_REQUESTS, "supportRequest"),
        lambda provider: provider.support_request(request_id, selection),
    )


async def instant_delivery_servers(
    context: RequestContext, values: dict | None, selection: Selection, path: list
) -> dict:
    """In-stock servers of every provider, merged in provider order."""
    stock_filter = (values or {}).get("filter") or {}

    async def fetch(provider: Provider, offset: int, limit: int):
        return await provider.list_instant_delivery_servers(stock_filter, offset, limit, selection)

    return await _merged(context, Capability.INSTANT_DELIVERY, values, fetch, path)


async def instant_delivery_server(context: RequestContext, name: str, selection: Selection):
    """One in-stock server by name."""
    return await first_found(
        context.providers.offering(Capability.INSTANT_DELIVERY, "instantDeliveryServer"),
        lambda provider: provider.instant_delivery_server(name, selection),
    )


async def reverse_dns_record(context: RequestContext, ip: str, selection: Selection) -> dict:
    """The PTR record of an IP, from the provider that owns the IP."""
    return await first_found(
        context.providers.offering(Capability.REVERSE_DNS_READ),
        lambda provider: provider.reverse_dns_record(ip, selection),
    )


async def _billed(lookup: Awaitable[dict], provider: Provider) -> dict:
    """An invoice or subscription whose nested servers name ``provider``."""
    return with_nested_providers(await lookup, provider)


async def _merged(
    context: RequestContext, capability: Capability, values: dict | None, fetch, path: list
) -> dict:
    providers = context.providers.offering(capability)
    return await paginated_across(
        ProviderFailures(context, path, providers), providers, values, fetch
    )


async def locations(context: RequestContext, path: list) -> list[dict]:
    """``Query.locations``: every provider's locations, de-duplicated, by region then name."""
    providers = context.providers.offering(Capability.LIST_SERVERS, "locations")
    failing = ProviderFailures(context, path, providers)
    fetch = failing.fetch(lambda provider: provider.list_locations(), [])
    lists = await asyncio.gather(*(fetch(provider) for provider in providers))
    failing.settle()
    unique = {(loc["region"], loc["name"], loc["short"]): loc for found in lists for loc in found}
    return [unique[key] for key in sorted(unique)]


async def provider_statuses(context: RequestContext) -> list[dict]:
    """``Query.providers``: every configured instance with its health and capabilities."""
    reachable = await context.health.check(context.providers)
    return [
        {
            "id": provider.id,
            "kind": provider.kind.upper(),
            "reachable": reachable[provider.id],
            "capabilities": sorted(capability.value for capability in provider.capabilities),
            "circuit": provider.guard.state,
        }
        for provider in context.providers.all
    ]
