"""The shared store of several replicas (``[cluster]``, ``providers/cluster.py``), on a real
``redis-server`` (``tests/redis_server.py``): answering, falling back fast while Redis is
down, reported by ``/readyz`` and the metrics, restored once Redis is back, and checked by
``fleetql check``."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from gateway.app import create_app
from gateway.cli import main
from gateway.response_cache import CachedResponse, SharedResponses
from gateway.settings import ConfigError, settings_from_dict
from providers.cluster import POOL_SIZE, ClusterSettings, SharedStore, StoreUnavailable
from tests.conftest import TOKENS, GatewayClient, datapacket_config
from tests.redis_server import RedisServer
from tests.servers import InProcessGateway

_RESTORE_TIMEOUT = 10.0


def cluster_gateway(upstream: Any, cluster: dict[str, Any]) -> InProcessGateway:
    """An in-process gateway over one DataPacket emulator with ``[cluster]`` = ``cluster``."""
    settings = settings_from_dict(
        {"providers": [datapacket_config(upstream)], "tokens": TOKENS, "cluster": cluster},
        source="<test>",
    )
    return InProcessGateway(create_app(settings)).start()


def until(condition, what: str) -> None:
    """Wait (bounded) for ``condition()``: the store restores itself in the background."""
    deadline = time.monotonic() + _RESTORE_TIMEOUT
    while not condition():
        assert time.monotonic() < deadline, f"still not {what}"
        time.sleep(0.02)


async def test_a_store_on_a_real_redis_answers_under_its_prefix(redis_server: RedisServer):
    store = SharedStore(ClusterSettings(url=redis_server.url, key_prefix="t1:"))
    await store.start()
    try:
        key = store.key("probe", "a")
        assert key == "t1:probe:a"
        await store.attempt("probe", lambda redis: redis.set(key, b"1"))
        assert await store.attempt("probe", lambda redis: redis.get(key)) == b"1"
        incr = store.register_script("return redis.call('INCRBY', KEYS[1], ARGV[1])")
        assert await store.attempt("probe", lambda redis: incr(keys=[key], args=[2])) == 3
        assert store.degraded_reason is None and not store.fallbacks
    finally:
        await store.close()


async def test_more_commands_at_once_than_connections_wait_and_never_degrade(
    redis_server: RedisServer,
):
    """A fan-out (16 requests x 33 cached reads) puts hundreds of lookups in flight at once:
    they queue for the pool's connections, within ``timeout``; Redis is not down."""
    store = SharedStore(ClusterSettings(url=redis_server.url, key_prefix="t-pool:", timeout=5))
    await store.start()
    try:
        key = store.key("probe")
        answers = await asyncio.gather(
            *(store.attempt("probe", lambda redis: redis.get(key)) for _ in range(3 * POOL_SIZE))
        )
        assert answers == [None] * (3 * POOL_SIZE)
        assert store.degraded_reason is None and not store.fallbacks
    finally:
        await store.close()


async def test_with_redis_stopped_attempts_fail_fast_and_the_store_comes_back(
    redis_server: RedisServer,
):
    store = SharedStore(ClusterSettings(url=redis_server.url))
    await store.start()
    try:
        redis_server.stop()
        with pytest.raises(StoreUnavailable) as first:
            await store.attempt("cache_read", lambda redis: redis.get(store.key("k")))
        assert "cache_read" in first.value.reason
        assert "127.0.0.1" not in first.value.reason  # never the URL
        assert store.degraded_reason == first.value.reason
        # Degraded: later attempts fail at once, without sending anything.
        sent = 0

        async def counted(redis):
            nonlocal sent
            sent += 1
            return await redis.get(store.key("k"))

        for _ in range(5):
            with pytest.raises(StoreUnavailable):
                await store.attempt("cache_read", counted)
        assert sent == 0
        assert store.fallbacks["cache_read"] == 6

        redis_server.start()
        for _ in range(500):
            if store.degraded_reason is None:
                break
            await asyncio.sleep(0.02)
        assert store.degraded_reason is None
        assert await store.attempt("cache_read", counted) is None and sent == 1
    finally:
        await store.close()


