"""DataPacket's pagination metadata on every kind of page, and windows merged across providers."""

from __future__ import annotations

import asyncio

import pytest

from errors import ProviderUnavailable
from providers.base import LazyPage, Page, Provider, ProviderConfig
from resolvers.fanout import ProviderFailures, paginated_across
from resolvers.pagination import PageRequest, merge_window, paginated
from tests.conftest import error_codes

PAGE_FIELDS = (
    "entriesTotalCount pageCount currentPageIndex pageSize isFirstPage isLastPage "
    "nextPageIndex previousPageIndex"
)


def servers_page(client, index: int, size: int, filter: dict | None = None) -> dict:
    return client.data(
        "query P($input: PaginatedServersInput) { servers(input: $input) "
        f"{{ {PAGE_FIELDS} entries {{ name }} }} }}",
        {"input": {"pageIndex": index, "pageSize": size, "filter": filter or {}}},
    )["servers"]


def test_first_middle_last_and_beyond_last_pages(gateway):
    total = servers_page(gateway, 0, 50)["entriesTotalCount"]
    assert total == 40
    first = servers_page(gateway, 0, 15)
    assert (first["pageCount"], first["isFirstPage"], first["isLastPage"]) == (3, True, False)
    assert (first["previousPageIndex"], first["nextPageIndex"]) == (None, 1)
    assert len(first["entries"]) == 15
    middle = servers_page(gateway, 1, 15)
    assert (middle["isFirstPage"], middle["isLastPage"]) == (False, False)
    assert (middle["previousPageIndex"], middle["nextPageIndex"]) == (0, 2)
    last = servers_page(gateway, 2, 15)
    assert (last["isLastPage"], last["nextPageIndex"], len(last["entries"])) == (True, None, 10)
    beyond = servers_page(gateway, 7, 15)
    assert beyond["entries"] == [] and beyond["isLastPage"] and beyond["nextPageIndex"] is None
    assert beyond["currentPageIndex"] == 7 and beyond["entriesTotalCount"] == 40
    # The previous page of one past the end is the last page, which holds entries.
    assert beyond["previousPageIndex"] == 2
    assert servers_page(gateway, beyond["previousPageIndex"], 15)["entries"] == last["entries"]
    names = [s["name"] for page in (first, middle, last) for s in page["entries"]]
    assert len(set(names)) == 40 and names == sorted(names)


def test_empty_result_page(gateway):
    empty = servers_page(gateway, 0, 10, {"name_in": ["DP-00000"]})
    assert empty == {
        "entriesTotalCount": 0,
        "pageCount": 0,
        "currentPageIndex": 0,
        "pageSize": 10,
        "isFirstPage": True,
        "isLastPage": True,
        "nextPageIndex": None,
        "previousPageIndex": None,
        "entries": [],
    }


def test_default_page_is_the_first_fifty(gateway):
    page = gateway.data(f"{{ servers {{ {PAGE_FIELDS} }} }}")["servers"]
    assert (page["pageSize"], page["currentPageIndex"]) == (50, 0)


@pytest.mark.parametrize(("index", "size"), [(0, 51), (0, 0), (-1, 10)])
def test_out_of_range_paging_is_a_validation_failure(gateway, index, size):
    body = gateway.query(
        "query P($input: PaginatedInvoicesInput) { invoices(input: $input) { entriesTotalCount } }",
        {"input": {"pageIndex": index, "pageSize": size}},
    )
    assert error_codes(body) == ["VALIDATION_FAILED"]


def test_paginated_metadata_table():
    assert paginated([], 101, PageRequest(2, 50)) == {
        "entries": [],
        "entriesTotalCount": 101,
        "pageCount": 3,
        "currentPageIndex": 2,
        "pageSize": 50,
        "isFirstPage": False,
        "isLastPage": True,
        "nextPageIndex": None,
        "previousPageIndex": 1,
    }


@pytest.mark.parametrize(
    ("index", "total", "expected"),
    [
        (0, 30, (True, True, None, None)),  # the only page
        (1, 30, (False, True, None, 0)),  # just past the end: back to the last page
        (9, 30, (False, True, None, 0)),
        (3, 101, (False, True, None, 2)),
        (9, 101, (False, True, None, 2)),
        (2, 101, (False, True, None, 1)),  # the last page itself
        (1, 101, (False, False, 2, 0)),
        (0, 0, (True, True, None, None)),  # an empty result has no page to go back to
        (4, 0, (False, True, None, None)),
    ],
)
def test_page_indexes_name_pages_that_exist(index, total, expected):
    page = paginated([], total, PageRequest(index, 50))
    got = (page["isFirstPage"], page["isLastPage"], page["nextPageIndex"])
    assert (*got, page["previousPageIndex"]) == expected


class ListProvider(Provider):
    """An in-memory list standing in for a provider: merge_window only needs windows."""

    kind = "list"

    def __init__(self, name: str, size: int) -> None:
        super().__init__(ProviderConfig(name, "list", "http://unused", "L", {}))
        self.items = [f"{name}-{i}" for i in range(size)]
        self.calls: list[tuple[int, int]] = []

    async def window(self, offset: int, limit: int) -> Page[str]:
        self.calls.append((offset, limit))
        return Page(self.items[offset : offset + limit], len(self.items))


