"""Run the benchmark: ``.venv/bin/python -m bench.run [--duration 4] [--concurrency 16]``.

The emulators (one process per kind, a fixed latency per upstream call), the gateway
(``uvicorn``, 1 and 2 workers, cache off and on) and the load driver run as separate
processes. Every phase drives one query for ``--duration`` seconds at a fixed concurrency and
records throughput, latency percentiles, upstream calls per query (the emulators' request
logs), gateway CPU per request and peak RSS per worker. The baselines run in the same run:
the floor (the gateway's upstream calls replayed directly, ``bench.floor``) and the naive path
(Q1's page as one ``server(input: {name})`` request per server, cache off). A last run with
``--memory-servers`` (10,000) across the emulators measures memory. Results go to
``bench/results/``; ``python -m bench.report FILE`` renders them as Markdown.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import httpx

from bench import queries
from bench.config import BENCH_TOKEN, write_config
from bench.floor import record_plan
from bench.processes import (
    Emulator,
    GatewayProcess,
    LoadDriver,
    free_port,
    start_emulators,
    status_kb,
)
from bench.report import evaluate_targets, render

__all__ = ["Options", "main", "run_benchmark", "write_results"]

RESULTS = Path(__file__).resolve().parent / "results"
KINDS = ("datapacket", "packet", "mammoth", "dashserv", "dcimanager")
#: The Packet emulator numbers its IPv6 networks with two hex digits: at most 255 devices.
PACKET_MAX_DEVICES = 250
NAMES = (
    "query Names($ids: [String!], $size: Int) { servers(input: "
    "{pageSize: $size, filter: {provider_in: $ids}}) { entries { name } } }"
)


@dataclass(frozen=True)
class Options:
    """What one run measures; with the defaults a full run takes about five minutes on 2 cores."""

    duration: float = 4.0  # seconds per phase
    concurrency: int = 16  # the loaded phases; latency phases run at concurrency 1
    latency_ms: float = 20.0  # per upstream call, in every emulator
    size: int = 120  # servers per emulator
    memory_servers: int = 10_000  # across the emulators in the memory run; 0 skips it
    workers: tuple[int, ...] = (1, 2)
    queries: tuple[str, ...] = ("Q1", "Q2", "Q3", "Q4", "Q5")
    warmup: float = 0.5  # seconds of unmeasured load per query after each gateway start
    timeout: float = 60.0  # per request of the driver


class Benchmark:
    """One run's processes and the phases measured so far."""

    def __init__(self, options: Options, workdir: Path) -> None:
        self.options = options
        self.workdir = workdir
        self.driver = LoadDriver()
        self.emulators: list[Emulator] = []
        self.phases: list[dict[str, Any]] = []
        self.window = queries.traffic_window()
        self.page_names: list[str] = []
        self.lookup_names: list[str] = []

    def start_emulators(self, sizes: dict[str, int]) -> None:
        """(Re)start the five emulators with ``sizes[kind]`` servers each."""
        self.stop_emulators()
        self.emulators = start_emulators(sizes, self.options.latency_ms)

    def stop_emulators(self) -> None:
        """Stop every emulator process."""
        for emulator in self.emulators:
            emulator.stop()
        self.emulators = []

    def start_gateway(self, workers: int, cache: bool) -> GatewayProcess:
        """A gateway over the running emulators; ``cache`` switches the across-request cache."""
        port = free_port()
        config = write_config(
            self.workdir / f"fleet-{workers}-{cache}.toml", self.emulators, port=port, cache=cache
        )
        return GatewayProcess(config, port, workers)

    # --- jobs --------------------------------------------------------------------------

    def graphql_job(self, gateway: GatewayProcess, bodies: list[dict], **job: Any) -> dict:
        """A driver job posting ``bodies`` to the gateway (``mode``: graphql or batch)."""
        return {
            "mode": "graphql",
            "url": f"{gateway.url}/graphql",
            "headers": {"Authorization": f"Bearer {BENCH_TOKEN}"},
            "bodies": bodies,
            "concurrency": self.options.concurrency,
            "duration": self.options.duration,
            "timeout": self.options.timeout,
            **job,
        }

    def measure(
        self, job: dict[str, Any], gateway: GatewayProcess | None, **labels: Any
    ) -> dict[str, Any]:
        """Run one job and record it with its upstream calls, gateway CPU and peak RSS."""
        for emulator in self.emulators:
            emulator.clear_requests()
        cpu_before = gateway.cpu_seconds() if gateway else 0.0
        upstream_before = {emulator.kind: emulator.cpu_seconds() for emulator in self.emulators}
        result = self.driver.run(job)
        cpu = gateway.cpu_seconds() - cpu_before if gateway else None
        upstream_cpu = {
            emulator.kind: emulator.cpu_seconds() - upstream_before[emulator.kind]
            for emulator in self.emulators
        }
        calls = {emulator.kind: len(emulator.requests()) for emulator in self.emulators}
        units = max(result["units"], 1)
        phase = {
            **labels,
            "concurrency": job["concurrency"],
            **result,
            "upstream_calls_per_unit": round(sum(calls.values()) / units, 2),
            "upstream_calls_by_provider": {kind: round(n / units, 2) for kind, n in calls.items()},
            "gateway_cpu_ms_per_unit": round(cpu * 1000 / units, 2) if gateway else None,
            # The emulators share the machine: their CPU bounds the floor and the gateway alike.
            "emulator_cpu_ms_per_unit": {
                kind: round(seconds * 1000 / units, 1) for kind, seconds in upstream_cpu.items()
            },
            "peak_rss_mb_per_worker": round(gateway.peak_rss_mb(), 1) if gateway else None,
        }
        self.phases.append(phase)
        _progress(phase)
        return phase

    # --- set-up through the gateway ------------------------------------------------------

    def discover_names(self, gateway: GatewayProcess) -> None:
        """Q1's page (for the naive baseline) and a few names per provider (for Q2)."""
        with _client(gateway) as client:
            page = _data(client, {"query": queries.Q3})["servers"]["entries"]
            self.page_names = [entry["name"] for entry in page]
            for kind in KINDS:
                variables = {"ids": [kind], "size": queries.NAMES_PER_PROVIDER}
                found = _data(client, {"query": NAMES, "variables": variables})
                self.lookup_names += [entry["name"] for entry in found["servers"]["entries"]]

    def bodies(self) -> dict[str, list[dict[str, Any]]]:
        """Request bodies per selected query."""
        every = queries.query_bodies(self.lookup_names, self.window)
        return {name: every[name] for name in self.options.queries}

    def record_plans(self, gateway: GatewayProcess) -> dict[str, list]:
        """Per query, the replay plans of its upstream calls (one per body), cache off."""
        plans: dict[str, list] = {}
        with _client(gateway) as client:
            for name, bodies in self.bodies().items():
                plans[name] = []
                for body in bodies:
                    for emulator in self.emulators:
                        emulator.clear_requests()
                    _data(client, body)
                    logged = {emulator.kind: emulator.requests() for emulator in self.emulators}
                    plans[name].append(record_plan(logged, self.emulators))
        return plans

    def warm_up(self, gateway: GatewayProcess) -> None:
        """Unmeasured load: connections, sessions, imports and (cache on) the cache."""
        for bodies in self.bodies().values():
            self.driver.run(self.graphql_job(gateway, bodies, duration=self.options.warmup))

    # --- the run ---------------------------------------------------------------------

    def run_gateway(self, workers: int, cache: bool, *, baselines: bool) -> None:
        """Every query against one gateway; with ``baselines``, the floor and naive paths too."""
        gateway = self.start_gateway(workers, cache)
        labels = {"workers": workers, "cache": "on" if cache else "off"}
        try:
            if not self.page_names:
                self.discover_names(gateway)
            self.warm_up(gateway)
            if baselines:
                self.run_floor(self.record_plans(gateway))
            levels = (1, self.options.concurrency) if workers == 1 else (self.options.concurrency,)
            for name, bodies in self.bodies().items():
                for concurrency in levels:
                    job = self.graphql_job(gateway, bodies, concurrency=concurrency)
                    self.measure(job, gateway, query=name, path="gateway", **labels)
            if baselines:
                self.run_naive(gateway, labels)
        finally:
            gateway.stop()

    def run_floor(self, plans: dict[str, list]) -> None:
        """Baseline (a): each query's upstream calls replayed directly, at both concurrencies."""
        for name, query_plans in plans.items():
            for concurrency in (1, self.options.concurrency):
                job = {
                    "mode": "replay",
                    "plans": query_plans,
                    "concurrency": concurrency,
                    "duration": self.options.duration,
                    "timeout": self.options.timeout,
                }
                self.measure(job, None, query=name, path="floor")

    def run_naive(self, gateway: GatewayProcess, labels: dict[str, Any]) -> None:
        """Baseline (b): Q1's page as 50 concurrent lookups; and as 50 aliases in one document."""
        naive = queries.naive_bodies(self.page_names)
        job = self.graphql_job(gateway, naive, mode="batch", concurrency=1)
        self.measure(job, gateway, query="Q1", path="naive", **labels)
        aliased = [queries.aliased_lookups(self.page_names)]
        for concurrency in (1, self.options.concurrency):
            job = self.graphql_job(gateway, aliased, concurrency=concurrency)
            self.measure(job, gateway, query="Q1", path="aliased", **labels)

    def run_memory(self) -> dict[str, Any]:
        """Peak RSS per worker with ``memory_servers`` servers across the emulators, cache on."""
        options = self.options
        sizes = memory_fleet(options.memory_servers)
        self.start_emulators(sizes)
        workers = max(options.workers)
        gateway = self.start_gateway(workers, cache=True)
        try:
            self.page_names, self.lookup_names = [], []
            self.discover_names(gateway)
            for name, bodies in self.bodies().items():
                job = self.graphql_job(gateway, bodies)
                self.measure(
                    job,
                    gateway,
                    query=name,
                    path="memory",
                    workers=workers,
                    cache="on",
                    servers=options.memory_servers,
                )
            per_worker = {
                str(pid): round(status_kb(pid, "VmHWM") / 1024, 1) for pid in gateway.worker_pids()
            }
        finally:
            gateway.stop()
        return {
            "servers": options.memory_servers,
            "servers_by_provider": sizes,
            "workers": workers,
            "peak_rss_mb_by_worker": per_worker,
        }

    def close(self) -> None:
        """Stop the driver and the emulators."""
        self.driver.stop()
        self.stop_emulators()


