"""A bounded load-and-fault soak: steady load on the gateway while one provider flaps.

    .venv/bin/python bench/soak.py                      # 120 s, Mammoth flapping
    .venv/bin/python bench/soak.py --duration 300 --flapping dashserv --rate 60

Three processes, so the gateway's memory is its own: the five demo emulators (this script
with ``--serve-emulators``), the gateway (``fleetql serve --config`` on a generated TOML
file), and this driver (asyncio + httpx). The driver sends ``--rate`` requests per second
from a fixed query mix and, every ``--period`` seconds (10), moves the flapping provider to the
next phase of FLAPS (5xx, healthy, hang, healthy, malformed, healthy, slow, healthy)
through its emulator's ``/_emulator/faults``. It samples the gateway's RSS from
``/proc/<pid>/status`` and prints, per phase kind, the error rate each provider caused and
the latency percentiles, then the RSS samples. ``--json PATH`` also writes the raw numbers.
Results and method are recorded in docs/reliability.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

TOKEN = "soak-full-access"
#: (name, fault settings) in order; each lasts one period, then the next one starts.
FLAPS: list[tuple[str, dict[str, Any]]] = [
    ("5xx", {"error_rate": 1.0, "error_status": 503}),
    ("healthy", {}),
    ("hang", {"hang": True}),
    ("healthy", {}),
    ("malformed", {"malformed": True}),
    ("healthy", {}),
    ("slow", {"latency_ms": 3000}),
    ("healthy", {}),
]
HEALTHY_FAULTS = {
    "error_rate": 0.0,
    "hang": False,
    "malformed": False,
    "latency_ms": 0,
    "retry_after": None,
}
#: Upstream timeouts short enough that a hang costs seconds, not the 20 s default.
READ_TIMEOUT = 2.0


# --- the emulator process ----------------------------------------------------------------


def serve_emulators(size: int) -> int:
    """Run the five demo emulators; print their coordinates; serve until stdin closes."""
    from emulators.kit.server import EmulatorServer
    from gateway.demo import DEMO_BACKENDS

    coordinates = {}
    servers = []
    for backend in DEMO_BACKENDS:
        app = backend.emulator(size)
        server = EmulatorServer(app).start()
        servers.append(server)
        coordinates[backend.kind] = {
            "url": server.url,
            "table": {
                "id": backend.kind,
                "kind": backend.kind,
                "base_url": f"{server.url}{backend.path}",
                "prefix": backend.prefix,
                "read_timeout": READ_TIMEOUT,
                **backend.credentials,
                **backend.options(app),
            },
        }
    print(json.dumps(coordinates), flush=True)
    sys.stdin.read()
    for server in servers:
        server.stop()
    return 0


# --- the gateway process -----------------------------------------------------------------


def gateway_config(coordinates: dict[str, Any], port: int, cache: bool) -> str:
    """The gateway's TOML: every emulator, one token, client rate limits out of the way."""
    lines = [
        "[server]",
        'host = "127.0.0.1"',
        f"port = {port}",
        "[limits]",
        "queries_per_minute = 1000000",
        "mutations_per_minute = 1000000",
        "[cache]",
        f"enabled = {'true' if cache else 'false'}",
    ]
    for coordinate in coordinates.values():
        lines.append("[[providers]]")
        lines += [f"{key} = {json.dumps(value)}" for key, value in coordinate["table"].items()]
    lines += ["[[tokens]]", 'name = "soak"', 'scope = "full-access"', f'token = "{TOKEN}"']
    return "\n".join(lines) + "\n"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def rss_mib(pid: int) -> float:
    """Resident set size of ``pid`` in MiB (``VmRSS`` in ``/proc/<pid>/status``)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def wait_until_up(url: str, process: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url} exited with {process.returncode}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up")


# --- load ----------------------------------------------------------------------------------


def query_mix(names: dict[str, list[str]], rng: random.Random) -> tuple[str, str, dict]:
    """One request of the mix: (kind of request, query, variables)."""
    roll = rng.random()
    if roll < 0.35:
        return (
            "list-all",
            "{ servers(input: {pageSize: 50}) { entriesTotalCount entries { name } } }",
            {},
        )
    if roll < 0.55:
        provider = rng.choice(sorted(names))
        query = (
            "query Q($input: PaginatedServersInput) { servers(input: $input) "
            "{ entriesTotalCount entries { name powerStatus location { name } } } }"
        )
        return "list-one", query, {"input": {"filter": {"provider_in": [provider]}}}
    if roll < 0.85:
        name = rng.choice(rng.choice(list(names.values())))
        query = (
            "query Q($name: String) { server(input: {name: $name}) { name alias provider { id } } }"
        )
        return "lookup", query, {"name": name}
    if roll < 0.95:
        return "account", "{ account { name email } }", {}
    query = (
        'mutation { setServerTag(input: {server: {name: "DP-12345"}, key: "soak", value: "on"}) }'
    )
    return "mutation", query, {}


@dataclass
class Sample:
    """One request's outcome."""

    at: float
    kind: str
    status: int
    seconds: float
    failed_providers: tuple[str, ...]
    codes: tuple[str, ...]


