"""``providers.paging.walk_pages``: a list walk ends on every sign of its last page.

The adapters' walks against their emulators are tested with each backend (Packet, Mammoth);
these count the pages one walk asks for, over answers that disagree about where a list ends.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from emulators.datapacket import app as datapacket_emulator
from emulators.kit.server import EmulatorServer
from errors import ProviderUnavailable
from providers.base import ProviderConfig
from providers.datapacket.adapter import DataPacketProvider
from providers.paging import LinkedPages, PageFacts, walk_linked_pages, walk_pages
from providers.selection import Selection
from tests.servers import serving


class Upstream:
    """Answers page ``n`` with ``answer(n)`` and counts the pages asked for."""

    def __init__(self, answer) -> None:
        self.answer = answer
        self.asked: list[int] = []

    async def __call__(self, number: int) -> PageFacts:
        self.asked.append(number)
        return self.answer(number)


async def test_a_list_without_a_next_link_is_one_page() -> None:
    upstream = Upstream(lambda n: PageFacts(items=[1, 2], has_next=False))
    assert await walk_pages(upstream, "pk", "device") == [1, 2]
    assert upstream.asked == [1]


async def test_a_next_link_on_the_last_page_is_not_followed_when_last_page_says_so() -> None:
    upstream = Upstream(
        lambda n: PageFacts(items=[n], has_next=True, last_page=3, current_page=min(n, 3))
    )
    assert await walk_pages(upstream, "pk", "device") == [1, 2, 3]
    assert upstream.asked == [1, 2, 3]


async def test_a_next_link_on_the_last_page_is_not_followed_when_total_is_read() -> None:
    upstream = Upstream(lambda n: PageFacts(items=[n, n], has_next=True, total=5))
    assert await walk_pages(upstream, "pk", "device") == [1, 1, 2, 2, 3, 3]
    assert upstream.asked == [1, 2, 3]  # ceil(5 / 2): never a fourth page


async def test_a_page_that_says_it_is_the_last_ends_the_walk() -> None:
    # A server clamping the page number answers its last page with current_page = last_page.
    upstream = Upstream(
        lambda n: PageFacts(items=["x"], has_next=True, current_page=7, last_page=7)
    )
    assert await walk_pages(upstream, "pk", "device") == ["x"]
    assert upstream.asked == [1]


async def test_an_empty_page_ends_the_walk() -> None:
    upstream = Upstream(lambda n: PageFacts(items=[n] if n < 3 else [], has_next=True))
    assert await walk_pages(upstream, "pk", "device") == [1, 2]
    assert upstream.asked == [1, 2, 3]


async def test_a_list_that_never_ends_is_refused_at_the_bound() -> None:
    upstream = Upstream(lambda n: PageFacts(items=[n], has_next=True))
    with pytest.raises(ProviderUnavailable, match='"pk" answered a device list of more than'):
        await walk_pages(upstream, "pk", "device", max_pages=10)
    assert upstream.asked == list(range(1, 11))


async def test_a_total_past_the_bound_is_refused_after_the_first_page() -> None:
    upstream = Upstream(lambda n: PageFacts(items=[n] * 200, has_next=True, total=2**31 - 1))
    with pytest.raises(ProviderUnavailable, match='"pk" answered a device list of more than'):
        await walk_pages(upstream, "pk", "device")
    assert upstream.asked == [1]


async def test_fewer_items_per_page_than_asked_for_are_still_all_read() -> None:
    # The upstream serves 4 per page whatever per_page said: total counts items, not pages.
    items = list(range(10))
    upstream = Upstream(
        lambda n: PageFacts(items=items[(n - 1) * 4 : n * 4], has_next=n < 3, total=10)
    )
    assert await walk_pages(upstream, "pk", "device") == items
    assert upstream.asked == [1, 2, 3]


@pytest.fixture(scope="module")
def many_requests() -> Iterator[EmulatorServer]:
    """A DataPacket account with 125 support requests: three pages of 50."""
    with serving(datapacket_emulator.create_app(size=1000, seed=1)) as server:
        yield server


async def support_pages(upstream: EmulatorServer) -> list[int]:
    """The support requests' ``pageIndex`` of each call a DataPacket adapter makes."""
    upstream.app.state.emulator.request_log.clear()
    provider = DataPacketProvider(
        ProviderConfig(
            id="dp",
            kind="datapacket",
            base_url=f"{upstream.url}/v0/graphql",
            prefix="DP",
            credentials={"token": "dp-emulator-full"},
        )
    )
    try:
        found = await provider.list_support_requests({}, Selection.of({"id": {}}))
    finally:
        await provider.close()
    assert len(found) == len(upstream.app.state.fleet.support_requests)
    return [
        e.body["variables"]["input"]["pageIndex"]
        for e in upstream.app.state.emulator.request_log.entries()
    ]


async def test_datapacket_support_requests_are_read_until_a_short_page(many_requests) -> None:
    assert len(many_requests.app.state.fleet.support_requests) == 125
    assert await support_pages(many_requests) == [0, 1, 2]


async def test_datapacket_support_requests_past_the_bound_are_refused(
    many_requests, monkeypatch
) -> None:
    monkeypatch.setattr("providers.paging.MAX_WALKED_PAGES", 2)
    with pytest.raises(ProviderUnavailable, match="more than 2 pages"):
        await support_pages(many_requests)
    assert [
        e.body["variables"]["input"]["pageIndex"]
        for e in many_requests.app.state.emulator.request_log.entries()
    ] == [0, 1]


# --- the shared pager of linked REST lists (Packet's Meta, Mammoth's links and meta) ---------

PACKET_STYLE = LinkedPages(
    next="meta.next.href",
    total="meta.total",
    last_page="meta.last_page",
    current_page="meta.current_page",
)
MAMMOTH_STYLE = LinkedPages(next="links.pages.next", total="meta.total", total_required=True)


async def test_the_shared_pager_stops_at_packets_last_page_despite_a_next_link() -> None:
    def body(n: int) -> dict:
        return {"devices": [n], "meta": {"next": {"href": "/x"}, "last_page": 2}}

    asked: list[int] = []

    async def fetch(n: int) -> dict:
        asked.append(n)
        return body(n)

    assert await walk_linked_pages(fetch, PACKET_STYLE, "devices", "pk") == [1, 2]
    assert asked == [1, 2]


async def test_the_shared_pager_reads_mammoths_total_and_refuses_an_answer_without_it() -> None:
    async def fetch(n: int) -> dict:
        return {"servers": [n, n], "meta": {"total": 3}, "links": {"pages": {"next": "/x"}}}

    assert await walk_linked_pages(fetch, MAMMOTH_STYLE, "servers", "mc") == [1, 1, 2, 2]

    async def without_total(n: int) -> dict:
        return {"servers": [n], "links": {}}

    with pytest.raises(ProviderUnavailable) as raised:
        await walk_linked_pages(without_total, MAMMOTH_STYLE, "servers", "mc")
    assert raised.value.message == 'Provider "mc" answered with a malformed servers list.'