def run_benchmark(options: Options) -> dict[str, Any]:
    """Run every phase and return the results (see docs/performance.md)."""
    started, load_before = time.monotonic(), os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="fleetql-bench-") as workdir:
        bench = Benchmark(options, Path(workdir))
        try:
            bench.start_emulators(dict.fromkeys(KINDS, options.size))
            for workers in options.workers:
                for cache in (False, True):
                    first = not bench.phases
                    bench.run_gateway(workers, cache, baselines=first)
            memory = bench.run_memory() if options.memory_servers else None
        finally:
            bench.close()
    results = {
        "benchmark": "fleetql",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "wall_time_s": round(time.monotonic() - started, 1),
        "machine": describe_machine(),
        # Other work on the machine skews latency and throughput (CPU per request much less).
        "load_average": {"before": load_before, "after": os.getloadavg()},
        "options": asdict(options),
        "queries": {name: queries.DESCRIPTIONS[name] for name in options.queries},
        "phases": bench.phases,
        "memory": memory,
    }
    results["targets"] = evaluate_targets(results)
    return results


def write_results(results: dict[str, Any], kind: str, output: Path | None) -> Path:
    """Write ``results`` as JSON to ``output``, else to ``bench/results/<kind>-<UTC time>.json``."""
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    output = output or RESULTS / f"{kind}-{stamp}.json"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(results, indent=1) + "\n")
    return output


