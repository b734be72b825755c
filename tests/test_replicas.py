"""Two replicas sharing one Redis (``[cluster]``): the read cache, its invalidation and the
whole-response cache seen alike by both, and Redis going down and coming back.

"Two replicas" are two gateway apps built by the app factory in this process (each its own
event loop, reached through ``httpx.ASGITransport``), configured with the same DataPacket
emulator and the same ``redis-server`` (``tests/redis_server.py``). Every assertion is about
answers and counts: the emulator's request log says how many upstream calls were made.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from emulators.datapacket import app as emulator
from emulators.kit.server import EmulatorServer
from gateway.app import create_app
from gateway.settings import settings_from_dict
from providers.cache import ReadCache, SharedReads
from providers.cluster import ClusterSettings, SharedStore
from tests.conftest import FULL, TOKENS, GatewayClient, datapacket_config
from tests.redis_server import RedisServer
from tests.servers import InProcessGateway, serving, stop_all

ALIAS = '{ server(input: {name: "DP-12345"}) { alias } }'
ORIGINAL = "Load Balancer 01"
SERVERS = "{ servers(input: {pageSize: 5}) { entries { name alias } } }"


def rename(alias: str) -> str:
    return (
        f'mutation {{ setServerAlias(input: {{server: {{name: "DP-12345"}}, alias: "{alias}"}}) '
        "{ server { name } } }"
    )


@dataclass
class Replicas:
    a: GatewayClient
    b: GatewayClient
    upstream: EmulatorServer
    redis: RedisServer

    def calls(self) -> int:
        """Upstream requests the emulator received so far."""
        return self.upstream.app.state.emulator.request_log.count()

    def response_hits(self, client: GatewayClient) -> float:
        """Requests one replica answered from its whole-response cache."""
        metrics = client.server.app.state.gateway.observability.metrics
        return metrics.registry.get_sample_value("fleetql_response_cache_hits_total")


def replica(upstream: EmulatorServer, redis_url: str, cache: dict[str, Any]) -> InProcessGateway:
    settings = settings_from_dict(
        {
            "providers": [datapacket_config(upstream)],
            "tokens": TOKENS,
            "cache": cache,
            "cluster": {"redis_url": redis_url, "key_prefix": "replicas:"},
        },
        source="<replica>",
    )
    return InProcessGateway(create_app(settings)).start()


@pytest.fixture
def replicas(redis_server: RedisServer, request) -> Iterator[Replicas]:
    """Replicas A and B over one emulator and one Redis (``cache``: their ``[cache]`` table,
    by ``@pytest.mark.parametrize("replicas", [...], indirect=True)``)."""
    # Entries outlive any test (a loaded machine must not turn a hit into an expiry).
    cache = {"servers": 60, **getattr(request, "param", {})}
    with serving(emulator.create_app(size=20, seed=3)) as upstream:
        gateways = [replica(upstream, redis_server.url, cache) for _ in range(2)]
        try:
            yield Replicas(*map(GatewayClient, gateways), upstream, redis_server)
        finally:
            stop_all(gateways)


BOTH_CACHES = pytest.mark.parametrize(
    "replicas", [{}, {"responses": False}], indirect=True, ids=["responses", "reads-only"]
)


@BOTH_CACHES
def test_a_read_cached_on_a_is_served_to_b_without_an_upstream_call(replicas):
    first = replicas.a.data(SERVERS)
    calls = replicas.calls()
    assert replicas.b.data(SERVERS) == first
    assert replicas.calls() == calls


def test_a_response_cached_by_a_is_a_response_cache_hit_on_b_until_a_write(replicas):
    first = replicas.a.data(ALIAS)
    calls, hits = replicas.calls(), replicas.response_hits(replicas.b) or 0
    # B never ran this query: its answer is A's body, from Redis, with no execution.
    assert replicas.b.data(ALIAS) == first
    assert replicas.calls() == calls
    assert replicas.response_hits(replicas.b) == hits + 1
    assert replicas.b.data(ALIAS) == first  # and B keeps it
    assert replicas.response_hits(replicas.b) == hits + 2
    replicas.a.data(rename("renamed on a"))
    assert replicas.b.data(ALIAS) == {"server": {"alias": "renamed on a"}}
    assert replicas.response_hits(replicas.b) == hits + 2


@BOTH_CACHES
def test_a_write_through_b_makes_the_next_read_through_a_fresh(replicas):
    assert replicas.a.data(ALIAS) == {"server": {"alias": "Load Balancer 01"}}
    calls, hits = replicas.calls(), replicas.response_hits(replicas.a)
    assert replicas.a.data(ALIAS) == {"server": {"alias": "Load Balancer 01"}}
    assert replicas.calls() == calls  # cached on A
    keeps_responses = replicas.a.server.app.state.gateway.responses is not None
    assert replicas.response_hits(replicas.a) == hits + keeps_responses
    replicas.b.data(rename("renamed on b"))
    assert replicas.a.data(ALIAS) == {"server": {"alias": "renamed on b"}}
    assert replicas.response_hits(replicas.a) == hits + keeps_responses
    # And the fresh answer is shared in turn: B reads it from Redis.
    calls = replicas.calls()
    assert replicas.b.data(ALIAS) == {"server": {"alias": "renamed on b"}}
    assert replicas.calls() == calls


def test_a_cached_list_is_fresh_on_a_after_a_write_through_b(replicas):
    before = replicas.a.data(SERVERS)["servers"]["entries"]
    assert replicas.a.data(SERVERS)["servers"]["entries"] == before
    renamed = next(entry for entry in before if entry["name"] == "DP-12345")
    assert renamed["alias"] == "Load Balancer 01"
    replicas.b.data(rename("listed fresh"))
    after = replicas.a.data(SERVERS)["servers"]["entries"]
    assert {entry["name"]: entry["alias"] for entry in after}["DP-12345"] == "listed fresh"


def redis_keys(redis: RedisServer) -> list[bytes]:
    async def keys() -> list[bytes]:
        store = SharedStore(ClusterSettings(url=redis.url))
        try:
            return sorted(await store.attempt("probe", lambda client: client.keys("*")))
        finally:
            await store.close()

    return asyncio.run(keys())


def test_keys_are_under_the_prefix_and_hold_no_credential(replicas):
    replicas.a.data(SERVERS)
    keys = redis_keys(replicas.redis)
    assert keys and all(key.startswith(b"replicas:") for key in keys)
    assert b"replicas:gen:dp" in keys
    assert not any(b"dp-emulator-full" in key or b"test-full-access" in key for key in keys)
    entries = [key for key in keys if key.startswith(b"replicas:read:dp:")]
    assert entries and all(len(key) == len(b"replicas:read:dp:") + 64 for key in entries)


async def test_a_read_in_flight_across_a_write_on_another_replica_is_not_shared(
    redis_server: RedisServer,
):
    """The race ``providers/cache.py`` closes: a read that began before a write elsewhere
    must not store what it read, on either layer."""
    stores = [SharedStore(ClusterSettings(url=redis_server.url)) for _ in range(2)]
    cache_a, cache_b = ReadCache({"servers": 60}), ReadCache({"servers": 60})
    cache_a.share(SharedReads(stores[0], "dp"))
    cache_b.share(SharedReads(stores[1], "dp"))
    released = asyncio.Event()
    fetched = 0

    async def slow_fetch() -> httpx.Response:
        nonlocal fetched
        fetched += 1
        await released.wait()
        return httpx.Response(200, json={"alias": f"read {fetched}"})

    try:
        reading = asyncio.ensure_future(cache_a.read("k", "servers", slow_fetch))
        await asyncio.sleep(0.05)  # the read has looked Redis up and is waiting upstream
        assert fetched == 1
        await cache_b.invalidate()  # a write on replica B
        released.set()
        response, _ = await reading
        assert response.json() == {"alias": "read 1"}  # the caller still gets its answer
        stored = await stores[0].attempt("probe", lambda redis: redis.exists("fleetql:read:dp:k"))
        assert stored == 0
        # Neither A's in-process layer nor Redis kept it: both replicas read again.
        response, _ = await cache_a.read("k", "servers", slow_fetch)
        assert response.json() == {"alias": "read 2"}
        response, _ = await cache_b.read("k", "servers", slow_fetch)
        assert response.json() == {"alias": "read 2"} and fetched == 2  # shared from A
    finally:
        for store in stores:
            await store.close()


def test_the_generation_never_repeats_after_redis_restarts_empty(replicas):
    """A Redis restarted without data must not let an old in-process entry match again."""
    replicas.a.data(ALIAS)
    for i in range(3):
        replicas.b.data(rename(f"before restart {i}"))
    replicas.a.data(ALIAS)  # A holds an entry at the current generation
    replicas.redis.stop()
    replicas.redis.start()  # empty: the counter starts again from Redis' clock
    store = replicas.a.server.app.state.gateway.cluster
    for _ in range(500):
        if store.degraded_reason is None:
            break
        asyncio.run(asyncio.sleep(0.02))
    replicas.b.data(rename("after restart"))
    assert replicas.a.data(ALIAS) == {"server": {"alias": "after restart"}}


def test_twenty_concurrent_identical_reads_on_two_replicas_make_one_upstream_call(replicas):
    async def burst() -> list[dict]:
        clients = [replicas.a.server.async_client(timeout=30), replicas.b.server.async_client()]
        headers = {"Authorization": f"Bearer {FULL}"}
        try:
            responses = await asyncio.gather(
                *(
                    clients[i % 2].post("/graphql", json={"query": SERVERS}, headers=headers)
                    for i in range(20)
                )
            )
        finally:
            for client in clients:
                await client.aclose()
        return [response.json() for response in responses]

    replicas.upstream.app.state.emulator.faults.latency_ms = 300  # keep the first call in flight
    bodies = asyncio.run(burst())
    assert all(body == bodies[0] and "errors" not in body for body in bodies)
    assert replicas.calls() == 1


async def shared_caches(redis: RedisServer, flight_wait: float) -> list[ReadCache]:
    """Two replicas' read caches of one provider instance, sharing ``redis``."""
    caches = []
    for _ in range(2):
        cache = ReadCache({"servers": 60})
        store = SharedStore(ClusterSettings(url=redis.url))
        cache.share(SharedReads(store, "dp", flight_wait=flight_wait))
        caches.append(cache)
    return caches


