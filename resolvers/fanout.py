"""Ask several providers the same question concurrently and combine the answers.

A provider that fails (``PROVIDER_UNAVAILABLE``, or refusing the gateway's credentials) while
others answer does not fail the field: its share is left out, and its error is added to the
response with the field's path (see ``ProviderFailures``). Only when every provider asked fails does
the field itself fail with the first error.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from errors import GatewayError, NotAuthorized, NotFound, ProviderUnavailable
from providers.base import LazyPage, Page, Provider
from providers.http import request_deadline
from resolvers.pagination import merge_window, page_request, paginated, read_head

if TYPE_CHECKING:
    from resolvers.context import RequestContext

__all__ = ["LIST_SHARE", "ProviderFailures", "first_found", "paginated_across"]

T = TypeVar("T")

#: The share of a request's remaining time that providers' lists may take: a provider still
#: listing after it is given up on, so the others' entries can still be read (their per-server
#: calls) before the deadline, rather than failing with it.
LIST_SHARE = 0.75


async def first_found(providers: Sequence[Provider], call: Callable[[Provider], Awaitable[T]]) -> T:
    """The answer of the first provider (in configuration order) that has the item.

    ``NOT_FOUND`` from some providers is expected; any other error is raised as it is.
    """
    results = await asyncio.gather(*(call(p) for p in providers), return_exceptions=True)
    for result in results:
        if not isinstance(result, BaseException):
            return result
    for result in results:
        if not isinstance(result, NotFound):
            raise result
    raise results[0]


def is_provider_failure(error: BaseException) -> bool:
    """Errors that mean "this provider could not answer", as opposed to "the answer is no"."""
    return isinstance(error, ProviderUnavailable | NotAuthorized) and error.provider is not None


class ProviderFailures:
    """Collects provider failures of one field, so the other providers' data survives.

    Example:
        failing = ProviderFailures(context, path, providers)
        page = await merge_window(providers, failing.fetch(fetch, Page([], 0)), 0, 50)
        failing.settle()
    """

    def __init__(self, context: RequestContext, path: list[Any], providers: Sequence[Provider]):
        self.context = context
        self.path = path
        self.asked = {provider.id for provider in providers}
        self.errors: dict[str, GatewayError] = {}

    def fetch(self, call: Callable[..., Awaitable[T]], fallback: T) -> Callable[..., Awaitable[T]]:
        """Wrap ``call(provider, ...)``: a failing provider answers ``fallback`` from then on."""

        async def guarded(provider: Provider, *args: Any) -> T:
            if provider.id in self.errors:
                return fallback
            try:
                return await call(provider, *args)
            except GatewayError as error:
                if not is_provider_failure(error):
                    raise
                self.errors[provider.id] = error
                return fallback

        return guarded

    def settle(self) -> None:
        """Fail the field if every provider failed; otherwise report each failure beside it."""
        if self.asked and set(self.errors) >= self.asked:
            raise next(iter(self.errors.values()))
        for error in self.errors.values():
            self.context.report_partial(error, self.path)


async def paginated_across(
    failing: ProviderFailures,
    providers: Sequence[Provider],
    values: dict[str, Any] | None,
    fetch: Callable[[Provider, int, int], Awaitable[Page[dict] | LazyPage[dict]]],
) -> dict[str, Any]:
    """A Paginated*Response merging one page across providers, tolerating failed ones.

    ``entriesTotalCount`` counts the providers that answered; the errors name the others.
    """
    request = page_request(values)
    guarded = failing.fetch(_listing(fetch), Page(entries=[], total=0))
    take = failing.fetch(read_head, None)
    page = await merge_window(providers, guarded, request.offset, request.size, take)
    failing.settle()
    return paginated(page.entries, page.total, request)


def _listing(
    fetch: Callable[[Provider, int, int], Awaitable[T]],
) -> Callable[[Provider, int, int], Awaitable[T]]:
    """``fetch`` with its upstream calls ending by ``LIST_SHARE`` of the time left."""

    async def listing(provider: Provider, offset: int, limit: int) -> T:
        deadline = request_deadline.get()
        if deadline is None:
            return await fetch(provider, offset, limit)
        now = asyncio.get_running_loop().time()
        token = request_deadline.set(now + max(0.0, deadline - now) * LIST_SHARE)
        try:
            return await fetch(provider, offset, limit)
        finally:
            request_deadline.reset(token)

    return listing