def memory_fleet(total: int) -> dict[str, int]:
    """``total`` servers split evenly, except Packet's, which its emulator caps."""
    packet = min(PACKET_MAX_DEVICES, total // len(KINDS))
    others = [kind for kind in KINDS if kind != "packet"]
    share, extra = divmod(total - packet, len(others))
    sizes = {kind: share + (1 if i < extra else 0) for i, kind in enumerate(others)}
    return {kind: packet if kind == "packet" else sizes[kind] for kind in KINDS}


def describe_machine() -> dict[str, Any]:
    """CPU count and model, memory, OS, Python and the versions that shape the hot path."""
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = next(
        (line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if "model name" in line),
        platform.processor(),
    )
    memory_kb = int(Path("/proc/meminfo").read_text().split()[1])
    versions = {}
    for package in ("uvicorn", "strawberry-graphql", "graphql-core", "httpx", "aiohttp", "fastapi"):
        versions[package] = metadata.version(package)
    for optional in ("uvloop", "httptools", "orjson"):
        try:
            versions[optional] = metadata.version(optional)
        except metadata.PackageNotFoundError:
            versions[optional] = None
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "cpu_model": model,
        "memory_gb": round(memory_kb / 1024 / 1024, 1),
        "os": platform.platform(),
        "python": platform.python_version(),
        "packages": versions,
    }


