"""DataPacket's pagination rules, and one window merged across several providers.

Global order: providers in configuration order, each in its own stable upstream order.
Merging a window needs each provider's total. ``merge_window`` asks every provider at once
for the window at the same offset (exact for the first provider, and for the others
whenever the providers before them hold nothing before it: always on the first page), then
re-asks only those whose real share differs. Providers answer with a ``LazyPage`` when
their entries cost work (mapping, per-server upstream calls): only the entries that land on
the page are converted.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from errors import ValidationFailed
from providers.base import LazyPage, Page, Provider

__all__ = [
    "MAX_PAGE_SIZE",
    "PageRequest",
    "merge_window",
    "page_request",
    "paginated",
    "read_head",
]

MAX_PAGE_SIZE = 50

T = TypeVar("T")
Fetch = Callable[[Provider, int, int], Awaitable[Page[T] | LazyPage[T]]]
Take = Callable[[Provider, Page[T] | LazyPage[T], int], Awaitable[list[T] | None]]


async def read_head(provider: Provider, page: Page[T] | LazyPage[T], count: int) -> list[T] | None:
    """A page's first ``count`` entries (``merge_window``'s default ``take``)."""
    return await page.head(count)


class PageRequest:
    """A validated ``pageIndex``/``pageSize`` pair."""

    def __init__(self, index: int, size: int) -> None:
        self.index = index
        self.size = size

    @property
    def offset(self) -> int:
        return self.index * self.size


def page_request(values: dict[str, Any] | None) -> PageRequest:
    """Validate a Paginated*Input: ``pageSize`` 1..50 (default 50), ``pageIndex`` ≥ 0."""
    values = values or {}
    size = values.get("pageSize", MAX_PAGE_SIZE)
    index = values.get("pageIndex")
    index = 0 if index is None else index
    if size is None or not 1 <= size <= MAX_PAGE_SIZE:
        raise ValidationFailed(f"pageSize must be between 1 and {MAX_PAGE_SIZE}, got {size}.")
    if index < 0:
        raise ValidationFailed(f"pageIndex must be 0 or greater, got {index}.")
    return PageRequest(index, size)


def paginated(entries: list, total: int, request: PageRequest) -> dict[str, Any]:
    """A Paginated*Response dict with every metadata field.

    The seed's indexes name pages that exist: ``nextPageIndex`` is null "when none is
    available", so a page at or past the last one is the last (``isLastPage`` true, no next
    page), and ``previousPageIndex`` past the end is the last page, the one before it that
    holds entries (null when there is none: an empty result, or the first page).
    """
    page_count = math.ceil(total / request.size)
    index = request.index
    previous = min(index, page_count) - 1
    return {
        "entries": entries,
        "entriesTotalCount": total,
        "pageCount": page_count,
        "currentPageIndex": index,
        "pageSize": request.size,
        "isFirstPage": index == 0,
        "isLastPage": index >= page_count - 1,
        "nextPageIndex": index + 1 if index < page_count - 1 else None,
        "previousPageIndex": previous if previous >= 0 else None,
    }


async def merge_window(
    providers: Sequence[Provider],
    fetch: Fetch[T],
    offset: int,
    limit: int,
    take: Take[T] = read_head,
) -> Page[T]:
    """The window ``[offset, offset + limit)`` of the providers' lists laid end to end.

    ``take(provider, page, count)`` reads a page's first entries; ``None`` means the provider
    failed while they were read (malformed data in a ``LazyPage``, its deadline passed): the
    window is merged again without that provider, so the total counts only providers that
    answered. Entries already read are kept while their page stands (a share that grows reads
    only its new entries), so a provider failing late never makes the others convert entries,
    and call their upstreams for them, twice.
    """
    asked = [(offset, limit)] * len(providers)
    pages = list(await asyncio.gather(*(fetch(p, offset, limit) for p in providers)))
    read: dict[int, list[T]] = {}  # provider position -> the first entries of its share
    while True:
        totals = [page.total for page in pages]
        slices = _shares(totals, offset, limit)
        again = [(p, o, n) for p, o, n in slices if not (asked[p][0] == o and asked[p][1] >= n)]
        refetched = await asyncio.gather(*(fetch(providers[p], o, n) for p, o, n in again))
        for (position, local_offset, local_limit), page in zip(again, refetched, strict=True):
            asked[position], pages[position] = (local_offset, local_limit), page
        for position, _, _ in again:
            read.pop(position, None)
        # Read what no earlier round read: a whole share, or the part a share grew by.
        unread = [(p, len(read.get(p, ())), n) for p, _, n in slices if len(read.get(p, ())) < n]
        shares = await asyncio.gather(
            *(take(providers[p], pages[p].after(done), n - done) for p, done, n in unread)
        )
        failed = []
        for (position, _, _), share in zip(unread, shares, strict=True):
            if share is None:
                failed.append(position)
            else:
                read[position] = read.get(position, []) + share
        if not failed:
            entries = [entry for p, _, n in slices for entry in read[p][:n]]
            return Page(entries=entries, total=sum(totals))
        for position in failed:
            pages[position] = Page([], 0)
            read.pop(position, None)


def _shares(totals: list[int], offset: int, limit: int) -> list[tuple[int, int, int]]:
    """(provider index, local offset, local limit) of each provider holding part of the window."""
    slices = []
    start = 0
    for position, total in enumerate(totals):
        local_offset = max(offset - start, 0)
        local_end = min(offset + limit - start, total)
        if local_end > local_offset:
            slices.append((position, local_offset, local_end - local_offset))
        start += total
    return slices
