"""The load driver keeps exactly ``concurrency`` requests in flight (counted at the server),
and spreads a job with several URLs across them (counted at each server)."""

from __future__ import annotations

import asyncio

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bench.driver import _Clients, run_job
from emulators.kit.server import EmulatorServer


def counting_app() -> Starlette:
    """A GraphQL stand-in that answers after 20 ms and records the most requests in flight."""
    gauge = {"now": 0, "most": 0}
    queries: list[str] = []

    async def graphql(request: Request) -> JSONResponse:
        queries.append((await request.json())["query"])
        gauge["now"] += 1
        gauge["most"] = max(gauge["most"], gauge["now"])
        try:
            await asyncio.sleep(0.02)
        finally:
            gauge["now"] -= 1
        return JSONResponse({"data": {"ok": True}})

    app = Starlette(routes=[Route("/graphql", graphql, methods=["POST"])])
    app.state.gauge = gauge
    app.state.queries = queries
    return app


def test_more_workers_than_one_pool_holds_are_all_in_flight_at_once():
    # More workers than one pool's connections: each unit must take the pools in turn,
    # or the extra workers queue for one pool's connections instead of being in flight.
    concurrency = 2 * _Clients.CONNECTIONS_PER_POOL
    app = counting_app()
    with EmulatorServer(app) as server:
        job = {
            "mode": "graphql",
            "url": f"{server.url}/graphql",
            "headers": {},
            "bodies": [{"query": "{ ok }"}],
            "concurrency": concurrency,
            "duration": 0.5,
            "timeout": 10,
        }
        result = asyncio.run(run_job(job))
    assert result["failures"] == 0 and result["units"] >= concurrency
    assert app.state.gauge["most"] == concurrency


def test_a_job_with_two_urls_sends_every_body_to_both_in_turn():
    apps = [counting_app(), counting_app()]
    bodies = [{"query": "{ a }"}, {"query": "{ b }"}]
    with EmulatorServer(apps[0]) as first, EmulatorServer(apps[1]) as second:
        job = {
            "mode": "graphql",
            "urls": [f"{first.url}/graphql", f"{second.url}/graphql"],
            "headers": {},
            "bodies": bodies,
            "concurrency": 4,
            "duration": 0.3,
            "timeout": 10,
        }
        result = asyncio.run(run_job(job))
    received = [app.state.queries for app in apps]
    assert result["failures"] == 0 and sum(map(len, received)) == result["units"]
    # Round robin: consecutive units alternate between the servers.
    assert abs(len(received[0]) - len(received[1])) <= 1
    for queries in received:
        assert set(queries) == {"{ a }", "{ b }"}
