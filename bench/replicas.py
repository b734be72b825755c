"""Two replicas sharing Redis against one: ``python -m bench.replicas [--duration 4]``.

The five emulators (``bench.run``'s sizes, 20 ms per call), one ``redis-server`` on a free
loopback port (no persistence) and the load driver run as separate processes, and the same
emulators serve three configurations, cache on, each driven with every query of the mix at
concurrency 16 for ``--duration`` seconds after a warm-up:

    A    one replica (one gateway process, one worker) with the in-process cache, no
         [cluster];
    B    two replicas (two gateway processes, one worker each) sharing the redis-server
         through ``[cluster] redis_url``, the driver sending requests to each in turn;
    A+R  one replica with B's ``[cluster]``: B's Redis work without B's second process, so
         that the two parts of B's cost can be told apart.

Redis is emptied before each configuration. Each runs twice: with the whole-response cache
(the default), which answers a repeated query before any read, and with ``cache.responses =
false``, so that every request goes through the read cache (shared through Redis in A+R and
B) and its hit ratio is measured.

Per phase, besides ``bench.run``'s figures (throughput, latency, upstream calls and gateway
CPU per request, summed over the replicas): the read cache's hit ratio (each replica's
``fleetql_cache_hits_total`` and ``fleetql_cache_misses_total`` from ``/metrics``, summed),
the whole-response cache's hits per request, the Redis operations that fell back to
in-process state (``fleetql_cluster_fallbacks_total``), the Redis commands per request (``INFO
commandstats`` before and after; it also counts the commands a script runs inside, so the
round trips are the top-level ``EVALSHA``, ``EVAL`` and ``MGET``) and redis-server's CPU per
request (``/proc`` of its pid). Last, ``--pings`` sequential PINGs through redis-py's asyncio
client time one round trip, and a request's round trips times its median give what a request
spends waiting on Redis. Results go to ``bench/results/replicas-<stamp>.json`` and a
Markdown table is printed. Exit code 2 when ``redis-server`` is not installed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import httpx
import redis
import redis.asyncio
from prometheus_client.parser import text_string_to_metric_families

from bench import queries
from bench.config import write_config
from bench.driver import percentile
from bench.processes import GatewayProcess, cpu_seconds, free_port
from bench.run import KINDS, Benchmark, describe_machine, write_results
from bench.run import Options as RunOptions
from tests.redis_server import RedisServer

__all__ = ["Options", "Replicas", "main", "run_replicas"]

#: The commands a replica sends Redis itself for a request (the rest run inside its scripts).
ROUND_TRIPS = ("evalsha", "eval", "mget")
#: The bench's own commands to redis-server, left out of the counts.
OWN_COMMANDS = ("info", "ping")
#: The counters read from each replica's /metrics (summed over their labels).
COUNTERS = (
    "fleetql_cache_hits",
    "fleetql_cache_misses",
    "fleetql_response_cache_hits",
    "fleetql_cluster_fallbacks",
)


@dataclass(frozen=True)
class Options:
    """What one run measures; with the defaults it takes about three minutes on 2 cores."""

    duration: float = 4.0  # seconds per phase
    concurrency: int = 16
    latency_ms: float = 20.0  # per upstream call, in every emulator
    size: int = 120  # servers per emulator
    queries: tuple[str, ...] = ("Q1", "Q2", "Q3", "Q4", "Q5")
    warmup: float = 0.5  # seconds of unmeasured load per query after the gateways start
    timeout: float = 60.0  # per request of the driver
    pings: int = 2000  # timed Redis round trips


class Replicas:
    """Gateway processes over the same configuration, measured together as one gateway."""

    def __init__(self, gateways: list[GatewayProcess]) -> None:
        self.gateways = gateways
        self.url = gateways[0].url  # where bench.run's set-up queries go

    def cpu_seconds(self) -> float:
        """CPU time of every replica so far."""
        return sum(gateway.cpu_seconds() for gateway in self.gateways)

    def peak_rss_mb(self) -> float:
        """The largest peak resident set of one replica, in MiB."""
        return max(gateway.peak_rss_mb() for gateway in self.gateways)

    def counters(self) -> dict[str, float]:
        """``COUNTERS`` summed over their labels and the replicas (each replica's /metrics)."""
        totals = dict.fromkeys(COUNTERS, 0.0)
        for gateway in self.gateways:
            text = httpx.get(f"{gateway.url}/metrics", timeout=30).raise_for_status().text
            for family in text_string_to_metric_families(text):
                if family.name in totals:
                    totals[family.name] += sum(
                        sample.value for sample in family.samples if sample.name.endswith("_total")
                    )
        return totals

    def stop(self) -> None:
        """Stop every replica."""
        for gateway in self.gateways:
            gateway.stop()


class RedisProbe:
    """redis-server's command counts and CPU time, read between phases."""

    def __init__(self, url: str) -> None:
        self.client = redis.Redis.from_url(url)
        server = self.client.info("server")
        self.pid = server["process_id"]
        self.version = server["redis_version"]

    def commands(self) -> dict[str, int]:
        """Calls per command since the server started, the bench's own left out."""
        stats = self.client.info("commandstats")
        calls = {name.removeprefix("cmdstat_"): entry["calls"] for name, entry in stats.items()}
        return {name: n for name, n in calls.items() if name not in OWN_COMMANDS}

    def cpu_seconds(self) -> float:
        """redis-server's CPU time so far."""
        return cpu_seconds(self.pid)

    def close(self) -> None:
        """Close the connection."""
        self.client.close()


async def time_pings(url: str, count: int) -> dict[str, float]:
    """Median and 99th percentile microseconds of ``count`` sequential PINGs (redis.asyncio)."""
    client = redis.asyncio.Redis.from_url(url)
    try:
        await client.ping()  # the connection is opened outside the timing
        seconds = []
        for _ in range(count):
            started = time.perf_counter()
            await client.ping()
            seconds.append(time.perf_counter() - started)
    finally:
        await client.aclose()
    seconds.sort()
    return {
        "count": count,
        "p50_us": round(percentile(seconds, 0.50) * 1e6, 1),
        "p99_us": round(percentile(seconds, 0.99) * 1e6, 1),
    }


class ReplicaBenchmark(Benchmark):
    """``bench.run``'s machinery (driver, emulators, phases) over configurations A and B."""

    def __init__(self, options: Options, workdir: Path, redis_url: str) -> None:
        run_options = RunOptions(
            duration=options.duration,
            concurrency=options.concurrency,
            latency_ms=options.latency_ms,
            size=options.size,
            memory_servers=0,
            workers=(1,),
            queries=options.queries,
            warmup=options.warmup,
            timeout=options.timeout,
        )
        super().__init__(run_options, workdir)
        self.redis_url = redis_url
        self.probe = RedisProbe(redis_url)

    def start_replicas(
        self, count: int, cluster: dict[str, Any] | None, responses: bool
    ) -> Replicas:
        """``count`` gateway processes (one worker each) over the emulators, cache on;
        ``responses`` switches the whole-response cache."""
        gateways: list[GatewayProcess] = []
        try:
            for index in range(count):
                port = free_port()
                config = write_config(
                    self.workdir / f"replica-{count}-{responses}-{index}.toml",
                    self.emulators,
                    port=port,
                    cache=True,
                    cache_responses=responses,
                    cluster=cluster,
                )
                gateways.append(GatewayProcess(config, port, workers=1))
        except BaseException:
            for gateway in gateways:
                gateway.stop()
            raise
        return Replicas(gateways)

    def replicas_job(self, replicas: Replicas, bodies: list[dict], **job: Any) -> dict:
        """A graphql job sending each body to each replica in turn."""
        urls = [f"{gateway.url}/graphql" for gateway in replicas.gateways]
        return {**self.graphql_job(replicas, bodies, **job), "urls": urls}

    def run_configuration(self, name: str, replicas: Replicas, responses: bool) -> None:
        """Warm up, then one measured phase per query, with the cache and Redis figures."""
        if not self.lookup_names:
            self.discover_names(replicas)
        for bodies in self.bodies().values():
            self.driver.run(self.replicas_job(replicas, bodies, duration=self.options.warmup))
        for query, bodies in self.bodies().items():
            counters_before = replicas.counters()
            commands_before = self.probe.commands()
            redis_cpu_before = self.probe.cpu_seconds()
            phase = self.measure(
                self.replicas_job(replicas, bodies),
                replicas,
                query=query,
                configuration=name,
                replicas=len(replicas.gateways),
                path="gateway",
                cache="on",
                responses="on" if responses else "off",
            )
            redis_cpu = self.probe.cpu_seconds() - redis_cpu_before
            commands_after = self.probe.commands()
            counters_after = replicas.counters()
            units = max(phase["units"], 1)
            moved = {key: counters_after[key] - counters_before[key] for key in COUNTERS}
            reads = moved["fleetql_cache_hits"] + moved["fleetql_cache_misses"]
            commands = {
                command: calls - commands_before.get(command, 0)
                for command, calls in commands_after.items()
                if calls != commands_before.get(command, 0)
            }
            round_trips = sum(commands.get(command, 0) for command in ROUND_TRIPS)
            phase.update(
                {
                    "cache_reads_per_unit": round(reads / units, 2),
                    "cache_hit_ratio": round(moved["fleetql_cache_hits"] / reads, 4)
                    if reads
                    else None,
                    "response_cache_hits_per_unit": round(
                        moved["fleetql_response_cache_hits"] / units, 3
                    ),
                    "redis_commands_per_unit": round(sum(commands.values()) / units, 2),
                    "redis_commands_by_name_per_unit": {
                        command: round(calls / units, 3)
                        for command, calls in sorted(commands.items())
                    },
                    "redis_round_trips_per_unit": round(round_trips / units, 2),
                    # Redis operations that failed or timed out (or were skipped while the
                    # replica was degraded), served from in-process state instead.
                    "cluster_fallbacks_per_unit": round(
                        moved["fleetql_cluster_fallbacks"] / units, 3
                    ),
                    "redis_cpu_ms_per_unit": round(redis_cpu * 1000 / units, 3),
                }
            )

    def close(self) -> None:
        """Stop the driver and the emulators; close the Redis probe."""
        self.probe.close()
        super().close()


def run_replicas(options: Options) -> dict[str, Any]:
    """Run configurations A, A+R and B and the PING timing; return the results."""
    executable = shutil.which("redis-server")
    if executable is None:
        raise RuntimeError("redis-server is not installed (apt-get install redis-server)")
    started, load_before = time.monotonic(), os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="fleetql-replicas-") as workdir:
        redis_server = RedisServer(executable, workdir).start()
        bench = None
        try:
            bench = ReplicaBenchmark(options, Path(workdir), redis_server.url)
            bench.start_emulators(dict.fromkeys(KINDS, options.size))
            cluster = {"redis_url": redis_server.url}
            configurations = (("A", 1, None), ("A+R", 1, cluster), ("B", 2, cluster))
            for responses in (True, False):
                for name, count, shared in configurations:
                    bench.probe.client.flushall()  # each configuration starts with Redis empty
                    replicas = bench.start_replicas(count, shared, responses)
                    try:
                        bench.run_configuration(name, replicas, responses)
                    finally:
                        replicas.stop()
            pings = asyncio.run(time_pings(redis_server.url, options.pings))
            redis_version = bench.probe.version
        finally:
            if bench is not None:
                bench.close()
            redis_server.stop()
    for phase in bench.phases:
        phase["redis_wait_ms_per_unit"] = round(
            phase["redis_round_trips_per_unit"] * pings["p50_us"] / 1000, 3
        )
    machine = describe_machine()
    machine["packages"]["redis"] = metadata.version("redis")
    machine["redis_server"] = redis_version
    return {
        "benchmark": "fleetql-replicas",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "wall_time_s": round(time.monotonic() - started, 1),
        "machine": machine,
        "load_average": {"before": load_before, "after": os.getloadavg()},
        "options": asdict(options),
        "configurations": {
            "A": "one replica (1 worker), in-process cache",
            "A+R": "one replica (1 worker) with [cluster]: the read cache shared through Redis",
            "B": "two replicas (1 worker each) sharing one redis-server, requests round robin",
        },
        "queries": {name: queries.DESCRIPTIONS[name] for name in options.queries},
        "phases": bench.phases,
        "redis_ping": pings,
    }