def _client(gateway: GatewayProcess) -> httpx.Client:
    return httpx.Client(
        base_url=gateway.url,
        headers={"Authorization": f"Bearer {BENCH_TOKEN}"},
        timeout=120,
    )


def _data(client: httpx.Client, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/graphql", json=body)
    payload = response.json()
    if response.status_code != 200 or "errors" in payload:
        raise RuntimeError(f"set-up query failed: {response.text[:500]}")
    return payload["data"]


def _progress(phase: dict[str, Any]) -> None:
    latency = phase["latency_ms"]
    print(
        f"{phase['query']:3} {phase['path']:8} w={phase.get('workers', '-')} "
        f"cache={phase.get('cache', '-'):3} c={phase['concurrency']:<3} "
        f"{phase['throughput_per_s']:8.1f}/s p50={latency['p50']:8.1f} "
        f"p99={latency['p99']:8.1f} ms calls={phase['upstream_calls_per_unit']:6.1f} "
        f"cpu={phase['gateway_cpu_ms_per_unit']} ms fail={phase['failures']}",
        file=sys.stderr,
        flush=True,
    )


def main(argv: list[str] | None = None) -> int:
    """Parse options, run, write ``bench/results/<date>.json`` and print the Markdown tables."""
    defaults = Options()
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    parser.add_argument("--duration", type=float, default=defaults.duration)
    parser.add_argument("--concurrency", type=int, default=defaults.concurrency)
    parser.add_argument("--latency-ms", type=float, default=defaults.latency_ms)
    parser.add_argument("--size", type=int, default=defaults.size, help="servers per emulator")
    parser.add_argument(
        "--memory-servers",
        type=int,
        default=defaults.memory_servers,
        help="servers across the emulators in the memory run (0 skips it)",
    )
    parser.add_argument("--workers", default="1,2", help="comma-separated worker counts")
    parser.add_argument("--queries", default=",".join(defaults.queries))
    parser.add_argument("--output", type=Path, help="results file (default: bench/results/)")
    parser.add_argument("--note", help="recorded in the results, e.g. what differs in this run")
    args = parser.parse_args(argv)
    options = Options(
        duration=args.duration,
        concurrency=args.concurrency,
        latency_ms=args.latency_ms,
        size=args.size,
        memory_servers=args.memory_servers,
        workers=tuple(int(n) for n in args.workers.split(",")),
        queries=tuple(args.queries.split(",")),
    )
    results = run_benchmark(options)
    if args.note:
        results["note"] = args.note
    output = write_results(results, "run", args.output)
    print(render(results))
    print(f"\nresults: {output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