async def close_caches(caches: list[ReadCache]) -> None:
    for cache in caches:
        assert cache.shared is not None
        await cache.shared.store.close()


async def test_a_waiter_whose_holder_gives_up_calls_upstream_itself(redis_server):
    """The holder's answer cannot be shared (a 503): the waiter stops waiting at once."""
    a, b = await shared_caches(redis_server, flight_wait=30)
    released, calls = asyncio.Event(), []

    async def failing() -> httpx.Response:
        calls.append("a")
        await released.wait()
        return httpx.Response(503)

    async def answering() -> httpx.Response:
        calls.append("b")
        return httpx.Response(200, json={"alias": "from b"})

    try:
        holding = asyncio.ensure_future(a.read("k", "servers", failing))
        await asyncio.sleep(0.05)
        waiting = asyncio.ensure_future(b.read("k", "servers", answering))
        await asyncio.sleep(0.05)
        assert calls == ["a"]  # B waits for A's flight
        released.set()
        assert (await holding)[0].status_code == 503
        response, _ = await asyncio.wait_for(waiting, 5)  # far less than flight_wait
        assert response.json() == {"alias": "from b"} and calls == ["a", "b"]
    finally:
        await close_caches([a, b])


async def test_a_waiter_makes_its_own_call_after_a_bounded_wait(redis_server):
    """A lock whose holder never answers (a replica that died) delays a read by
    ``flight_wait`` at most; the read then goes upstream rather than failing."""
    a, b = await shared_caches(redis_server, flight_wait=0.2)
    hung, calls = asyncio.Event(), []

    async def hanging() -> httpx.Response:
        calls.append("a")
        await hung.wait()
        raise AssertionError("never answers")

    async def answering() -> httpx.Response:
        calls.append("b")
        return httpx.Response(200, json={"alias": "from b"})

    try:
        holding = asyncio.ensure_future(a.read("k", "servers", hanging))
        await asyncio.sleep(0.05)
        response, _ = await asyncio.wait_for(b.read("k", "servers", answering), 5)
        assert response.json() == {"alias": "from b"} and calls == ["a", "b"]
        holding.cancel()
    finally:
        await close_caches([a, b])


