"""Page-numbered upstream lists: fetching a window of one, and walking one to its end.

``pages_for_window`` picks the pages covering ``[offset, offset + limit)``; ``walk_pages`` reads a
whole list page by page and stops on every sign of its end an upstream gives, so an answer that
keeps linking a next page (which an official spec allows) cannot make it read forever.
``walk_linked_pages`` is the pager of REST lists whose answers say where they stand (a next
link, counts): each adapter names only where its answers keep them (``LinkedPages``).
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from errors import ProviderUnavailable

__all__ = [
    "MAX_WALKED_PAGES",
    "LinkedPages",
    "PageFacts",
    "UpstreamPage",
    "pages_for_window",
    "walk_linked_pages",
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


@dataclass(frozen=True)
class LinkedPages:
    """Where one API's list answers say what follows them: dotted paths into the body.

    A true value at ``next`` links a next page; ``total``, ``last_page`` and ``current_page``
    are the counts of ``PageFacts`` (an integer there, or nothing). ``total_required``: an
    answer without its total is malformed.

    Example:
        ``LinkedPages(next="links.pages.next", total="meta.total", total_required=True)``
    """

    next: str
    total: str | None = None
    last_page: str | None = None
    current_page: str | None = None
    total_required: bool = False

    def facts(self, body: Any, key: str, provider: str) -> PageFacts:
        """The ``PageFacts`` of one answer whose items are its ``key`` list."""
        items = body.get(key) if isinstance(body, dict) else None
        total = _count(_at(body, self.total))
        if not isinstance(items, list) or (self.total_required and total is None):
            raise ProviderUnavailable.failed(provider, f"answered with a malformed {key} list")
        return PageFacts(
            items=items,
            has_next=bool(_at(body, self.next)),
            total=total,
            last_page=_count(_at(body, self.last_page)),
            current_page=_count(_at(body, self.current_page)),
        )


async def walk_linked_pages(
    fetch: Callable[[int], Awaitable[Any]], style: LinkedPages, key: str, provider: str
) -> list[Any]:
    """Every item of a list whose page ``n`` is the body ``fetch(n)`` answers (``walk_pages``)."""

    async def page(number: int) -> PageFacts:
        return style.facts(await fetch(number), key, provider)

    return await walk_pages(page, provider, key)


def _at(body: Any, path: str | None) -> Any:
    """The value at a dotted path of nested objects, or None where any step is missing."""
    if path is None:
        return None
    for step in path.split("."):
        if not isinstance(body, dict):
            return None
        body = body.get(step)
    return body


def _count(value: Any) -> int | None:
    """A count (an integer, not a boolean), or None."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None
