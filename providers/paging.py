"""Page-numbered upstream lists: fetching a window of one, and walking one to its end.

``pages_for_window`` picks the pages covering ``[offset, offset + limit)``; ``walk_pages`` reads a
whole list page by page and stops on every sign of its end an upstream gives, so an answer that
keeps linking a next page (which an official spec allows) cannot make it read forever.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from errors import ProviderUnavailable

__all__ = [
    "MAX_WALKED_PAGES",
    "PageFacts",
    "UpstreamPage",
    "pages_for_window",
    "walk_pages",
]

#: The most pages one walk reads, whatever the upstream says: 1,000 pages are a million Packet
#: devices or 200,000 Mammoth servers. A list that claims more is refused, not cut short.
MAX_WALKED_PAGES = 1000


@dataclass(frozen=True)
class UpstreamPage:
    """One upstream page to fetch and the part of it that belongs to the window."""

    index: int
    size: int
    skip: int
    take: int


def pages_for_window(offset: int, limit: int, max_page_size: int) -> list[UpstreamPage]:
    """The fewest upstream pages covering the window, preferring a single page.

    Example:
        ``pages_for_window(100, 50, 50)`` is one page (index 2, size 50); ``(10, 50, 50)``
        fits in one page of size 60 only if the upstream allowed it, so it takes two.
    """
    if limit <= 0:
        # Only the total is wanted: the smallest page still reports it.
        return [UpstreamPage(index=0, size=1, skip=0, take=0)]
    for size in range(limit, max_page_size + 1):
        if offset // size == (offset + limit - 1) // size:
            index = offset // size
            return [UpstreamPage(index=index, size=size, skip=offset - index * size, take=limit)]
    pages = []
    position, remaining = offset, limit
    while remaining > 0:
        index = position // max_page_size
        skip = position - index * max_page_size
        take = min(remaining, max_page_size - skip)
        pages.append(UpstreamPage(index=index, size=max_page_size, skip=skip, take=take))
        position += take
        remaining -= take
    return pages


@dataclass(frozen=True)
class PageFacts:
    """One answer of a page-numbered list: its items and what it says about the pages after it.

    ``total`` is the number of items in the whole list, ``last_page`` the number of its last
    page and ``current_page`` the number of this one; ``None`` where the upstream says nothing.
    """

    items: list[Any]
    has_next: bool
    total: int | None = None
    last_page: int | None = None
    current_page: int | None = None


async def walk_pages(
    fetch: Callable[[int], Awaitable[PageFacts]],
    provider: str,
    what: str,
    max_pages: int | None = None,
) -> list[Any]:
    """Every item of a list, reading pages 1, 2, … until one of them is known to be the last.

    A page is the last when it links no next page, is empty, completes ``total`` items, or is
    (or is numbered) ``last_page``. The pages read never exceed ``last_page``, nor what
    ``total`` and the first page's size imply. A list that would need more than
    ``max_pages`` (default ``MAX_WALKED_PAGES``) is ``PROVIDER_UNAVAILABLE`` naming
    ``provider`` and ``what`` the list holds: refused, not cut short.
    """
    max_pages = MAX_WALKED_PAGES if max_pages is None else max_pages
    items: list[Any] = []
    limit: int | None = None
    page = 1
    while True:
        facts = await fetch(page)
        items.extend(facts.items)
        if page == 1 and facts.total is not None and facts.items:
            # The first page's size is the upstream's (it may serve fewer than were asked for).
            limit = math.ceil(facts.total / len(facts.items))
        if facts.last_page is not None:
            limit = facts.last_page if limit is None else min(limit, facts.last_page)
        if (
            not facts.has_next
            or not facts.items
            or (facts.total is not None and len(items) >= facts.total)
            or (limit is not None and page >= limit)
            or (
                facts.current_page is not None and limit is not None and facts.current_page >= limit
            )
        ):
            return items
        if page >= max_pages or (limit is not None and limit > max_pages):
            raise ProviderUnavailable.failed(
                provider, f"answered a {what} list of more than {max_pages} pages"
            )
        page += 1
