"""``serverStatusChanged`` over graphql-transport-ws: a real uvicorn gateway, a real emulator.

The client is the ``websockets`` library speaking the protocol (graphql-ws's PROTOCOL.md):
``connection_init`` with the token, ``subscribe``, then ``next`` messages. Polls and upstream
calls are counted (the poller's own count, the emulator's request log), never timed.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
import websockets

from emulators.datapacket import app as datapacket_emulator
from emulators.kit.server import EmulatorServer
from gateway.app import create_app
from gateway.cli import connection_options
from gateway.settings import settings_from_dict
from providers.base import ServerFilter
from providers.selection import Selection
from resolvers.live import MAX_PENDING, Watch
from tests.conftest import FULL, READ, TOKENS, datapacket_config
from tests.servers import stop_all

PROTOCOL = "graphql-transport-ws"
STATUS = """subscription Watch($input: ServerStatusChangedInput) {
  serverStatusChanged(input: $input) { name powerStatus statusV2 provider { id } }
}"""
#: Seconds any wait for a message may take before the test fails (not a timing assertion).
WAIT = 10.0


class Served:
    """A gateway under uvicorn over its own DataPacket emulator."""

    def __init__(self, gateway: EmulatorServer, upstream: EmulatorServer) -> None:
        self.gateway, self.upstream = gateway, upstream
        self.ws_url = gateway.url.replace("http://", "ws://") + "/graphql"

    @property
    def feed(self):
        return self.gateway.app.state.gateway.status_feed

    def polls(self) -> int:
        """Polls of the DataPacket provider's poller so far (0 before it exists)."""
        poller = self.feed.pollers.get("dp")
        return poller.polls if poller is not None else 0

    async def mutate(self, document: str) -> dict:
        headers = {"Authorization": f"Bearer {FULL}"}
        async with httpx.AsyncClient(base_url=self.gateway.url, headers=headers) as client:
            response = await client.post("/graphql", json={"query": document})
        return response.json()


@pytest.fixture
def served() -> Iterator[Callable[..., Served]]:
    """A factory of gateways (``subscriptions``: that table) over fresh emulators."""
    started: list[EmulatorServer] = []

    def make(**subscriptions: Any) -> Served:
        upstream = EmulatorServer(
            datapacket_emulator.create_app(size=10, seed=1, power_delay=0.05)
        ).start()
        settings = settings_from_dict(
            {
                "providers": [datapacket_config(upstream)],
                "tokens": TOKENS,
                "cache": {"enabled": False},
                "subscriptions": {"poll_seconds": 0.05, **subscriptions},
            },
            source="<test>",
        )
        app = create_app(settings)
        gateway = EmulatorServer(app, **connection_options(settings)).start()
        started.extend([gateway, upstream])
        return Served(gateway, upstream)

    yield make
    stop_all(started)