def wait_until_healthy(*clients: GatewayClient) -> None:
    """Wait (bounded) for each replica's background ping to restore its store."""
    for client in clients:
        store = client.server.app.state.gateway.cluster
        for _ in range(500):
            if store.degraded_reason is None:
                break
            time.sleep(0.02)
        assert store.degraded_reason is None


def test_redis_stopped_mid_test_then_restarted(replicas):
    assert replicas.a.data(ALIAS) == replicas.b.data(ALIAS) == {"server": {"alias": ORIGINAL}}
    replicas.redis.stop()

    # Both replicas keep answering the right data, from their in-process caches.
    for client in (replicas.a, replicas.b):
        assert client.data(ALIAS) == {"server": {"alias": ORIGINAL}}
        calls = replicas.calls()
        assert client.data(ALIAS) == {"server": {"alias": ORIGINAL}}
        assert replicas.calls() == calls
        ready = client.http.get("/readyz")
        assert ready.status_code == 200 and ready.json()["status"] == "degraded"
        assert ready.json()["cluster"]["status"] == "degraded"
        assert "could not connect" in ready.json()["cluster"]["reason"]
    # A write while Redis is down still invalidates the replica that made it.
    replicas.a.data(rename("during the outage"))
    assert replicas.a.data(ALIAS) == {"server": {"alias": "during the outage"}}

    replicas.redis.start()
    wait_until_healthy(replicas.a, replicas.b)
    for client in (replicas.a, replicas.b):
        assert client.http.get("/readyz").json()["status"] == "up"
    # Sharing again: nothing read during the outage is served, a read by A serves B, and a
    # write through B is seen by A.
    assert replicas.a.data(ALIAS) == {"server": {"alias": "during the outage"}}
    calls = replicas.calls()
    assert replicas.b.data(ALIAS) == {"server": {"alias": "during the outage"}}
    assert replicas.calls() == calls
    replicas.b.data(rename("after the outage"))
    assert replicas.a.data(ALIAS) == {"server": {"alias": "after the outage"}}
    fallbacks = replicas.a.http.get("/metrics").text
    assert 'fleetql_cluster_fallbacks_total{operation="cache_read"}' in fallbacks


