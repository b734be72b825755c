"""How much Redis a shared read cache needs: ``python -m bench.redis_size [--servers 250]``.

Starts a ``redis-server`` (Debian's, on a free loopback port, no persistence) and the demo's
emulators with ``--servers`` servers each (at most 255: the Packet emulator's addressing),
then, for one provider kind at a time on an empty Redis, a gateway with ``[cluster]`` that
reads every server of that provider once with Q1's fields (pages of 50, so the per-server
calls the adapter makes for them are cached too). It prints, per kind, the cache entries
written, the bytes Redis reports for them (``MEMORY USAGE`` of each entry, keys and overhead
included) and those bytes per server, and the growth of Redis' ``used_memory``. Multiply
the per-server figure by the servers of each provider to size Redis for the read cache (the
entries expire with their TTL; ``catalog`` reads, 10 minutes, are a few per provider).

Last, it times the two Redis calls a cached request makes, through ``SharedStore.attempt``
as the gateway does (``--round-trips`` of each, median and 99th percentile): a read-cache
lookup whose in-process entry is current (the lookup script, answering with the counter
only), and the whole-response cache's MGET of one provider's counter.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
import time
from typing import Any

from bench.queries import SERVER_FIELDS
from providers.cache import SharedReads
from providers.cluster import ClusterSettings, SharedStore
from tests.fleet import KINDS, Fleet
from tests.redis_server import RedisServer

PREFIX = "size:"
PAGE = 50


def page_query(kind: str, index: int) -> str:
    """Page ``index`` of one provider's servers with Q1's fields."""
    return (
        f'{{ servers(input: {{pageSize: {PAGE}, pageIndex: {index}, filter: {{provider_in: ["{kind}"]}}}}) '  # noqa: E501
        f"{{ entriesTotalCount entries {{ {SERVER_FIELDS} }} }} }}"
    )


async def redis_figures(url: str) -> dict[str, int]:
    """Entries under the prefix, their ``MEMORY USAGE`` in all, and ``used_memory``."""
    store = SharedStore(ClusterSettings(url=url, timeout=30))
    try:

        async def measure(redis: Any) -> dict[str, int]:
            keys = [key async for key in redis.scan_iter(match=f"{PREFIX}read:*", count=1000)]
            usage = [await redis.memory_usage(key, samples=0) or 0 for key in keys]
            info = await redis.info("memory")
            return {"entries": len(keys), "bytes": sum(usage), "used": info["used_memory"]}

        return await store.attempt("measure", measure)
    finally:
        await store.close()


async def flush(url: str) -> None:
    store = SharedStore(ClusterSettings(url=url, timeout=30))
    try:
        await store.attempt("flush", lambda redis: redis.flushdb())
    finally:
        await store.close()


async def round_trips(url: str, count: int) -> dict[str, tuple[float, float]]:
    """Median and 99th percentile microseconds of a lookup and of an MGET, ``count`` each."""
    store = SharedStore(ClusterSettings(url=url, key_prefix=PREFIX, timeout=30))
    reads = SharedReads(store, "timed")
    try:
        held, _ = await reads.lookup("k" * 64, None)
        keys = [reads.generation_key]
        timed = {
            "lookup": lambda: reads.lookup("k" * 64, held),
            "mget": lambda: store.attempt("generations", lambda redis: redis.mget(keys)),
        }
        figures = {}
        for name, call in timed.items():
            seconds = []
            for _ in range(count):
                started = time.perf_counter()
                await call()
                seconds.append(time.perf_counter() - started)
            seconds.sort()
            figures[name] = (
                seconds[len(seconds) // 2] * 1e6,
                seconds[len(seconds) * 99 // 100] * 1e6,
            )
        return figures
    finally:
        await store.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--servers", type=int, default=250, help="servers per emulator")
    parser.add_argument("--round-trips", type=int, default=2000, help="timed calls of each")
    options = parser.parse_args(argv)
    executable = shutil.which("redis-server")
    if executable is None:
        print("redis-server is not installed (apt-get install redis-server)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as directory:
        redis = RedisServer(executable, directory).start()
        fleet = Fleet(options.servers)
        try:
            print("| provider | servers | entries | bytes in Redis | per server | used_memory |")
            print("|---|---|---|---|---|---|")
            for kind in KINDS:
                asyncio.run(flush(redis.url))
                before = asyncio.run(redis_figures(redis.url))
                cluster = {"redis_url": redis.url, "key_prefix": PREFIX}
                client = fleet.gateway([kind], cluster=cluster)
                total = client.data(page_query(kind, 0))["servers"]["entriesTotalCount"]
                for index in range(1, -(-total // PAGE)):
                    client.data(page_query(kind, index))
                after = asyncio.run(redis_figures(redis.url))
                fleet.stop_gateways()
                grown = after["used"] - before["used"]
                print(
                    f"| {kind} | {total} | {after['entries']} | {after['bytes']:,} "
                    f"| {after['bytes'] / total:,.0f} | {grown:,} |"
                )
            figures = asyncio.run(round_trips(redis.url, options.round_trips))
            print()
            print("| Redis call of a cached request | median | p99 |")
            print("|---|---|---|")
            for name, (median, p99) in figures.items():
                print(f"| {name} | {median:.0f} µs | {p99:.0f} µs |")
        finally:
            fleet.stop()
            redis.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