@asynccontextmanager
async def connected(served: Served, token: str = READ) -> AsyncIterator[Any]:
    """An acknowledged graphql-transport-ws connection authenticated with ``token``."""
    async with websockets.connect(served.ws_url, subprotocols=[PROTOCOL]) as socket:
        await send(
            socket, {"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}
        )
        assert (await receive(socket))["type"] == "connection_ack"
        yield socket


async def send(socket: Any, message: dict) -> None:
    await socket.send(json.dumps(message))


async def receive(socket: Any) -> dict:
    return json.loads(await asyncio.wait_for(socket.recv(), WAIT))


async def subscribe(socket: Any, id: str, variables: dict | None = None, query: str = STATUS):
    payload = {"query": query, "variables": variables or {}}
    await send(socket, {"id": id, "type": "subscribe", "payload": payload})


async def until(condition: Callable[[], bool]) -> None:
    """Wait (at most ``WAIT`` seconds) until ``condition()`` holds."""
    async with asyncio.timeout(WAIT):
        while not condition():
            await asyncio.sleep(0.01)


POWER_OFF = (
    'mutation { performServerPowerAction(input: {server: {name: "%s"}, action: OFF})'
    " { server { name } } }"
)


async def test_a_power_action_reaches_the_subscriber_as_the_changed_server(served):
    gateway = served()
    async with connected(gateway) as socket:
        await subscribe(socket, "1", {"input": {"names": ["DP-12345"]}})
        await until(lambda: gateway.polls() >= 1)
        body = await gateway.mutate(POWER_OFF % "DP-12345")
        assert "errors" not in body, body
        message = await receive(socket)
    assert message["type"] == "next" and message["id"] == "1"
    server = message["payload"]["data"]["serverStatusChanged"]
    assert server == {
        "name": "DP-12345",
        "powerStatus": "OFF",
        "statusV2": server["statusV2"],
        "provider": {"id": "dp"},
    }


async def test_two_subscribers_share_one_poller_and_the_last_to_leave_stops_it(served):
    gateway = served()
    log = gateway.upstream.app.state.emulator.request_log
    async with connected(gateway) as first, connected(gateway) as second:
        await subscribe(first, "a")
        await subscribe(second, "b", {"input": {"filter": {"powerStatus_in": ["OFF"]}}})
        await until(
            lambda: "dp" in gateway.feed.pollers and len(gateway.feed.pollers["dp"].watches) == 2
        )
        poller = gateway.feed.pollers["dp"]
        log.clear()
        start = poller.polls
        await until(lambda: poller.polls >= start + 3)
        polls, lists = poller.polls - start, log.count(operation="servers")
        # One list call per poll whatever the number of subscribers (one in flight at most).
        assert len(gateway.feed.pollers) == 1
        assert polls <= lists <= polls + 1
        await gateway.mutate(POWER_OFF % "DP-18271")
        for socket, id in ((first, "a"), (second, "b")):
            message = await receive(socket)
            assert message["id"] == id
            assert message["payload"]["data"]["serverStatusChanged"]["name"] == "DP-18271"
        await send(first, {"id": "a", "type": "complete"})
        await until(lambda: len(poller.watches) == 1)
        assert poller.running
    await until(lambda: not poller.running)
    assert not poller.watches


async def test_a_filter_keeps_changes_that_do_not_match_away(served):
    gateway = served()
    async with connected(gateway) as socket:
        await subscribe(socket, "on", {"input": {"filter": {"powerStatus_in": ["ON"]}}})
        await subscribe(socket, "named", {"input": {"names": ["DP-68915"]}})
        await until(lambda: gateway.polls() >= 1)
        await gateway.mutate(POWER_OFF % "DP-68915")
        message = await receive(socket)
    # The server is now OFF: the ON filter does not see it, the name does.
    assert message["id"] == "named"


async def test_an_unknown_token_closes_the_connection_with_4403(served):
    gateway = served()
    async with websockets.connect(gateway.ws_url, subprotocols=[PROTOCOL]) as socket:
        await send(socket, {"type": "connection_init", "payload": {"Authorization": "Bearer nope"}})
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await receive(socket)
    assert closed.value.rcvd.code == 4403


async def test_the_inbound_limits_apply_to_the_subscription_document(served):
    gateway = served()
    deep = "subscription { serverStatusChanged { " + "network { " * 30 + "}" * 31
    async with connected(gateway) as socket:
        await subscribe(socket, "deep", query=deep)
        message = await receive(socket)
    assert message["type"] == "error" and message["id"] == "deep"
    assert message["payload"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"


async def test_a_token_holds_at_most_max_per_token_subscriptions(served):
    gateway = served(max_per_token=1)
    async with connected(gateway) as first, connected(gateway) as second:
        await subscribe(first, "1")
        await until(lambda: "dp" in gateway.feed.pollers)
        await subscribe(second, "2")
        message = await receive(second)
    assert message["type"] == "error"
    assert message["payload"][0]["extensions"]["code"] == "BAD_REQUEST"
    assert "max_per_token" in message["payload"][0]["message"]


async def test_queries_are_refused_over_websocket_and_subscriptions_over_http(served):
    gateway = served()
    async with connected(gateway) as socket:
        await subscribe(socket, "q", query="{ servers { entries { name } } }")
        message = await receive(socket)
    assert message["payload"][0]["extensions"]["code"] == "BAD_REQUEST"
    body = await gateway.mutate(STATUS)
    assert body["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


async def test_a_power_action_sent_through_the_gateway_makes_its_provider_polled_fast(served):
    # The regular cadence (an hour) would never poll again within the test's wait.
    gateway = served(poll_seconds=3600, action_poll_seconds=0.05)
    async with connected(gateway) as socket:
        await subscribe(socket, "1", {"input": {"names": ["DP-12345"]}})
        await until(lambda: gateway.polls() >= 1)
        poller = gateway.feed.pollers["dp"]
        await gateway.mutate(POWER_OFF % "DP-12345")
        message = await receive(socket)
        assert message["payload"]["data"]["serverStatusChanged"]["powerStatus"] == "OFF"
        # The change seen, the poller is back on the regular cadence.
        assert poller.actions == {}


async def test_an_invalid_subscription_gets_a_documented_error_code(served):
    gateway = served()
    async with connected(gateway) as socket:
        await subscribe(socket, "bad", query="subscription { serverStatusChanged { nope } }")
        message = await receive(socket)
    assert message["type"] == "error" and message["id"] == "bad"
    assert message["payload"][0]["extensions"] == {"code": "GRAPHQL_VALIDATION_FAILED"}


async def test_a_subscriber_that_does_not_read_holds_a_bounded_queue_newest_last():
    watch = Watch(names=None, filter=ServerFilter(), selection=Selection.of({"name": {}}))
    for number in range(3 * MAX_PENDING):
        watch.offer({"name": f"DP-{number}"})
    assert watch.changes.qsize() == MAX_PENDING
    pending = [watch.changes.get_nowait()["name"] for _ in range(MAX_PENDING)]
    assert pending[-1] == f"DP-{3 * MAX_PENDING - 1}"
    assert pending[0] == f"DP-{2 * MAX_PENDING}"  # the oldest went first
