"""The one upstream transport: its status-to-error table through every real adapter, its
connection pool sized from the provider's ``max_concurrency``, and what it says of a write
whose connection failed.

Both run against a tiny ASGI app over loopback HTTP that answers one fixed status and counts
the requests and the TCP connections (client ports) it saw.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field

import httpx
import pytest

from emulators.kit import EmulatorServer
from errors import GatewayError
from providers.base import Provider, ProviderConfig
from providers.http import UpstreamClient, parsed_url
from providers.registry import PROVIDER_KINDS
from providers.resilience import ResiliencePolicy, UpstreamGuard
from providers.selection import Selection
from tests.servers import serving

#: Every place an adapter looks for its provider's reason, holding the same one.
REASON = "out_of_stock"
ERROR_BODY = {
    "success": False,
    "data": REASON,
    "errors": [REASON],
    "error": {"msg": REASON},
    "detail": REASON,
}
NAME = Selection.of({"name": {}})


@dataclass
class FixedAnswer:
    """An ASGI app answering every request ``status`` with ``ERROR_BODY``, after ``pause`` s."""

    status: int = 500
    pause: float = 0.0
    requests: int = 0
    ports: set[int] = field(default_factory=set)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        self.requests += 1
        self.ports.add(scope["client"][1])
        while (await receive()).get("more_body"):
            pass
        if self.pause:
            await asyncio.sleep(self.pause)  # holds the connection so that calls overlap
        await send(
            {
                "type": "http.response.start",
                "status": self.status,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": json.dumps(ERROR_BODY).encode()})


@pytest.fixture(scope="module")
def answer() -> Iterator[tuple[FixedAnswer, EmulatorServer]]:
    app = FixedAnswer()
    with serving(app) as server:
        yield app, server


#: Per kind: the credentials and options it needs, a read and a write (one upstream call each).
KIND_CALLS: dict[str, tuple[dict, dict, Callable, Callable]] = {
    "datapacket": (
        {"token": "t"},
        {},
        lambda p: p.ping(),
        lambda p: p.set_server_alias("DP-1", "a", NAME),
    ),
    "packet": (
        {"token": "t"},
        {"project_ids": ["p"]},
        lambda p: p.ping(),
        lambda p: p.perform_power_action("PK-d1", "ON", NAME),
    ),
    "mammoth": (
        {"token": "t"},
        {},
        lambda p: p.ping(),
        lambda p: p.perform_power_action("MC-1", "ON", NAME),
    ),
    "dashserv": (
        {"token": "t"},
        {},
        lambda p: p.ping(),
        lambda p: p._post("product/vserver/abc/actions/start"),
    ),
    "dcimanager": (
        {"session": "s"},
        {},
        lambda p: p.ping(),
        lambda p: p.perform_power_action("DCI-1", "ON", NAME),
    ),
}

#: status -> (code of a read, code of a write, outcome of a write).
TABLE = {
    401: ("NOT_AUTHORIZED", "NOT_AUTHORIZED", None),
    403: ("NOT_AUTHORIZED", "NOT_AUTHORIZED", None),
    # A read is built by the gateway: its refusal is the provider's failure, not the client's.
    409: ("PROVIDER_UNAVAILABLE", "VALIDATION_FAILED", None),
    422: ("PROVIDER_UNAVAILABLE", "VALIDATION_FAILED", None),
    429: ("PROVIDER_UNAVAILABLE", "PROVIDER_UNAVAILABLE", None),
    500: ("PROVIDER_UNAVAILABLE", "PROVIDER_UNAVAILABLE", "unknown"),
    502: ("PROVIDER_UNAVAILABLE", "PROVIDER_UNAVAILABLE", "unknown"),
}


def adapter(kind: str, server: EmulatorServer) -> Provider:
    credentials, options, _, _ = KIND_CALLS[kind]
    config = ProviderConfig(
        id=kind,
        kind=kind,
        base_url=server.url,
        prefix={"datapacket": "DP", "packet": "PK", "mammoth": "MC"}.get(kind, kind.upper()[:3]),
        credentials=credentials,
        options=options,
        resilience=ResiliencePolicy(retries=0),
    )
    return PROVIDER_KINDS[kind](config)


async def failure_of(provider: Provider, call: Callable[[Provider], Awaitable]) -> GatewayError:
    try:
        with pytest.raises(GatewayError) as raised:
            await call(provider)
    finally:
        await provider.close()
    return raised.value


@pytest.mark.parametrize("status", TABLE)
@pytest.mark.parametrize("kind", KIND_CALLS)
async def test_one_table_turns_each_status_into_the_same_error_for_every_kind(answer, kind, status):
    app, server = answer
    app.status = status
    read_code, write_code, write_outcome = TABLE[status]
    _, _, read, write = KIND_CALLS[kind]

    app.requests = 0
    error = await failure_of(adapter(kind, server), read)
    assert (error.code, error.extensions.get("outcome")) == (read_code, None)
    assert error.extensions["provider"] == kind
    assert app.requests == 1

    app.requests = 0
    error = await failure_of(adapter(kind, server), write)
    assert (error.code, error.extensions.get("outcome")) == (write_code, write_outcome)
    assert app.requests == 1  # a write is never retried
    if status in (401, 403):
        assert "refused the configured credentials" in error.message
    if write_code == "VALIDATION_FAILED" and kind != "datapacket":
        assert REASON in error.message  # the provider's own reason, from its error body


@pytest.mark.parametrize("concurrency", [24, 40])
async def test_the_pool_keeps_a_connection_per_call_in_flight(concurrency):
    """A burst as large as ``max_concurrency`` reuses the connections of the burst before."""
    app = FixedAnswer(status=200, pause=0.2)
    with serving(app) as server:
        policy = ResiliencePolicy(max_concurrency=concurrency, rate_per_second=10_000)
        config = ProviderConfig("p", "packet", server.url, "P", {}, resilience=policy)
        client = UpstreamClient(config, guard=UpstreamGuard(policy))
        try:

            async def burst() -> None:
                await asyncio.gather(
                    *(
                        client.send("GET", "/x", write=False, resource=None)
                        for _ in range(concurrency)
                    )
                )

            await burst()
            opened = len(app.ports)
            await burst()
        finally:
            await client.close()
    # A pool of 32 connections keeping 16 alive opened new ones for most of the second burst.
    assert opened > 16
    assert len(app.ports) == opened


class DroppingUpstream:
    """A TCP server that reads each request head, counts it and closes without answering."""

    def __init__(self) -> None:
        self.requests = 0
        self.url = ""
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> DroppingUpstream:
        self._server = await asyncio.start_server(self._drop, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"
        return self

    async def __aexit__(self, *_exc: object) -> None:
        self._server.close()
        await self._server.wait_closed()

    async def _drop(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while await reader.readuntil(b"\r\n\r\n"):
            self.requests += 1
            writer.close()
            return


@pytest.mark.parametrize("method", ["PUT", "DELETE", "POST"])
async def test_a_write_whose_connection_drops_is_sent_once_with_its_outcome_unknown(method):
    """HTTP clients may resend an idempotent request (PUT, DELETE) on a dropped connection;
    the upstream may have applied the first, so a write is sent once and says so."""
    async with DroppingUpstream() as upstream:
        config = ProviderConfig("p", "packet", upstream.url, "P", {})
        client = UpstreamClient(config, guard=UpstreamGuard(ResiliencePolicy()))
        try:
            with pytest.raises(GatewayError) as raised:
                await client.send(method, "/servers/1/power", write=True, content=b"{}")
        finally:
            await client.close()
    assert upstream.requests == 1
    assert raised.value.code == "PROVIDER_UNAVAILABLE"
    assert raised.value.details["outcome"] == "unknown"


async def test_a_refused_connection_is_a_write_that_was_not_sent():
    async with DroppingUpstream() as upstream:
        url = upstream.url  # closed on leaving: nothing listens there any more
    config = ProviderConfig("p", "packet", url, "P", {})
    client = UpstreamClient(config, guard=UpstreamGuard(ResiliencePolicy()))
    try:
        with pytest.raises(GatewayError) as raised:
            await client.send("PUT", "/servers/1/power", write=True, content=b"{}")
    finally:
        await client.close()
    assert raised.value.code == "PROVIDER_UNAVAILABLE"
    assert raised.value.details.get("outcome") is None
    assert "could not connect" in raised.value.message


async def test_a_cached_body_is_held_decoded_only_and_served_to_every_reader():
    """A cached list would otherwise be held twice, as bytes and as objects."""
    app = FixedAnswer(status=200)
    with serving(app) as server:
        config = ProviderConfig("p", "packet", server.url, "P", {}, cache_ttls={"servers": 60.0})
        client = UpstreamClient(config, guard=UpstreamGuard(ResiliencePolicy(retries=0)))
        try:
            first = await client.call("GET", "/list")
            again = await client.call("GET", "/list")
            response = await client.send("GET", "/list", write=False)
        finally:
            await client.close()
    assert first == ERROR_BODY and again is first
    assert app.requests == 1
    assert response.content == b""  # the raw bytes went once decoded
    assert b"".join(response.stream) == b""  # and no copy is left in its stream
    with pytest.raises(RuntimeError):
        client.decode_json(response, compact=len)  # another reading of it: refused


@pytest.mark.parametrize(
    "base_url", ["http://up.example:8080", "https://up.example/v0/", "http://up.example/api"]
)
@pytest.mark.parametrize(
    ("url", "options"),
    [
        ("/servers", {}),
        ("servers/1/actions", {"json": {"type": "power_on"}}),
        ("/samplesets/7", {"params": {"page": 2, "start": "2026-11-30T00:00:00Z"}}),
        ("https://other.example/next?page=3", {}),  # an absolute `next` link
        ("https://other.example/next?page=3", {"params": {"per_page": 50}}),  # replaced
        ("/devices", {"params": {"include": ["plan", "facility"], "state": None}}),
        ("/x", {"headers": {"Cookie": "ses6=s", "x-xsrf-token": "s"}, "content": b"{}"}),
    ],
)
def test_requests_are_built_as_httpx_builds_them(base_url, url, options):
    config = ProviderConfig("p", "packet", base_url, "P", {})
    client = UpstreamClient(
        config, guard=UpstreamGuard(ResiliencePolicy()), headers={"X-Auth-Token": "t"}
    )
    httpx_client = httpx.AsyncClient(
        base_url=base_url,
        headers={"X-Auth-Token": "t"},
        timeout=httpx.Timeout(config.read_timeout, connect=config.connect_timeout),
    )
    ours = client.build_request("POST", url, **options)
    theirs = httpx_client.build_request("POST", url, **options)
    assert str(ours.url) == str(theirs.url)
    assert ours.headers.multi_items() == theirs.headers.multi_items()
    assert ours.content == theirs.content
    assert ours.extensions == theirs.extensions


def test_a_url_built_again_is_not_parsed_again():
    config = ProviderConfig("p", "dashserv", "http://up.example/v1", "D", {})
    client = UpstreamClient(config, guard=UpstreamGuard(ResiliencePolicy()), headers={})
    parsed_url.cache_clear()
    first = client.build_request("GET", "/dedicated-servers/7/status", params={"a": [1, 2]})
    again = client.build_request("GET", "/dedicated-servers/7/status", params={"a": [1, 2]})
    other = client.build_request("GET", "/dedicated-servers/8/status")
    info = parsed_url.cache_info()
    assert (info.hits, info.misses) == (1, 2)
    assert (
        str(first.url)
        == str(again.url)
        == "http://up.example/v1/dedicated-servers/7/status?a=1&a=2"
    )
    assert str(other.url) == "http://up.example/v1/dedicated-servers/8/status"
