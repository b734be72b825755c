"""Ask several providers the same question concurrently and combine the answers."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from providers.base import Capability, Page, Provider
from resolvers.pagination import merge_window, page_request, paginated
from schema.errors import NotFound, NotSupported

__all__ = ["first_found", "paginated_across"]

T = TypeVar("T")


async def first_found(
    providers: Sequence[Provider], call: Callable[[Provider], Awaitable[T]], what: str
) -> T:
    """The answer of the first provider (in configuration order) that has the item.

    ``NOT_FOUND`` from some providers is expected; any other error is raised as it is.
    """
    if not providers:
        raise NotFound(f"{what} was not found: no configured provider offers it.")
    results = await asyncio.gather(*(call(p) for p in providers), return_exceptions=True)
    for result in results:
        if not isinstance(result, BaseException):
            return result
    for result in results:
        if not isinstance(result, NotFound):
            raise result
    raise results[0]


async def paginated_across(
    providers: Sequence[Provider],
    values: dict[str, Any] | None,
    fetch: Callable[[Provider, int, int], Awaitable[Page[dict]]],
) -> dict[str, Any]:
    """A Paginated*Response merging one page across providers."""
    request = page_request(values)
    page = await merge_window(providers, fetch, request.offset, request.size)
    return paginated(page.entries, page.total, request)


def only_provider(providers: Sequence[Provider], capability: Capability) -> Provider:
    """The single provider able to answer a question that cannot be merged exactly."""
    if len(providers) == 1:
        return providers[0]
    if not providers:
        raise NotSupported("(none)", capability.value, "no configured provider offers it")
    raise NotSupported(
        ", ".join(p.id for p in providers),
        capability.value,
        "combining this figure across several providers is not implemented",
    )