@pytest.mark.parametrize(
    ("sizes", "offset", "limit"),
    [([7, 5, 9], 0, 5), ([7, 5, 9], 5, 5), ([7, 5, 9], 10, 10), ([0, 3, 0], 0, 2), ([4], 10, 5)],
)
async def test_merged_window_equals_the_concatenated_lists(sizes, offset, limit):
    providers = [ListProvider(f"p{i}", size) for i, size in enumerate(sizes)]
    page = await merge_window(providers, lambda p, o, n: p.window(o, n), offset, limit)
    everything = [item for provider in providers for item in provider.items]
    assert page.entries == everything[offset : offset + limit]
    assert page.total == sum(sizes)
    assert all(len(provider.calls) <= 2 for provider in providers)


class LazyListProvider(ListProvider):
    """A list whose entries are converted only when read, and fail to convert past ``bad``."""

    def __init__(self, name: str, size: int, bad: int | None = None) -> None:
        super().__init__(name, size)
        self.bad = bad
        self.converted: list[str] = []

    async def window(self, offset: int, limit: int) -> LazyPage[str]:
        self.calls.append((offset, limit))
        return LazyPage(self.items[offset : offset + limit], len(self.items), self.convert)

    async def convert(self, items: list[str]) -> list[str]:
        if self.bad is not None and self.items[self.bad] in items:
            raise ProviderUnavailable("malformed entry", provider=self.id)
        self.converted.extend(items)
        return [item.upper() for item in items]


async def test_a_lazy_provider_converts_only_the_entries_on_the_page():
    cheap, lazy = ListProvider("cheap", 60), LazyListProvider("lazy", 30)
    page = await merge_window([cheap, lazy], lambda p, o, n: p.window(o, n), 0, 50)
    assert page.total == 90 and page.entries == cheap.items[:50]
    assert lazy.calls == [(0, 50)] and lazy.converted == []
    straddling = await merge_window([cheap, lazy], lambda p, o, n: p.window(o, n), 50, 20)
    assert straddling.entries == cheap.items[50:] + [item.upper() for item in lazy.items[:10]]
    assert lazy.converted == lazy.items[:10]


async def test_lazy_providers_sharing_a_page_convert_their_entries_together():
    """Conversions may make upstream calls (dashserv): none waits for another to finish."""
    both_started = asyncio.Barrier(2)

    class Meeting(LazyListProvider):
        async def convert(self, items: list[str]) -> list[str]:
            await both_started.wait()  # returns only once the other conversion has begun
            return await super().convert(items)

    first, second = Meeting("first", 3), Meeting("second", 3)
    page = await asyncio.wait_for(
        merge_window([first, second], lambda p, o, n: p.window(o, n), 0, 6), timeout=30
    )
    assert page.entries == [item.upper() for item in first.items + second.items]


class Partials:
    """The part of a request context ``ProviderFailures`` reports provider failures to."""

    def __init__(self) -> None:
        self.reported: list[tuple[str, list]] = []

    def report_partial(self, error: ProviderUnavailable, path: list) -> None:
        self.reported.append((error.provider, path))


async def fetch(provider: ListProvider, offset: int, limit: int) -> Page | LazyPage:
    """``paginated_across``'s fetch over the in-memory providers."""
    return await provider.window(offset, limit)


async def test_a_provider_failing_while_its_entries_are_read_is_merged_away():
    first, broken, last = (
        ListProvider("first", 3),
        LazyListProvider("broken", 4, bad=2),
        ListProvider("last", 5),
    )
    providers = [first, broken, last]
    context = Partials()
    failing = ProviderFailures(context, ["servers"], providers)

    response = await paginated_across(failing, providers, {"pageSize": 6}, fetch)
    # The page and its total are those of the providers that answered, as if "broken" had
    # failed outright; its failure is reported beside the data.
    assert response["entries"] == first.items + last.items[:3]
    assert response["entriesTotalCount"] == 8
    assert context.reported == [("broken", ["servers"])]
    # An entry before the malformed one is not enough to show a partial share.
    assert broken.converted == []
    # When the malformed entry is not on the page, nothing is reported.
    fine = Partials()
    page = await paginated_across(
        ProviderFailures(fine, ["servers"], providers), providers, {"pageSize": 2}, fetch
    )
    assert page["entries"] == first.items[:2] and page["entriesTotalCount"] == 12
    assert fine.reported == []


async def test_a_provider_failing_late_leaves_the_others_shares_read_once():
    """The others' conversions (per-server upstream calls) are not made again for the retry."""
    first, broken, last = (
        LazyListProvider("first", 3),
        LazyListProvider("broken", 4, bad=0),
        LazyListProvider("last", 5),
    )
    providers = [first, broken, last]
    context = Partials()

    response = await paginated_across(
        ProviderFailures(context, ["servers"], providers), providers, {"pageSize": 10}, fetch
    )
    assert response["entries"] == [item.upper() for item in first.items + last.items]
    assert context.reported == [("broken", ["servers"])]
    # Each entry was converted once: "last" read only the part its share grew by.
    assert first.converted == first.items
    assert last.converted == last.items