async def test_a_slow_redis_is_a_timeout_and_degrades(redis_server: RedisServer):
    store = SharedStore(ClusterSettings(url=redis_server.url, timeout=0.05))
    await store.start()
    try:
        redis_server.pause()
        with pytest.raises(StoreUnavailable) as slow:
            await store.attempt("probe", lambda redis: redis.ping())
        assert slow.value.reason == "redis probe failed: no answer within 0.05 s"
        assert store.degraded_reason == slow.value.reason
        redis_server.resume()
        for _ in range(500):
            if store.degraded_reason is None:
                break
            await asyncio.sleep(0.02)
        assert store.degraded_reason is None
        assert await store.attempt("probe", lambda redis: redis.ping()) is True
    finally:
        await store.close()


async def test_a_failing_command_falls_back_and_is_counted(redis_server: RedisServer):
    store = SharedStore(ClusterSettings(url=redis_server.url))
    await store.start()
    try:
        with pytest.raises(StoreUnavailable) as failed:
            await store.attempt("probe", lambda redis: redis.execute_command("NO-SUCH-COMMAND"))
        assert failed.value.reason == "redis probe failed: ResponseError"
        assert store.fallbacks == {"probe": 1}
    finally:
        await store.close()


def test_readyz_reports_the_store_degraded_with_its_reason_then_up(
    redis_server: RedisServer, datapacket_upstream
):
    server = cluster_gateway(datapacket_upstream, {"redis_url": redis_server.url})
    try:
        client = GatewayClient(server)
        ready = client.http.get("/readyz")
        assert ready.status_code == 200
        assert ready.json() == {
            "status": "up",
            "providers": {"dp": True},
            "circuits": {"dp": "CLOSED"},
            "cluster": {"status": "up"},
        }
        store = server.app.state.gateway.cluster
        redis_server.stop()
        with pytest.raises(StoreUnavailable):
            server.run(store.attempt("probe", lambda redis: redis.ping()))
        ready = client.http.get("/readyz")
        assert ready.status_code == 200
        body = ready.json()
        assert body["status"] == "degraded" and body["providers"] == {"dp": True}
        assert body["cluster"]["status"] == "degraded"
        assert body["cluster"]["reason"].startswith("redis probe failed: could not connect")
        metrics = client.http.get("/metrics").text
        assert 'fleetql_cluster_fallbacks_total{operation="probe"} 1.0' in metrics

        redis_server.start()
        until(lambda: client.http.get("/readyz").json()["status"] == "up", "up again")
        assert client.http.get("/readyz").json()["cluster"] == {"status": "up"}
        # The GraphQL endpoint answered throughout.
        assert client.data("{ account { email } }")["account"]["email"]
    finally:
        server.stop()


def test_a_gateway_starts_degraded_when_redis_is_unreachable(redis_server, datapacket_upstream):
    redis_server.stop()
    server = cluster_gateway(datapacket_upstream, {"redis_url": redis_server.url})
    try:
        client = GatewayClient(server)
        ready = client.http.get("/readyz").json()
        assert ready["status"] == "degraded"
        assert ready["cluster"]["reason"].startswith("redis ping failed")
        assert client.data("{ account { email } }")["account"]["email"]
        redis_server.start()
        until(lambda: client.http.get("/readyz").json()["status"] == "up", "up again")
    finally:
        server.stop()


def test_without_cluster_readyz_and_metrics_are_as_before(gateway):
    ready = gateway.http.get("/readyz").json()
    assert "cluster" not in ready
    assert gateway.server.app.state.gateway.cluster is None
    assert "fleetql_cluster_fallbacks" not in gateway.http.get("/metrics").text


BASE = {
    "providers": [{"id": "dp", "kind": "datapacket", "token": "x"}],
    "tokens": [{"name": "a", "scope": "read-only", "token": "t"}],
}


