"""The whole-response cache: a repeated query is answered without running, never stale.

Counts are of work done: documents executed (``FleetSchema.execute_document``) and upstream
calls (the emulators' request logs). See gateway/response_cache.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from emulators.datapacket import app as datapacket_emulator
from emulators.kit.server import EmulatorServer
from gateway.app import create_app
from gateway.response_cache import ResponseCache
from gateway.settings import settings_from_dict
from providers.cache import ReadRecord
from tests.conftest import FULL, READ, TOKENS, GatewayClient, datapacket_config
from tests.servers import InProcessGateway, stop_all, stop_soon


def generations_in(table: dict[str, int]):
    """A ``ResponseCache`` generation source reading ``table`` (as the read caches would)."""

    async def generations_of(providers):
        return [table[provider] for provider in providers]

    return generations_of


LIST = "query fleet { servers(input: {pageSize: 5}) { entries { name alias } } }"


@pytest.fixture
def fleet() -> Iterator[Any]:
    """A factory: ``count`` DataPacket emulators (``dp``, ``dq``) and a gateway over them."""
    gateways: list[InProcessGateway] = []
    upstreams: list[EmulatorServer] = []

    def make(cache: dict[str, Any] | None = None, tokens=TOKENS, count: int = 2):
        started = [
            EmulatorServer(datapacket_emulator.create_app(size=10, seed=seed)).start()
            for seed in range(1, count + 1)
        ]
        upstreams.extend(started)
        providers = [
            datapacket_config(server, id=id_)
            for server, id_ in zip(started, ("dp", "dq"), strict=False)
        ]
        settings = settings_from_dict(
            {"providers": providers, "tokens": tokens, "cache": cache or {}}
        )
        gateway = InProcessGateway(create_app(settings)).start()
        gateways.append(gateway)
        return GatewayClient(gateway), started

    yield make
    stop_all(gateways)
    stop_soon(upstreams)


def upstream_calls(upstreams: list[EmulatorServer]) -> int:
    return sum(server.app.state.emulator.request_log.count() for server in upstreams)


def test_a_repeated_query_is_answered_without_running_it(fleet, executions):
    client, upstreams = fleet()
    first = client.data(LIST)
    calls = upstream_calls(upstreams)
    assert client.data(LIST) == first
    assert client.data(LIST) == first
    assert executions == ["fleet"]
    assert upstream_calls(upstreams) == calls


def test_the_key_is_the_document_its_variables_and_its_operation(fleet, executions):
    client, _ = fleet()
    query = "query one($n: Int) { servers(input: {pageSize: $n}) { entries { name } } }"
    sizes = [len(client.data(query, {"n": n})["servers"]["entries"]) for n in (1, 2, 1, 2)]
    assert sizes == [1, 2, 1, 2]
    assert executions == ["one", "one"]
    two = "query a { account { name } } query b { servers { entriesTotalCount } }"
    assert "account" in client.data(two, operation_name="a")
    assert "servers" in client.data(two, operation_name="b")
    assert executions == ["one", "one", "a", "b"]


def test_a_write_makes_the_next_read_fresh(fleet, executions):
    client, _ = fleet(count=1)
    name = client.data(LIST)["servers"]["entries"][0]["name"]
    client.data(
        f'mutation {{ setServerAlias(input: {{server: {{name: "{name}"}}, alias: "renamed"}}) '
        "{ server { name } } }"
    )
    entries = client.data(LIST)["servers"]["entries"]
    assert next(e for e in entries if e["name"] == name)["alias"] == "renamed"
    assert executions == ["fleet", "anonymous", "fleet"]


def test_tokens_with_different_provider_scopes_never_share_an_entry(fleet, executions):
    tokens = [
        {"name": "all", "scope": "read-only", "token": READ},
        {"name": "only-dp", "scope": "read-only", "token": "dp-only", "providers": ["dp"]},
        {"name": "only-dq", "scope": "read-only", "token": "dq-only", "providers": ["dq"]},
        {"name": "also-dq", "scope": "read-only", "token": "dq-too", "providers": ["dq"]},
    ]
    client, _ = fleet(tokens=tokens)
    query = "{ servers(input: {pageSize: 20}) { entries { provider { id } } } }"

    def providers(token: str) -> set[str]:
        entries = client.data(query, token=token)["servers"]["entries"]
        return {entry["provider"]["id"] for entry in entries}

    assert providers("dp-only") == {"dp"}
    assert providers("dq-only") == {"dq"}
    assert providers(READ) == {"dp", "dq"}
    assert len(executions) == 3
    # The same scope is the same data: a second token scoped to dq shares dq's entry.
    assert providers("dq-too") == {"dq"}
    assert providers("dp-only") == {"dp"}
    assert len(executions) == 3


@pytest.mark.parametrize("cache", [{"responses": False}, {"enabled": False}])
def test_switched_off_every_query_runs(fleet, executions, cache):
    client, _ = fleet(cache=cache)
    client.data(LIST)
    client.data(LIST)
    assert executions == ["fleet", "fleet"]


def test_responses_with_errors_and_mutations_are_not_kept(fleet, executions):
    client, _ = fleet()
    missing = 'query missing { server(input: {name: "DP-99999999"}) { name } }'
    for _ in range(2):
        assert client.query(missing)["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    assert executions == ["missing", "missing"]


async def test_reads_that_are_never_cached_keep_the_response_out():
    generations = {"dp": 0}
    cache = ResponseCache(generations_in(generations))
    key = ResponseCache.key("{ x }", None, None, None)

    async def stored(record: ReadRecord) -> bool:
        await cache.put(key, b"{}", "x", record)
        return await cache.get(key) is not None

    fresh = 10**12
    kept = ReadRecord()
    kept.read("dp", 0, fresh)
    assert await stored(kept)
    uncached = ReadRecord()
    uncached.read("dp", 0, fresh)
    uncached.read("dp", 0, None)  # a no-store answer, or the read cache off for its kind
    cache = ResponseCache(generations_in(generations))
    assert not await stored(uncached)
    assert not await stored(ReadRecord())  # read nothing upstream (introspection, __typename)


async def test_a_write_while_the_query_ran_keeps_its_response_out():
    generations = {"dp": 0}
    cache = ResponseCache(generations_in(generations))
    key = ResponseCache.key("{ x }", None, None, None)
    record = ReadRecord()
    record.read("dp", 0, 10**12)
    generations["dp"] = 1  # a write cleared dp's read cache before the response was ready
    await cache.put(key, b"{}", "x", record)
    assert await cache.get(key) is None
    # And an entry stored before a write is dropped at the next lookup.
    record = ReadRecord()
    record.read("dp", 1, 10**12)
    await cache.put(key, b"{}", "x", record)
    assert await cache.get(key) is not None
    generations["dp"] = 2
    assert await cache.get(key) is None


def test_full_access_and_read_only_tokens_of_one_scope_share_data(fleet, executions):
    client, _ = fleet()
    assert client.data(LIST, token=FULL) == client.data(LIST, token=READ)
    assert executions == ["fleet"]


async def test_the_cache_is_bounded_by_bytes_least_recently_used_first():
    cache = ResponseCache(generations_in({"dp": 0}), max_bytes=8000)

    async def put(name: str, size: int) -> bytes:
        key = ResponseCache.key(name, None, None, None)
        record = ReadRecord()
        record.read("dp", 0, 10**12)
        await cache.put(key, b"x" * size, name, record)
        return key

    first, second = await put("a", 900), await put("b", 900)
    assert await cache.get(first) is not None  # a is now the most recently used
    keys = [await put(f"c{i}", 900) for i in range(7)]  # 8,100 bytes: one entry must go
    assert cache.size == 7200
    assert await cache.get(second) is None  # the least recently used
    assert await cache.get(first) is not None
    assert all([await cache.get(key) is not None for key in keys])
    assert await cache.get(await put("huge", 1001)) is None  # over an eighth: not kept
    assert cache.size <= 8000


async def test_an_entry_dropped_while_its_hit_is_checked_is_no_error():
    """With [cluster] a hit awaits the shared write counters; meanwhile another request may
    evict the entry (here: a put into a cache of one entry)."""
    evict: list[bytes] = []

    async def generations(providers):
        if evict:
            await cache.put(evict.pop(), b"other", "other", fresh_record())
        return [0 for _ in providers]

    def fresh_record() -> ReadRecord:
        record = ReadRecord()
        record.read("dp", 0, 10**12)
        return record

    cache = ResponseCache(generations, maxsize=1)
    first = ResponseCache.key("a", None, None, None)
    await cache.put(first, b"body", "a", fresh_record())
    evict.append(ResponseCache.key("b", None, None, None))
    entry = await cache.get(first)
    assert entry is not None and entry.body == b"body"  # checked fresh before it was evicted
    assert await cache.get(first) is None and cache.size == len(b"other")


def _at_once(client: GatewayClient, count: int) -> list[dict]:
    """``count`` identical LIST queries sent together; their JSON bodies."""
    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(lambda _: client.query(LIST), range(count)))


def test_identical_queries_in_flight_run_once_and_share_the_answer(fleet, executions):
    client, upstreams = fleet(count=1)
    upstreams[0].app.state.emulator.faults.latency_ms = 300  # the first is still running
    answers = _at_once(client, 8)
    assert executions == ["fleet"]  # without sharing, every one that came in the 300 ms ran
    assert all(answer == answers[0] for answer in answers) and "errors" not in answers[0]


def test_an_answer_with_errors_is_not_shared_each_query_runs(fleet, executions):
    client, upstreams = fleet(count=2)
    for upstream in upstreams:
        upstream.app.state.emulator.faults.latency_ms = 300
    upstreams[1].app.state.emulator.faults.error_rate = 1.0  # dq fails: a partial answer
    answers = _at_once(client, 4)
    assert len(executions) == 4
    assert all(answer["errors"][0]["extensions"]["provider"] == "dq" for answer in answers)