def test_a_write_while_redis_is_unreachable_is_pushed_to_it_once_it_answers(replicas):
    """Redis kept its data (a pause, not a restart): A's increment, owed since its write,
    is what keeps B from serving its pre-write entry."""
    assert replicas.a.data(ALIAS) == replicas.b.data(ALIAS) == {"server": {"alias": ORIGINAL}}
    replicas.redis.pause()
    replicas.a.data(rename("while paused"))  # the increment times out: owed
    assert replicas.a.data(ALIAS) == {"server": {"alias": "while paused"}}
    assert replicas.a.http.get("/readyz").json()["status"] == "degraded"
    replicas.redis.resume()
    wait_until_healthy(replicas.a, replicas.b)
    assert replicas.a.data(ALIAS) == {"server": {"alias": "while paused"}}  # pays what it owes
    assert replicas.b.data(ALIAS) == {"server": {"alias": "while paused"}}


def test_what_was_read_during_one_outage_is_not_served_in_the_next(replicas):
    assert replicas.b.data(ALIAS) == {"server": {"alias": ORIGINAL}}
    replicas.redis.stop()
    assert replicas.b.data(ALIAS) == {"server": {"alias": ORIGINAL}}  # kept in B's process
    replicas.redis.start()
    wait_until_healthy(replicas.a, replicas.b)
    replicas.a.data(rename("between the outages"))  # B learns of it through Redis only
    replicas.redis.stop()
    assert replicas.b.data(ALIAS) == {"server": {"alias": "between the outages"}}


#: What a replica sends Redis at the top level for its reads: its scripts and the MGET.
#: (``INFO commandstats`` also counts the commands a script runs inside.)
ROUND_TRIPS = ("evalsha", "eval", "mget")


def redis_commands(redis: RedisServer, reset: bool = False) -> dict[str, int]:
    """Round trips of the replicas' reads since the last reset, by command."""

    async def stats() -> dict[str, int]:
        store = SharedStore(ClusterSettings(url=redis.url))
        try:
            if reset:
                await store.attempt("probe", lambda client: client.config_resetstat())
                return {}
            info = await store.attempt("probe", lambda client: client.info("commandstats"))
        finally:
            await store.close()
        counted = {name.removeprefix("cmdstat_"): entry["calls"] for name, entry in info.items()}
        return {name: calls for name, calls in counted.items() if name in ROUND_TRIPS}

    return asyncio.run(stats())


@BOTH_CACHES
def test_a_cached_query_costs_one_redis_round_trip_per_lookup(replicas):
    replicas.a.data(SERVERS)
    replicas.a.data(SERVERS)
    redis_commands(replicas.redis, reset=True)
    calls = replicas.calls()
    replicas.a.data(SERVERS)
    assert replicas.calls() == calls
    commands = redis_commands(replicas.redis)
    # Every request also spends its token's shared budget: one script (gateway/ratelimit.py).
    if replicas.a.server.app.state.gateway.responses is not None:
        # The budget, and the whole-response cache's check of the counters.
        assert commands == {"evalsha": 1, "mget": 1}
    else:
        assert commands == {"evalsha": 2}  # the budget, and the one upstream read's lookup