def render(results: dict[str, Any]) -> str:
    """The phases as one Markdown table, the configurations side by side per query, and the
    PING line."""
    lines = [
        "| query | response cache | config | req/s | p50 ms | p99 ms | gateway CPU ms/req "
        "| upstream calls/req | response-cache hits/req | read-cache reads/req | hit ratio "
        "| Redis round trips/req | Redis commands/req | redis-server CPU ms/req "
        "| Redis wait ms/req | Redis fallbacks/req |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    order = {"on": 0, "off": 1}
    for phase in sorted(
        results["phases"],
        key=lambda p: (order[p["responses"]], p["query"], p["configuration"]),
    ):
        ratio = phase["cache_hit_ratio"]
        lines.append(
            f"| {phase['query']} | {phase['responses']} | {phase['configuration']} "
            f"| {phase['throughput_per_s']:.0f} | {phase['latency_ms']['p50']:.1f} "
            f"| {phase['latency_ms']['p99']:.1f} | {phase['gateway_cpu_ms_per_unit']:.2f} "
            f"| {phase['upstream_calls_per_unit']:.2f} "
            f"| {phase['response_cache_hits_per_unit']:.2f} "
            f"| {phase['cache_reads_per_unit']:.2f} | {'-' if ratio is None else f'{ratio:.3f}'} "
            f"| {phase['redis_round_trips_per_unit']:.2f} "
            f"| {phase['redis_commands_per_unit']:.2f} | {phase['redis_cpu_ms_per_unit']:.3f} "
            f"| {phase['redis_wait_ms_per_unit']:.3f} | {phase['cluster_fallbacks_per_unit']:.2f} |"
        )
    ping = results["redis_ping"]
    lines.append("")
    lines.append(
        f"One Redis round trip ({ping['count']} sequential PINGs, redis.asyncio): "
        f"median {ping['p50_us']:.0f} µs, p99 {ping['p99_us']:.0f} µs."
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Parse options, run, write ``bench/results/replicas-<stamp>.json`` and print the table."""
    defaults = Options()
    parser = argparse.ArgumentParser(prog="python -m bench.replicas", description=__doc__)
    parser.add_argument("--duration", type=float, default=defaults.duration)
    parser.add_argument("--queries", default=",".join(defaults.queries))
    parser.add_argument("--pings", type=int, default=defaults.pings)
    parser.add_argument("--output", type=Path, help="results file (default: bench/results/)")
    args = parser.parse_args(argv)
    if shutil.which("redis-server") is None:
        print("redis-server is not installed (apt-get install redis-server)", file=sys.stderr)
        return 2
    options = Options(
        duration=args.duration, queries=tuple(args.queries.split(",")), pings=args.pings
    )
    results = run_replicas(options)
    output = write_results(results, "replicas", args.output)
    print(render(results))
    print(f"\nresults: {output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