def test_cluster_settings_are_validated_and_never_show_the_url(monkeypatch):
    assert settings_from_dict(BASE).cluster is None
    url = "redis://:s3cret@redis.internal:6379/2"
    cluster = settings_from_dict({**BASE, "cluster": {"redis_url": url}}).cluster
    assert cluster is not None and cluster.url == url and "s3cret" not in repr(cluster)
    assert (cluster.key_prefix, cluster.timeout, cluster.connect_timeout) == ("fleetql:", 0.25, 0.5)
    monkeypatch.setenv("FLEETQL_TEST_REDIS", url)
    from_env = settings_from_dict({**BASE, "cluster": {"redis_url_env": "FLEETQL_TEST_REDIS"}})
    assert from_env.cluster is not None and from_env.cluster.url == url
    refusals = {
        "cluster.redis_url: must be a redis://, rediss:// or unix:// URL": {
            "redis_url": "http://s3cret@x"
        },
        "cluster.redis_url: give redis_url or redis_url_env, not both": {
            "redis_url": url,
            "redis_url_env": "FLEETQL_TEST_REDIS",
        },
        "cluster.redis_url: is not a valid Redis URL (check its port, database and options)": {
            "redis_url": "redis://:s3cret@redis.internal:port/0"
        },
        "cluster.timeout: must be greater than 0": {"timeout": 0},
        "cluster.key_prefix: must be 1-64 printable ASCII characters, no spaces": {
            "key_prefix": "a b"
        },
        "cluster.unknown: unknown key": {"unknown": 1},
    }
    for message, table in refusals.items():
        with pytest.raises(ConfigError) as refused:
            settings_from_dict({**BASE, "cluster": table}, source="fleet.toml")
        assert str(refused.value) == f"fleet.toml: {message}"
        assert "s3cret" not in str(refused.value)


def write_config(path: Path, upstream_url: str, redis_url: str) -> Path:
    path.write_text(
        f'[cluster]\nredis_url = "{redis_url}"\n\n'
        f'[[providers]]\nid = "dp"\nkind = "datapacket"\nbase_url = "{upstream_url}"\n'
        'token = "dp-emulator-full"\n\n'
        '[[tokens]]\nname = "ops"\nscope = "read-only"\ntoken = "check-token"\n',
        encoding="utf-8",
    )
    return path


def test_fleetql_check_pings_redis(tmp_path, capsys, redis_server, datapacket_upstream):
    upstream = f"{datapacket_upstream.url}/v0/graphql"
    config = write_config(tmp_path / "fleet.toml", upstream, redis_server.url)
    assert main(["check", "--config", str(config)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[-1].startswith("redis: ok (")

    redis_server.stop()
    assert main(["check", "--config", str(config)]) == 1
    output = capsys.readouterr().out
    redis_lines = [line for line in output.splitlines() if line.startswith("redis")]
    assert redis_lines == ["redis: FAILED: redis ping failed: could not connect (ConnectionError)"]
    assert redis_server.url not in output


async def test_response_bodies_are_shared_only_when_built_on_redis_counters(redis_server):
    store = SharedStore(ClusterSettings(url=redis_server.url, key_prefix="t9:"))
    await store.start()
    shared = SharedResponses(store, max_bytes=100)
    fresh_until = time.monotonic() + 60
    body = b'{"data":{"x":1}}'
    entries = {
        b"kept": CachedResponse(body, "q", fresh_until, (("dp", (b"3", 0)),)),
        b"outage": CachedResponse(body, "q", fresh_until, (("dp", (b"!1", 0)),)),
        b"large": CachedResponse(b"x" * 101, "q", fresh_until, (("dp", (b"3", 0)),)),
        b"stale": CachedResponse(body, "q", time.monotonic() - 1, (("dp", (b"3", 0)),)),
    }
    try:
        for key, entry in entries.items():
            await shared.put(key, entry)
        kept = await shared.get(b"kept")
        assert kept is not None
        assert (kept[0], kept[1], kept[3]) == (body, "q", [("dp", b"3")])
        assert time.monotonic() < kept[2] <= fresh_until + 1
        assert [await shared.get(key) for key in (b"outage", b"large", b"stale")] == [None] * 3
        garbage = store.key("resp", b"garbage".hex())
        await store.attempt("test", lambda redis: redis.set(garbage, b"not json\n{}", px=5000))
        assert await shared.get(b"garbage") is None
    finally:
        await store.close()
