"""Does the memory Python holds grow across fault cycles? ``python -m bench.held_memory``.

``bench/soak.py`` reads a gateway's RSS, which also counts what the allocator keeps after a
burst. This runs the same kind of cycle with the gateway in process under ``tracemalloc``:
emulators of every kind (20 servers each, 5 ms per call) in their own processes, the read
cache on, and per cycle 10 s with Mammoth hanging then 10 s healthy at 20 requests a second
(Q1, Q3, Q4 in turn), then a pause past the cache's TTLs and a full collection. It prints what
Python holds after each cycle and, at the end, the source lines that grew most between the
second cycle and the last. Flat figures mean the RSS steps of a soak are not objects kept.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import tempfile
import tracemalloc
from pathlib import Path

import httpx

from bench import queries
from bench.config import BENCH_TOKEN, write_config
from bench.processes import Emulator, free_port, start_emulators
from bench.run import KINDS
from gateway.app import create_app
from gateway.settings import load_settings

__all__ = ["held_across_cycles"]

RATE = 20  # requests a second
PHASE_SECONDS = 10.0
SETTLE_SECONDS = 12.0  # past the servers' 5 s TTL, so cached entries have expired
BODIES = [{"query": queries.Q1}, {"query": queries.Q3}, {"query": queries.Q4}]


async def _cycles(app, mammoth: Emulator, cycles: int) -> list[tracemalloc.Snapshot]:
    transport = httpx.ASGITransport(app=app)
    headers = {"Authorization": f"Bearer {BENCH_TOKEN}"}
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=transport, base_url="http://gateway", headers=headers, timeout=120
        ) as client,
    ):

        async def phase() -> None:
            sent = []
            for i in range(int(PHASE_SECONDS * RATE)):
                sent.append(asyncio.ensure_future(client.post("/graphql", json=BODIES[i % 3])))
                await asyncio.sleep(1 / RATE)
            await asyncio.gather(*sent)

        snapshots = []
        for cycle in range(cycles):
            mammoth.set_faults(hang=True)
            await phase()
            mammoth.set_faults(hang=False)
            await phase()
            await asyncio.sleep(SETTLE_SECONDS)
            gc.collect()
            held, _ = tracemalloc.get_traced_memory()
            print(f"cycle {cycle + 1}: {held / 1e6:.1f} MB held", flush=True)
            snapshots.append(tracemalloc.take_snapshot())
    return snapshots


def held_across_cycles(cycles: int) -> list[tracemalloc.Snapshot]:
    """Run ``cycles`` hang-and-healthy cycles; a snapshot of what is held after each."""
    emulators = start_emulators(dict.fromkeys(KINDS, 20), latency_ms=5.0)
    try:
        mammoth = next(emulator for emulator in emulators if emulator.kind == "mammoth")
        with tempfile.TemporaryDirectory(prefix="fleetql-held-") as workdir:
            config = write_config(
                Path(workdir) / "fleet.toml", emulators, port=free_port(), cache=True
            )
            app = create_app(load_settings(str(config)))
        tracemalloc.start(5)
        try:
            return asyncio.run(_cycles(app, mammoth, cycles))
        finally:
            tracemalloc.stop()
    finally:
        for emulator in emulators:
            emulator.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cycles", type=int, default=7)
    args = parser.parse_args()
    snapshots = held_across_cycles(max(2, args.cycles))
    print("grew most between the second cycle and the last:")
    for stat in snapshots[-1].compare_to(snapshots[1], "lineno")[:10]:
        print(f"  {stat}")


if __name__ == "__main__":
    main()
