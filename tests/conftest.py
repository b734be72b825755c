"""Shared fixtures: real emulators serving HTTP on loopback, and gateways over them.

A gateway runs in process (``tests/servers.py``: its real ASGI app and lifespan, no
socket); tests about connections and the wire start one under uvicorn instead.
"""

from __future__ import annotations

import gc
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import fastapi.dependencies.models
import httpx
import pytest

from emulators.datapacket import app as datapacket_emulator
from emulators.kit.server import EmulatorServer
from gateway.app import create_app
from gateway.settings import settings_from_dict
from providers.base import LazyPage, Page
from schema import FleetSchema
from tests import self_contained
from tests.redis_server import redis_server  # noqa: F401 - the fixture, for every test module
from tests.servers import InProcessGateway, serving, stop_all, stop_soon, wait_until_stopped

# Before any test module is collected, so reads made at import time are seen too.
self_contained.install()


def pytest_collection_finish(session: pytest.Session) -> None:
    """Full garbage collections run between modules (``_between_modules``), not inside tests.

    A full collection walks a few hundred thousand objects and stalls every thread for
    0.1-0.7 s; inside a test it stalls the gateway's loop too, past a 0.2 s breaker cooldown
    or a timeout a fault test relies on. Young collections run as usual. What collection
    built (the test modules, their schemas and strategies) lives for the whole run: frozen,
    no collection walks it again.
    """
    gc.collect()
    gc.freeze()
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, 1_000_000_000)  # no automatic full collection


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Wait for the emulators still stopping; fail the run if any test opened a file beside
    the repository (see tests/self_contained)."""
    wait_until_stopped()
    if self_contained.opened_beside:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter) -> None:
    """Name the files opened beside the repository, the reason the run failed."""
    if self_contained.opened_beside:
        terminalreporter.section("files opened beside the repository (commit them under tests/)")
        for path in dict.fromkeys(self_contained.opened_beside):
            terminalreporter.write_line(path)


#: FastAPI's caches of how to call an endpoint (4,096 entries, keyed by the function). A
#: gateway app's endpoints close over its ``Gateway`` (providers, a GraphQL schema with its
#: whole AST), so these caches kept every app the suite built alive: 2.7 million objects by
#: the end, and full garbage collections of up to 1.5 s, long enough to stall a gateway's
#: loop past the timeouts the fault tests rely on.
_ENDPOINT_CACHES = [
    cache
    for name in (
        "_is_gen_callable_cached",
        "_is_async_gen_callable_cached",
        "_is_coroutine_callable_cached",
    )
    if (cache := getattr(fastapi.dependencies.models, name, None)) is not None
]


@pytest.fixture(scope="module", autouse=True)
def _between_modules() -> Iterator[None]:
    """After a module, let go of the apps it built (see ``_ENDPOINT_CACHES``) and collect
    the garbage (see ``pytest_collection_finish``)."""
    yield
    for cache in _ENDPOINT_CACHES:
        cache.cache_clear()
    gc.collect()


FULL = "test-full-access"
READ = "test-read-only"
TOKENS = [
    {"name": "full", "scope": "full-access", "token": FULL},
    {"name": "read", "scope": "read-only", "token": READ},
]


def datapacket_config(upstream: EmulatorServer, **extra: Any) -> dict[str, Any]:
    """A ``[[providers]]`` table for a DataPacket emulator."""
    return {
        "id": "dp",
        "kind": "datapacket",
        "base_url": f"{upstream.url}/v0/graphql",
        "token": "dp-emulator-full",
        **extra,
    }


class GatewayClient:
    """Talks GraphQL to a running gateway: in process, or over HTTP to a real server."""

    def __init__(self, server: InProcessGateway | EmulatorServer, path: str = "/graphql") -> None:
        self.server = server
        #: The GraphQL path posted to: ``/graphql``, or DataPacket's ``/v0/graphql``.
        self.path = path
        if isinstance(server, InProcessGateway):
            self.http = server.client(timeout=30)
        else:
            self.http = httpx.Client(base_url=server.url, timeout=30)

    def post(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        token: str | None = FULL,
        operation_name: str | None = None,
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        body: dict[str, Any] = {"query": query}
        if variables is not None:
            body["variables"] = variables
        if operation_name is not None:
            body["operationName"] = operation_name
        return self.http.post(self.path, json=body, headers=headers)

    def query(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        status: int = 200,
        **kwargs: Any,
    ) -> dict:
        """POST and return the JSON body, asserting its HTTP status (400: a malformed request)."""
        response = self.post(query, variables, **kwargs)
        assert response.status_code == status, response.text
        return response.json()

    def data(self, query: str, variables: dict[str, Any] | None = None, **kwargs: Any) -> dict:
        """POST and return ``data``, asserting there are no errors."""
        body = self.query(query, variables, **kwargs)
        assert "errors" not in body, body["errors"]
        return body["data"]


def aliased_lookups(names: list[str], fields: str) -> str:
    """One document looking up each name as ``s0``, ``s1``, … (what loaders must batch)."""
    lookups = " ".join(
        f's{i}: server(input: {{name: "{name}"}}) {{ {fields} }}' for i, name in enumerate(names)
    )
    return f"{{ {lookups} }}"


def fragment_bomb(depth: int, fanout: int = 10) -> str:
    """Fragments each spreading the next ``fanout`` times: ``fanout**depth`` names expanded."""
    fragments = [
        f"fragment F{i} on Server {{ {f'...F{i + 1} ' * fanout if i < depth - 1 else 'name'} }}"
        for i in range(depth)
    ]
    return "query { servers { entries { ...F0 } } } " + " ".join(fragments)


async def listed(pending: Awaitable[Page | LazyPage]) -> Page:
    """A provider's answer with every entry read (a ``LazyPage`` converts them now)."""
    page = await pending
    return Page(await page.head(page.total), page.total)


