"""Where a gateway's memory goes: ``python -m bench.memory_profile [--servers 10000]``.

Starts the emulators as ``bench.run``'s memory run does (``--servers`` across them, each in
its own process), runs a gateway with the cache on inside this process under ``tracemalloc``,
sends each query of the mix once (Q2 once per looked-up name; ``--concurrency N`` sends N
copies of each at once, as ``bench.run``'s memory phase does), and writes to
``bench/results/memory-profile-<servers>.json``: the memory Python holds after each query and
its peak, the source lines holding the most at the end, when the cache is full, and those
holding the most at the peak (a snapshot taken whenever the traced memory grows past the
last snapshot's by a quarter).
tracemalloc sees what Python allocates (decoded JSON included), not the interpreter itself,
so the figures are below a worker's RSS.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import tracemalloc
from pathlib import Path
from typing import Any

import httpx

from bench import queries
from bench.config import BENCH_TOKEN, write_config
from bench.processes import free_port, start_emulators
from bench.run import NAMES, RESULTS, Options, memory_fleet
from gateway.app import create_app
from gateway.settings import load_settings

__all__ = ["profile_memory"]

TOP = 25
MB = 1024 * 1024


class _PeakSnapshots:
    """A snapshot of what is held near the peak: taken whenever the traced memory passes the
    last snapshot's by a quarter, checked every few milliseconds from the event loop."""

    def __init__(self) -> None:
        self.snapshot: tracemalloc.Snapshot | None = None
        self._size = 0

    async def watch(self) -> None:
        """Check until cancelled."""
        while True:
            current, _ = tracemalloc.get_traced_memory()
            if current > self._size * 1.25:
                self.snapshot, self._size = tracemalloc.take_snapshot(), current
            await asyncio.sleep(0.005)


async def _drive(
    app: Any, kinds: list[str], concurrency: int, peak: _PeakSnapshots
) -> list[dict[str, Any]]:
    """Each query ``concurrency`` times at once, in order; tracemalloc's figures after each."""
    steps = []
    transport = httpx.ASGITransport(app=app)
    headers = {"Authorization": f"Bearer {BENCH_TOKEN}"}
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=transport, base_url="http://gateway", headers=headers, timeout=600
        ) as client,
    ):

        async def data(body: dict[str, Any]) -> dict[str, Any]:
            payload = (await client.post("/graphql", json=body)).json()
            if "errors" in payload:
                raise RuntimeError(f"query failed: {str(payload['errors'])[:500]}")
            return payload["data"]

        names: list[str] = []
        for kind in kinds:
            variables = {"ids": [kind], "size": queries.NAMES_PER_PROVIDER}
            found = await data({"query": NAMES, "variables": variables})
            names += [entry["name"] for entry in found["servers"]["entries"]]
        watcher = asyncio.ensure_future(peak.watch())
        for name, bodies in queries.query_bodies(names, queries.traffic_window()).items():
            for body in bodies:
                await asyncio.gather(*(data(body) for _ in range(concurrency)))
            current, highest = tracemalloc.get_traced_memory()
            steps.append({"after": name, "held_mb": _mb(current), "peak_mb": _mb(highest)})
        watcher.cancel()
    return steps


def profile_memory(servers: int, concurrency: int = 1) -> dict[str, Any]:
    """Run the profile with ``servers`` across the emulators and return its results."""
    sizes = memory_fleet(servers)
    emulators = start_emulators(sizes, Options.latency_ms)
    try:
        with tempfile.TemporaryDirectory(prefix="fleetql-memory-") as workdir:
            config = write_config(
                Path(workdir) / "fleet.toml",
                emulators,
                port=free_port(),
                cache=True,
                # Snapshots stop the loop for a second or more: not a deadline's business here.
                server={"request_deadline": 600},
            )
            app = create_app(load_settings(str(config)))
        peak = _PeakSnapshots()
        tracemalloc.start()
        kinds = [emulator.kind for emulator in emulators]
        steps = asyncio.run(_drive(app, kinds, concurrency, peak))
        snapshot = tracemalloc.take_snapshot()
        tracemalloc.stop()
    finally:
        for emulator in emulators:
            emulator.stop()
    return {
        "servers": servers,
        "servers_by_provider": sizes,
        "concurrency": concurrency,
        "steps": steps,
        "held_by_line": _by_line(snapshot),
        "held_at_peak_by_line": _by_line(peak.snapshot) if peak.snapshot else [],
    }


def _by_line(snapshot: tracemalloc.Snapshot) -> list[dict[str, Any]]:
    here = os.getcwd()
    return [
        {
            "line": str(stat.traceback[0]).removeprefix(here + "/"),
            "mb": _mb(stat.size),
            "blocks": stat.count,
        }
        for stat in snapshot.statistics("lineno")[:TOP]
    ]


def _mb(size: int) -> float:
    return round(size / MB, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--servers", type=int, default=Options.memory_servers)
    parser.add_argument("--concurrency", type=int, default=1, help="copies of each query at once")
    args = parser.parse_args()
    results = profile_memory(args.servers, args.concurrency)
    suffix = f"-c{args.concurrency}" if args.concurrency > 1 else ""
    path = RESULTS / f"memory-profile-{args.servers}{suffix}.json"
    path.write_text(json.dumps(results, indent=1) + "\n")
    for step in results["steps"]:
        print(f"after {step['after']}: {step['held_mb']} MB held, {step['peak_mb']} MB peak")
    tables = {"held at the end": "held_by_line", "held at the peak": "held_at_peak_by_line"}
    for title, rows in tables.items():
        print(title)
        for row in results[rows][:10]:
            print(f"{row['mb']:>8} MB  {row['line']}")
    print(f"results: {path}")


if __name__ == "__main__":
    main()