@dataclass
class Run:
    """Everything measured during the soak."""

    samples: list[Sample] = field(default_factory=list)
    phases: list[tuple[float, float, str]] = field(default_factory=list)  # (start, end, name)
    rss: list[tuple[float, float]] = field(default_factory=list)  # (seconds since start, MiB)
    upstream: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))


async def drive(
    url: str, names: dict[str, list[str]], rate: float, until: float, run: Run, seed: int
) -> None:
    """Open-loop load: a request every 1/rate seconds, whatever the previous ones are doing."""
    rng = random.Random(seed)
    limits = httpx.Limits(max_connections=256, max_keepalive_connections=64)
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with httpx.AsyncClient(base_url=url, headers=headers, limits=limits, timeout=60) as http:
        in_flight: set[asyncio.Task] = set()
        next_at = time.monotonic()
        while next_at < until:
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
            task = asyncio.create_task(one_request(http, *query_mix(names, rng), run))
            in_flight.add(task)
            task.add_done_callback(in_flight.discard)
            next_at += 1 / rate
        await asyncio.gather(*in_flight)


async def one_request(
    http: httpx.AsyncClient, kind: str, query: str, variables: dict, run: Run
) -> None:
    started = time.monotonic()
    try:
        response = await http.post("/graphql", json={"query": query, "variables": variables})
        status, body = response.status_code, response.json()
    except (httpx.HTTPError, ValueError):
        status, body = 0, {"errors": [{"extensions": {"code": "DRIVER_ERROR"}}]}
    errors = body.get("errors") or []
    run.samples.append(
        Sample(
            at=started,
            kind=kind,
            status=status,
            seconds=time.monotonic() - started,
            failed_providers=tuple(
                sorted({e.get("extensions", {}).get("provider", "-") for e in errors})
            ),
            codes=tuple(e.get("extensions", {}).get("code", "?") for e in errors),
        )
    )


async def flap(
    control: dict[str, str], flapping: str, period: float, until: float, run: Run
) -> None:
    """Walk the flapping provider through FLAPS; count each phase's upstream requests."""
    async with httpx.AsyncClient(timeout=10) as http:
        for base in control.values():
            await http.delete(f"{base}/requests")  # the warm-up's requests are not a phase's
        index = 0
        while time.monotonic() < until:
            name, faults = FLAPS[index % len(FLAPS)]
            await http.put(f"{control[flapping]}/faults", json={**HEALTHY_FAULTS, **faults})
            started = time.monotonic()
            await asyncio.sleep(min(period, max(0.0, until - started)))
            run.phases.append((started, time.monotonic(), name))
            for kind, base in control.items():
                logged = (await http.get(f"{base}/requests")).json()
                await http.delete(f"{base}/requests")  # keeps the emulators' memory flat
                if kind == flapping:
                    run.upstream[name]["requests"] += len(logged)
                    run.upstream[name]["faulted"] += sum(1 for e in logged if e["fault"])
            index += 1
        await http.put(f"{control[flapping]}/faults", json=HEALTHY_FAULTS)


async def sample_rss(pid: int, started: float, until: float, every: float, run: Run) -> None:
    while time.monotonic() < until:
        run.rss.append((time.monotonic() - started, rss_mib(pid)))
        await asyncio.sleep(every)
    run.rss.append((time.monotonic() - started, rss_mib(pid)))


# --- report --------------------------------------------------------------------------------


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else 0.0


def phase_of(sample: Sample, phases: list[tuple[float, float, str]]) -> str:
    for start, end, name in phases:
        if start <= sample.at < end:
            return name
    return "healthy"


def report(run: Run, flapping: str, providers: list[str], duration: float) -> dict[str, Any]:
    """Per phase kind: requests, error rate caused by each provider, latency percentiles."""
    by_phase: dict[str, list[Sample]] = defaultdict(list)
    for sample in run.samples:
        by_phase[phase_of(sample, run.phases)].append(sample)
    by_phase["all"] = run.samples
    phases = {}
    for name, samples in by_phase.items():
        latencies = [s.seconds * 1000 for s in samples]
        phases[name] = {
            "requests": len(samples),
            "http_5xx": sum(1 for s in samples if s.status >= 500 or s.status == 0),
            "error_rate_by_provider": {
                provider: round(
                    sum(1 for s in samples if provider in s.failed_providers) / len(samples), 4
                )
                for provider in [*providers, "-"]
            },
            "codes": dict(Counter(code for s in samples for code in s.codes)),
            "latency_ms": {
                "p50": round(percentile(latencies, 0.50), 1),
                "p95": round(percentile(latencies, 0.95), 1),
                "p99": round(percentile(latencies, 0.99), 1),
                "max": round(max(latencies, default=0.0), 1),
            },
        }
    half = [mib for at, mib in run.rss if at >= duration / 2]
    return {
        "flapping": flapping,
        "duration_s": duration,
        "throughput_rps": round(len(run.samples) / duration, 1),
        "phases": phases,
        "upstream_calls_to_flapping_provider": {k: dict(v) for k, v in run.upstream.items()},
        "rss_mib": {
            "start": round(run.rss[0][1], 1),
            "end": round(run.rss[-1][1], 1),
            "max": round(max(mib for _, mib in run.rss), 1),
            "second_half_slope_mib_per_min": round(slope(run.rss, duration) * 60, 3),
            "second_half_spread": round(max(half) - min(half), 1) if half else 0.0,
            "samples": [(round(at), round(mib, 1)) for at, mib in run.rss],
        },
    }


