"""DataPacket's pagination rules, and one window merged across several providers.

Global order: providers in configuration order, each in its own stable upstream order.
Merging a window needs each provider's total. ``merge_window`` asks every provider at once
for the window at the same offset (exact for the first provider, and for the others
whenever the providers before them hold nothing before it: always on the first page), then
re-asks only those whose real share differs. A provider whose entries cost extra upstream
calls each (``costly``) is asked for its total alone first, so no per-entry work is done
for entries that the page will not show.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable, Collection, Sequence
from typing import Any, TypeVar

from providers.base import Page, Provider
from schema.errors import ValidationFailed

__all__ = ["MAX_PAGE_SIZE", "PageRequest", "merge_window", "page_request", "paginated"]

MAX_PAGE_SIZE = 50

T = TypeVar("T")
Fetch = Callable[[Provider, int, int], Awaitable[Page[T]]]


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
    """A Paginated*Response dict with every metadata field."""
    page_count = math.ceil(total / request.size)
    index = request.index
    return {
        "entries": entries,
        "entriesTotalCount": total,
        "pageCount": page_count,
        "currentPageIndex": index,
        "pageSize": request.size,
        "isFirstPage": index == 0,
        "isLastPage": index >= page_count - 1,
        "nextPageIndex": index + 1 if index < page_count - 1 else None,
        "previousPageIndex": index - 1 if index > 0 else None,
    }


async def merge_window(
    providers: Sequence[Provider],
    fetch: Fetch[T],
    offset: int,
    limit: int,
    costly: Collection[str] = (),
) -> Page[T]:
    """The window ``[offset, offset + limit)`` of the providers' lists laid end to end."""
    asked = [
        (0, 0) if position > 0 and provider.id in costly else (offset, limit)
        for position, provider in enumerate(providers)
    ]
    first = await asyncio.gather(
        *(fetch(p, o, n) for p, (o, n) in zip(providers, asked, strict=True))
    )
    totals = [page.total for page in first]
    slices: list[tuple[int, int, int]] = []  # (provider index, local offset, local limit)
    start = 0
    for position, total in enumerate(totals):
        local_offset = max(offset - start, 0)
        local_end = min(offset + limit - start, total)
        if local_end > local_offset:
            slices.append((position, local_offset, local_end - local_offset))
        start += total

    def reusable(position: int, local_offset: int, local_limit: int) -> bool:
        return asked[position][0] == local_offset and asked[position][1] >= local_limit

    again = [(p, o, n) for p, o, n in slices if not reusable(p, o, n)]
    shares = iter(await asyncio.gather(*(fetch(providers[p], o, n) for p, o, n in again)))
    entries: list[T] = []
    for position, local_offset, local_limit in slices:
        reuse = reusable(position, local_offset, local_limit)
        page = first[position] if reuse else next(shares)
        entries.extend(page.entries[:local_limit])
    return Page(entries=entries, total=sum(totals))
