"""Fetching an arbitrary window ``[offset, offset + limit)`` from page-numbered upstream APIs."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["UpstreamPage", "pages_for_window"]


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
