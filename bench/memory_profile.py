"""Where a gateway's memory goes: ``python -m bench.memory_profile [--servers 10000]``.

Starts the emulators as ``bench.run``'s memory run does (``--servers`` across them, each in
its own process), runs a gateway with the cache on inside this process under ``tracemalloc``,
sends each query of the mix once (Q2 once per looked-up name), and writes to
``bench/results/memory-profile-<servers>.json``: the memory Python holds after each query and
its peak, and the source lines holding the most at the end, when the cache is full.
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


async def _drive(app: Any, kinds: list[str]) -> list[dict[str, Any]]:
    """Each query once, in order; tracemalloc's figures after each."""
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
        for name, bodies in queries.query_bodies(names, queries.traffic_window()).items():
            for body in bodies:
                await data(body)
            current, peak = tracemalloc.get_traced_memory()
            steps.append({"after": name, "held_mb": _mb(current), "peak_mb": _mb(peak)})
    return steps


def profile_memory(servers: int) -> dict[str, Any]:
    """Run the profile with ``servers`` across the emulators and return its results."""
    sizes = memory_fleet(servers)
    emulators = start_emulators(sizes, Options.latency_ms)
    try:
        with tempfile.TemporaryDirectory(prefix="fleetql-memory-") as workdir:
            config = write_config(
                Path(workdir) / "fleet.toml", emulators, port=free_port(), cache=True
            )
            app = create_app(load_settings(str(config)))
        tracemalloc.start()
        steps = asyncio.run(_drive(app, [emulator.kind for emulator in emulators]))
        snapshot = tracemalloc.take_snapshot()
        tracemalloc.stop()
    finally:
        for emulator in emulators:
            emulator.stop()
    here = os.getcwd()
    return {
        "servers": servers,
        "servers_by_provider": sizes,
        "steps": steps,
        "held_by_line": [
            {
                "line": str(stat.traceback[0]).removeprefix(here + "/"),
                "mb": _mb(stat.size),
                "blocks": stat.count,
            }
            for stat in snapshot.statistics("lineno")[:TOP]
        ],
    }


def _mb(size: int) -> float:
    return round(size / MB, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--servers", type=int, default=Options.memory_servers)
    args = parser.parse_args()
    results = profile_memory(args.servers)
    path = RESULTS / f"memory-profile-{args.servers}.json"
    path.write_text(json.dumps(results, indent=1) + "\n")
    for step in results["steps"]:
        print(f"after {step['after']}: {step['held_mb']} MB held, {step['peak_mb']} MB peak")
    for row in results["held_by_line"][:10]:
        print(f"{row['mb']:>8} MB  {row['line']}")
    print(f"results: {path}")


if __name__ == "__main__":
    main()
