"""The load driver: a separate process that runs load jobs and reports latencies.

``python -m bench.driver`` reads one JSON job per line on stdin and answers one JSON result
per line on stdout, so one process (one interpreter start-up) serves every phase of a run.
It is an asyncio httpx client rather than wrk or locust: httpx is already a dependency, and a
fixed number of worker tasks, each with one request outstanding, gives exact control over
concurrency, while a job can be a GraphQL request, a batch of them, or a replay of upstream
calls (the floor), all timed the same way.

A job: ``{"mode", "concurrency", "duration", "timeout", ...}`` where ``mode`` is
    ``graphql``  POST ``bodies`` to ``url`` in turn, one body per unit of work; with ``urls``
                 (several gateways) instead of ``url``, each body goes to each URL in turn,
                 so consecutive units alternate between them (round robin);
    ``batch``    POST every body in ``bodies`` concurrently to ``url``; the unit is the batch;
    ``replay``   ``plans`` in turn, one per unit (see ``bench.floor``): a plan holds, per
                 provider, levels of upstream requests; a unit sends every provider's levels
                 concurrently, each level's requests concurrently, and the levels of one
                 provider one after the other.
Workers start units until ``duration`` seconds have passed, then the in-flight ones finish.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import math
import os
import ssl
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import httpx

__all__ = ["percentile", "run_job"]


def percentile(ordered: list[float], share: float) -> float:
    """Nearest-rank percentile of an ascending list (0 when empty)."""
    if not ordered:
        return 0.0
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


async def run_job(job: dict[str, Any]) -> dict[str, Any]:
    """Run one job and summarise it: counts, throughput and latency percentiles."""
    concurrency = job["concurrency"]
    async with _Clients(job["timeout"], _urls(job)) as clients:
        unit = _unit(job, clients)
        latencies: list[float] = []
        slowest = (0.0, 0.0)  # (latency, seconds into the job when that unit began)
        failures: list[str] = []
        started = time.perf_counter()
        deadline = started + job["duration"]
        cpu_before = _own_cpu_seconds()

        async def worker() -> None:
            nonlocal slowest
            while time.perf_counter() < deadline:
                begun = time.perf_counter()
                try:
                    problem = await unit()
                except httpx.HTTPError as exc:
                    problem = f"{type(exc).__name__}: {exc}"
                latency = (time.perf_counter() - begun) * 1000
                latencies.append(latency)
                slowest = max(slowest, (latency, begun - started))
                if problem:
                    failures.append(problem)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
        cpu = _own_cpu_seconds() - cpu_before
    latencies.sort()
    return {
        "units": len(latencies),
        "failures": len(failures),
        "failure_sample": failures[0][:300] if failures else None,
        "elapsed_s": round(elapsed, 3),
        "throughput_per_s": round(len(latencies) / elapsed, 2) if elapsed else 0.0,
        "latency_ms": {
            "p50": round(percentile(latencies, 0.50), 2),
            "p95": round(percentile(latencies, 0.95), 2),
            "p99": round(percentile(latencies, 0.99), 2),
            "mean": round(sum(latencies) / len(latencies), 2) if latencies else 0.0,
            "max": round(slowest[0], 2),
        },
        # Whether the slowest unit is a start-up effect (near 0) or happens under way.
        "slowest_began_at_s": round(slowest[1], 3),
        "driver_cpu_ms_per_unit": round(cpu * 1000 / len(latencies), 3) if latencies else 0.0,
    }


class _Clients:
    """Pooled keep-alive clients per origin, each pool small, created before the clock starts.

    httpcore scans its whole pool each time it hands out a connection, so one pool with
    dozens of connections costs far more CPU per request than several small ones; requests
    to one origin take the origin's pools in turn.
    """

    POOLS_PER_ORIGIN = 8
    CONNECTIONS_PER_POOL = 8

    def __init__(self, timeout: float, urls: list[str]) -> None:
        limits = httpx.Limits(
            max_connections=self.CONNECTIONS_PER_POOL,
            max_keepalive_connections=self.CONNECTIONS_PER_POOL,
        )
        # Plain HTTP on loopback; one shared TLS context spares loading the CA store per client.
        tls = ssl.create_default_context()
        self.every: list[httpx.AsyncClient] = []
        self.pools: dict[str, Iterator[httpx.AsyncClient]] = {}
        for origin in {_origin(url) for url in urls}:
            pools = [
                httpx.AsyncClient(timeout=timeout, limits=limits, verify=tls)
                for _ in range(self.POOLS_PER_ORIGIN)
            ]
            self.every += pools
            self.pools[origin] = itertools.cycle(pools)

    def __call__(self, url: str) -> httpx.AsyncClient:
        return next(self.pools[_origin(url)])

    async def __aenter__(self) -> _Clients:
        return self

    async def __aexit__(self, *_: object) -> None:
        for client in self.every:
            await client.aclose()


def _origin(url: str) -> str:
    return url.split("/", 3)[2]


def _urls(job: dict[str, Any]) -> list[str]:
    """Every URL a job calls, so its clients exist before it is timed."""
    if job["mode"] != "replay":
        return job["urls"] if "urls" in job else [job["url"]]
    return [
        call["url"]
        for plan in job["plans"]
        for levels in plan
        for level in levels
        for call in level
    ]


def _unit(job: dict[str, Any], clients: _Clients) -> Callable[[], Awaitable[str | None]]:
    """The coroutine function performing one unit of work; it returns a problem or None."""
    mode = job["mode"]
    if mode == "replay":
        plans = itertools.cycle(job["plans"])
        return lambda: _replay(clients, next(plans))
    bodies = [json.dumps(body).encode() for body in job["bodies"]]
    headers = {**job["headers"], "Content-Type": "application/json"}
    if mode == "batch":
        url = job["url"]

        async def batch() -> str | None:
            problems = await asyncio.gather(
                *(_graphql(clients(url), url, headers, body) for body in bodies)
            )
            return next((problem for problem in problems if problem), None)

        return batch
    # Every (body, URL) pair in turn: every gateway is sent every body.
    turns = itertools.cycle(itertools.product(bodies, _urls(job)))

    def graphql() -> Awaitable[str | None]:
        body, url = next(turns)
        # A pool per unit, in turn: one pool alone holds CONNECTIONS_PER_POOL connections, so
        # more workers than that would queue for it (and a queued request can wait for the
        # whole phase while the workers holding connections take them back at once).
        return _graphql(clients(url), url, headers, body)

    return graphql


async def _graphql(
    client: httpx.AsyncClient, url: str, headers: dict[str, str], body: bytes
) -> str | None:
    response = await client.post(url, content=body, headers=headers)
    # The gateway writes "errors" as the first key when there are any; no need to parse.
    if response.status_code != 200 or response.content.startswith(b'{"errors"'):
        return f"HTTP {response.status_code}: {response.text[:200]}"
    return None


async def _replay(clients: _Clients, plan: list[list[list[dict[str, Any]]]]) -> str | None:
    async def provider(levels: list[list[dict[str, Any]]]) -> str | None:
        for level in levels:
            responses = await asyncio.gather(
                *(
                    clients(call["url"]).request(
                        call["method"], call["url"], headers=call["headers"], content=call["body"]
                    )
                    for call in level
                )
            )
            for response in responses:
                if response.status_code >= 400:
                    return f"HTTP {response.status_code} from {response.request.url}"
        return None

    problems = await asyncio.gather(*(provider(levels) for levels in plan))
    return next((problem for problem in problems if problem), None)


def _own_cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system


def main() -> int:
    """Serve jobs from stdin until it closes."""
    for line in sys.stdin:
        result = asyncio.run(run_job(json.loads(line)))
        print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