def error_codes(body: dict) -> list[str]:
    """The ``extensions.code`` of every error in a response body."""
    return [error["extensions"]["code"] for error in body.get("errors", [])]


@pytest.fixture
def executions(monkeypatch) -> list[str]:
    """The operations the gateway executed, in order (a whole-response cache hit runs none)."""
    ran: list[str] = []
    execute = FleetSchema.execute_document

    async def counted(self, document, query, **kwargs: Any):
        ran.append(kwargs.get("operation_name") or "anonymous")
        return await execute(self, document, query, **kwargs)

    monkeypatch.setattr(FleetSchema, "execute_document", counted)
    return ran


@pytest.fixture(scope="session")
def datapacket_upstream() -> Iterator[EmulatorServer]:
    """A DataPacket emulator shared by read-only tests (never mutate through it)."""
    with serving(datapacket_emulator.create_app(size=40, seed=1)) as server:
        yield server


def start_gateway(
    providers: list[dict[str, Any]], *, cache: dict[str, Any] | None = None, **server: Any
) -> InProcessGateway:
    """Start a gateway over ``providers`` in process (``cache`` and ``server`` are its
    ``[cache]`` and ``[server]`` tables)."""
    settings = settings_from_dict(
        {"providers": providers, "tokens": TOKENS, "server": server, "cache": cache or {}},
        source="<test>",
    )
    return InProcessGateway(create_app(settings)).start()


@pytest.fixture(scope="session")
def gateway(datapacket_upstream: EmulatorServer) -> Iterator[GatewayClient]:
    """A gateway over the shared DataPacket emulator (read-only tests)."""
    server = start_gateway([datapacket_config(datapacket_upstream)])
    yield GatewayClient(server)
    server.stop()


@pytest.fixture
def fresh() -> Iterator[Callable[..., tuple[GatewayClient, EmulatorServer]]]:
    """A factory of private emulator + gateway pairs, for tests that change state
    (``cache``: the gateway's ``[cache]`` table; other options go to the emulator)."""
    gateways: list[InProcessGateway] = []
    upstreams: list[EmulatorServer] = []

    def make(
        cache: dict[str, Any] | None = None, **emulator_options: Any
    ) -> tuple[GatewayClient, EmulatorServer]:
        options = {"size": 40, "seed": 1, **emulator_options}
        upstream = EmulatorServer(datapacket_emulator.create_app(**options)).start()
        upstreams.append(upstream)
        server = start_gateway([datapacket_config(upstream)], cache=cache)
        gateways.append(server)
        return GatewayClient(server), upstream

    yield make
    stop_all(gateways)  # first, so that no gateway calls a stopped emulator
    stop_soon(upstreams)
