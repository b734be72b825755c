"""Profile the gateway under load: ``python -m bench.profile [--query Q1] [--cache off]``.

Starts the emulators and a one-worker gateway as ``bench.run`` does (``--query S2``: the
fan-out of ``bench.anchors``' S2 instead, over the dashserv emulator alone), attaches py-spy (a
sampling profiler, installed ad hoc: ``.venv/bin/pip install py-spy``; not a dependency) to
the worker while the driver sends one query, and writes the hottest functions, by own time
and by time including callees, and own time per library, to
``bench/results/profile-<query>-cache-<off|on>.json``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

from bench.anchors import FLEETQL_S2, PRODUCTS
from bench.run import KINDS, RESULTS, Benchmark, Options

__all__ = ["summarise"]

TOP = 25


def summarise(collapsed: str) -> dict[str, Any]:
    """Own and inclusive sample shares per function, and own share per library.

    ``collapsed`` is py-spy's raw format: one ``frame;frame;…;leaf count`` line per stack.
    """
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    libraries: Counter[str] = Counter()
    total = 0
    for line in collapsed.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        samples = int(count)
        frames = stack.split(";")
        total += samples
        own[frames[-1]] += samples
        libraries[_library(frames[-1])] += samples
        for frame in set(frames):
            inclusive[frame] += samples

    def shares(counter: Counter[str]) -> list[dict[str, Any]]:
        return [
            {"frame": frame, "share": round(samples / total, 3)}
            for frame, samples in counter.most_common(TOP)
        ]

    return {
        "samples": total,
        "own": shares(own),
        "inclusive": shares(inclusive),
        "own_by_library": shares(libraries),
    }


def _library(frame: str) -> str:
    """The package of a frame: py-spy names files relative to ``sys.path`` (``json/…``).

    The project's own modules count as ``fleetql:<folder>`` (``fleetql:providers``).
    """
    location = frame[frame.rfind("(") + 1 : frame.rfind(")")]
    if location.startswith("<frozen "):
        return location[len("<frozen ") :].split(">", 1)[0].split(".", 1)[0]
    top = location.split("/", 1)[0].split(":", 1)[0].removesuffix(".py")
    if top in ("gateway", "schema", "resolvers", "providers"):
        return f"fleetql:{top}"
    return top or frame


class _FanOut(Benchmark):
    """``bench.anchors``' S2 as ``bench.run``'s one query: 50 dashserv products and their status."""

    def bodies(self) -> dict[str, list[dict[str, Any]]]:
        return {"S2": [{"query": FLEETQL_S2}]}


def main(argv: list[str] | None = None) -> int:
    """Profile one query against one worker and write the summary."""
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__)
    parser.add_argument("--query", default="Q1")
    parser.add_argument("--cache", choices=("off", "on"), default="off")
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--size", type=int, default=Options.size)
    args = parser.parse_args(argv)
    py_spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")
    if py_spy is None:
        print("py-spy is not installed: .venv/bin/pip install py-spy", file=sys.stderr)
        return 2
    options = Options(queries=(args.query,), concurrency=args.concurrency, duration=args.seconds)
    with tempfile.TemporaryDirectory(prefix="fleetql-profile-") as workdir:
        fan_out = args.query == "S2"
        bench = (_FanOut if fan_out else Benchmark)(options, Path(workdir))
        try:
            sizes = {"dashserv": PRODUCTS} if fan_out else dict.fromkeys(KINDS, args.size)
            bench.start_emulators(sizes)
            gateway = bench.start_gateway(1, cache=args.cache == "on")
            try:
                if not fan_out:
                    bench.discover_names(gateway)
                bench.warm_up(gateway)
                collapsed = Path(workdir) / "stacks.txt"
                recorder = subprocess.Popen(
                    [py_spy, "record", "--pid", str(gateway.process.pid), "--format", "raw"]
                    + ["--rate", "200", "--duration", str(int(args.seconds)), "--function"]
                    + ["--output", str(collapsed), "--nonblocking"],
                    stdout=subprocess.DEVNULL,
                )
                bodies = bench.bodies()[args.query]
                load = bench.measure(
                    bench.graphql_job(gateway, bodies), gateway, query=args.query, path="profile"
                )
                recorder.wait(timeout=args.seconds + 60)
            finally:
                gateway.stop()
        finally:
            bench.close()
        summary = {
            "query": args.query,
            "cache": args.cache,
            "concurrency": args.concurrency,
            "load": load,
            **summarise(collapsed.read_text()),
        }
    output = RESULTS / f"profile-{args.query}-cache-{args.cache}.json"
    output.write_text(json.dumps(summary, indent=1) + "\n")
    for entry in summary["own_by_library"][:10]:
        print(f"{entry['share']:6.1%}  {entry['frame']}")
    print(f"profile: {output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