def slope(points: list[tuple[float, float]], duration: float) -> float:
    """Least-squares MiB per second over the second half of the run (a growth trend)."""
    late = [(at, mib) for at, mib in points if at >= duration / 2]
    if len(late) < 2:
        return 0.0
    return statistics.linear_regression([a for a, _ in late], [m for _, m in late]).slope


def print_report(result: dict[str, Any], providers: list[str]) -> None:
    print(f"\nflapping: {result['flapping']}, {result['throughput_rps']} requests/s")
    header = "| phase | requests | HTTP 5xx | " + " | ".join(providers) + " | p50 ms | p95 ms |"
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    for name, phase in result["phases"].items():
        rates = phase["error_rate_by_provider"]
        cells = " | ".join(f"{rates[p] * 100:.2f} %" for p in providers)
        latency = phase["latency_ms"]
        print(
            f"| {name} | {phase['requests']} | {phase['http_5xx']} | {cells} "
            f"| {latency['p50']} | {latency['p95']} |"
        )
    print("upstream calls to the flapping provider:", result["upstream_calls_to_flapping_provider"])
    print("RSS MiB:", {k: v for k, v in result["rss_mib"].items() if k != "samples"})
    print("RSS samples (s, MiB):", result["rss_mib"]["samples"])


# --- orchestration -----------------------------------------------------------------------


def known_names(url: str) -> dict[str, list[str]]:
    """Every server name by provider, read once before the load starts."""
    query = "{ servers(input: {pageSize: 50}) { entries { name provider { id } } } }"
    page = httpx.post(
        f"{url}/graphql", json={"query": query}, headers={"Authorization": f"Bearer {TOKEN}"}
    ).json()
    names: dict[str, list[str]] = defaultdict(list)
    for server in page["data"]["servers"]["entries"]:
        names[server["provider"]["id"]].append(server["name"])
    return dict(names)


async def soak(args: argparse.Namespace, url: str, pid: int, control: dict[str, str]) -> Run:
    run = Run()
    names = known_names(url)
    warm_until = time.monotonic() + args.warmup
    await drive(url, names, args.rate, warm_until, Run(), seed=0)
    started = time.monotonic()
    until = started + args.duration
    await asyncio.gather(
        drive(url, names, args.rate, until, run, seed=1),
        flap(control, args.flapping, args.period, until, run),
        sample_rss(pid, started, until, args.rss_every, run),
    )
    return run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=120, help="seconds of measured load")
    parser.add_argument("--warmup", type=float, default=10, help="seconds of load before")
    parser.add_argument("--rate", type=float, default=20, help="requests per second")
    parser.add_argument("--flapping", default="mammoth", help="the provider that flaps")
    parser.add_argument("--period", type=float, default=10, help="seconds per flap phase")
    parser.add_argument("--size", type=int, default=20, help="servers per emulator")
    parser.add_argument("--cache", action="store_true", help="enable the read cache")
    parser.add_argument("--rss-every", type=float, default=5, help="seconds between samples")
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument("--serve-emulators", type=int, metavar="SIZE", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_emulators:
        return serve_emulators(args.serve_emulators)
    python = sys.executable
    emulators = subprocess.Popen(
        [python, __file__, "--serve-emulators", str(args.size)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    coordinates = json.loads(emulators.stdout.readline())
    control = {kind: f"{c['url']}/_emulator" for kind, c in coordinates.items()}
    port = free_port()
    with tempfile.TemporaryDirectory() as workdir:
        config = Path(workdir, "soak.toml")
        config.write_text(gateway_config(coordinates, port, args.cache))
        log_path = Path(workdir, "gateway.log")
        fleetql = Path(python).with_name("fleetql")
        with log_path.open("w") as log:
            gateway = subprocess.Popen(
                [str(fleetql), "serve", "--config", str(config)], stdout=log, stderr=log
            )
        url = f"http://127.0.0.1:{port}"
        try:
            wait_until_up(url, gateway)
            boot_rss = rss_mib(gateway.pid)
            run = asyncio.run(soak(args, url, gateway.pid, control))
        finally:
            gateway.terminate()
            gateway.wait(timeout=30)
            emulators.stdin.close()
            emulators.wait(timeout=30)
        gateway_log = log_path.read_text()
    providers = list(coordinates)
    result = report(run, args.flapping, providers, args.duration)
    result["rss_mib"]["boot"] = round(boot_rss, 1)
    result["gateway_log"] = {
        "lines": gateway_log.count("\n"),
        "tracebacks": gateway_log.count("Traceback"),
    }
    result["command"] = " ".join([".venv/bin/python bench/soak.py", *(argv or sys.argv[1:])])
    print_report(result, providers)
    print("gateway log:", result["gateway_log"])
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
