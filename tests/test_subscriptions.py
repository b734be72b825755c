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
from gql import Client, GraphQLRequest
from gql.transport.websockets import WebsocketsTransport

from emulators.datapacket import app as datapacket_emulator
from emulators.kit.server import EmulatorServer
from gateway.app import create_app
from gateway.cli import connection_options
from gateway.settings import settings_from_dict
from providers.base import ServerFilter
from providers.selection import Selection
from resolvers.live import ACTION_POLLS, MAX_PENDING, Watch
from tests.conftest import FULL, READ, TOKENS, datapacket_config
from tests.servers import stop_all

PROTOCOL = "graphql-transport-ws"
STATUS = """subscription Watch($input: ServerStatusChangedInput) {
  serverStatusChanged(input: $input) { name powerStatus statusV2 provider { id } }
}"""
#: Seconds any wait for a message may take before the test fails (not a timing assertion).
WAIT = 10.0


class Served:
    """A gateway under uvicorn over its own DataPacket emulators (``dp``, maybe ``dp2``)."""

    def __init__(
        self, gateway: EmulatorServer, upstream: EmulatorServer, second: EmulatorServer | None
    ) -> None:
        self.gateway, self.upstream, self.second = gateway, upstream, second
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


#: A token that sees only the second account, ``dp2``.
SECOND_ONLY = "test-second-account-only"


@pytest.fixture
def served() -> Iterator[Callable[..., Served]]:
    """A factory of gateways over fresh emulators.

    ``second``: a second DataPacket account ``dp2`` (other servers); ``power_delay``: seconds
    before the emulator's power status follows an action; ``settings``: more tables;
    ``subscriptions``: the ``[subscriptions]`` table.
    """
    started: list[EmulatorServer] = []

    def make(
        *,
        second: bool = False,
        power_delay: float = 0.05,
        settings: dict[str, Any] | None = None,
        **subscriptions: Any,
    ) -> Served:
        upstream = EmulatorServer(
            datapacket_emulator.create_app(size=10, seed=1, power_delay=power_delay)
        ).start()
        started.append(upstream)
        providers = [datapacket_config(upstream)]
        tokens = list(TOKENS)
        other = None
        if second:
            other = EmulatorServer(
                datapacket_emulator.create_app(size=5, seed=2, examples=False)
            ).start()
            started.append(other)
            providers.append({**datapacket_config(other), "id": "dp2"})
            tokens.append(
                {"name": "second", "scope": "read-only", "token": SECOND_ONLY, "providers": ["dp2"]}
            )
        config = {
            "providers": providers,
            "tokens": tokens,
            "cache": {"enabled": False},
            "subscriptions": {"poll_seconds": 0.05, **subscriptions},
            **(settings or {}),
        }
        gateway_settings = settings_from_dict(config, source="<test>")
        app = create_app(gateway_settings)
        gateway = EmulatorServer(app, **connection_options(gateway_settings)).start()
        started.append(gateway)
        return Served(gateway, upstream, other)

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
        # (The emulator logs a call before the poll that made it counts it, hence the +-1.)
        assert polls - 1 <= lists <= polls + 1
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
    assert message["payload"][0]["message"].startswith(
        'Cannot query field "nope" on type "Server".'
    )


async def test_a_subscriber_that_does_not_read_holds_a_bounded_queue_newest_last():
    watch = Watch(names=None, filter=ServerFilter(), selection=Selection.of({"name": {}}))
    for number in range(3 * MAX_PENDING):
        watch.offer({"name": f"DP-{number}"})
    assert watch.changes.qsize() == MAX_PENDING
    pending = [watch.changes.get_nowait()["name"] for _ in range(MAX_PENDING)]
    assert pending[-1] == f"DP-{3 * MAX_PENDING - 1}"
    assert pending[0] == f"DP-{2 * MAX_PENDING}"  # the oldest went first


async def names_of_second_account(served: Served) -> list[str]:
    headers = {"Authorization": f"Bearer {SECOND_ONLY}"}
    async with httpx.AsyncClient(base_url=served.gateway.url, headers=headers) as client:
        response = await client.post("/graphql", json={"query": "{ servers { entries { name } } }"})
    return [entry["name"] for entry in response.json()["data"]["servers"]["entries"]]


async def test_a_scoped_token_never_sees_a_foreign_providers_server(served):
    gateway = served(second=True)
    second_names = await names_of_second_account(gateway)
    async with connected(gateway, token=SECOND_ONLY) as socket:
        await subscribe(socket, "1")
        await until(lambda: "dp2" in gateway.feed.pollers and gateway.feed.pollers["dp2"].polls)
        # Only the token's own provider is polled for it.
        assert "dp" not in gateway.feed.pollers
        await gateway.mutate(POWER_OFF % "DP-12345")  # an account the token cannot see
        await gateway.mutate(POWER_OFF % second_names[0])
        message = await receive(socket)
    changed = message["payload"]["data"]["serverStatusChanged"]
    assert changed["name"] == second_names[0]
    assert changed["provider"] == {"id": "dp2"}


async def test_a_provider_going_down_is_one_error_event_naming_it_and_the_others_go_on(served):
    gateway = served(second=True)
    async with connected(gateway) as socket:
        await subscribe(socket, "1")
        await until(lambda: gateway.polls() >= 1 and gateway.feed.pollers["dp2"].polls >= 1)
        gateway.second.app.state.emulator.faults.update({"error_rate": 1.0})
        failed = await receive(socket)
        dp2 = gateway.feed.pollers["dp2"]
        polls = dp2.polls
        await gateway.mutate(POWER_OFF % "DP-12345")
        changed = await receive(socket)
        # Still down: no second error event for the same outage.
        assert dp2.polls == polls and dp2.running
    assert failed["type"] == "next" and failed["payload"]["data"] is None
    (error,) = failed["payload"]["errors"]
    assert error["extensions"]["code"] == "PROVIDER_UNAVAILABLE"
    assert error["extensions"]["provider"] == "dp2"
    assert "dp2" in error["message"]
    assert changed["payload"]["data"]["serverStatusChanged"]["name"] == "DP-12345"


async def test_a_poll_that_outlives_the_deadline_is_an_error_event(served):
    # The upstream hangs; the gateway's deadline (0.5 s) ends each poll, far before the
    # provider's own timeout would.
    gateway = served(settings={"server": {"request_deadline": 0.5}})
    async with connected(gateway) as socket:
        await subscribe(socket, "1")
        await until(lambda: gateway.polls() >= 1)
        gateway.upstream.app.state.emulator.faults.update({"hang": True})
        failed = await receive(socket)
    (error,) = failed["payload"]["errors"]
    assert error["extensions"] == {"code": "PROVIDER_UNAVAILABLE", "provider": "dp"}


PROGRESS = """subscription Follow($name: String!) {
  powerActionProgress(input: {server: {name: $name}}) { name powerStatus }
}"""


async def test_power_action_progress_follows_one_action_to_its_end(served):
    # The emulator turns the server off 0.5 s after the action: before it, it is still on.
    gateway = served(power_delay=0.5, action_poll_seconds=0.02)
    async with connected(gateway) as socket:
        await gateway.mutate(POWER_OFF % "DP-12345")
        await subscribe(socket, "1", {"name": "DP-12345"}, query=PROGRESS)
        events = []
        while (message := await receive(socket))["type"] == "next":
            events.append(message["payload"]["data"]["powerActionProgress"]["powerStatus"])
    assert message == {"id": "1", "type": "complete"}
    assert events == ["ON", "OFF"]


async def test_power_action_progress_ends_after_the_fast_polls_if_nothing_changes(served):
    gateway = served(power_delay=3600, action_poll_seconds=0.01)
    async with connected(gateway) as socket:
        await gateway.mutate(POWER_OFF % "DP-12345")
        await subscribe(socket, "1", {"name": "DP-12345"}, query=PROGRESS)
        first, last = await receive(socket), await receive(socket)
    assert first["payload"]["data"]["powerActionProgress"]["powerStatus"] == "ON"
    assert last == {"id": "1", "type": "complete"}
    assert gateway.polls() >= ACTION_POLLS - 1


@pytest.mark.parametrize("server", [{"name": "DP-00000"}, {"alias": "no such alias"}])
async def test_power_action_progress_of_no_server_is_not_found(served, server):
    gateway = served()
    query = "subscription F($s: ServerInput!) { powerActionProgress(input: {server: $s}) { name } }"
    async with connected(gateway) as socket:
        await subscribe(socket, "1", {"s": server}, query=query)
        failed, last = await receive(socket), await receive(socket)
    assert failed["payload"]["data"] is None
    assert [e["extensions"]["code"] for e in failed["payload"]["errors"]] == ["NOT_FOUND"]
    assert last == {"id": "1", "type": "complete"}


async def test_power_action_progress_without_an_action_sends_the_server_once(served):
    gateway = served()
    async with connected(gateway) as socket:
        await subscribe(socket, "1", {"name": "DP-12345"}, query=PROGRESS)
        first, second = await receive(socket), await receive(socket)
    assert first["payload"]["data"]["powerActionProgress"] == {
        "name": "DP-12345",
        "powerStatus": "ON",
    }
    assert second == {"id": "1", "type": "complete"}
    assert "dp" not in gateway.feed.pollers  # nothing to follow: nothing polled


async def test_the_gql_client_receives_a_change_over_its_websockets_transport(served):
    gateway = served()
    transport = WebsocketsTransport(
        url=gateway.ws_url,
        init_payload={"Authorization": f"Bearer {READ}"},
        subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL],
    )
    async with Client(transport=transport) as session:
        request = GraphQLRequest(STATUS, variable_values={"input": {"names": ["DP-12345"]}})
        changes = session.subscribe(request)
        first = asyncio.ensure_future(anext(changes))  # the generator subscribes when read
        await until(lambda: gateway.polls() >= 1)
        await gateway.mutate(POWER_OFF % "DP-12345")
        changed = await asyncio.wait_for(first, WAIT)
        await changes.aclose()
    assert changed["serverStatusChanged"]["powerStatus"] == "OFF"


def start_replicas(redis_url: str, *poll_seconds: float) -> tuple[list[EmulatorServer], list]:
    """One DataPacket emulator and a gateway per ``poll_seconds``, all sharing one Redis."""
    upstream = EmulatorServer(
        datapacket_emulator.create_app(size=10, seed=1, power_delay=0.05)
    ).start()
    started = [upstream]
    pair = []
    for seconds in poll_seconds:
        settings = settings_from_dict(
            {
                "providers": [datapacket_config(upstream)],
                "tokens": TOKENS,
                "cache": {"enabled": False},
                "subscriptions": {"poll_seconds": seconds},
                "cluster": {"redis_url": redis_url},
            },
            source="<test>",
        )
        gateway = EmulatorServer(create_app(settings), **connection_options(settings)).start()
        started.append(gateway)
        pair.append(Served(gateway, upstream, None))
    return started, pair


@pytest.fixture
def replicas(redis_server) -> Iterator[tuple[Served, Served]]:
    """Two gateways sharing one Redis over one DataPacket emulator."""
    started, (first, second) = start_replicas(redis_server.url, 0.05, 0.05)
    yield first, second
    stop_all(started)


async def test_replicas_share_one_poller_per_account_and_every_subscriber_sees_a_change(
    replicas, redis_server
):
    first, second = replicas
    log = first.upstream.app.state.emulator.request_log
    async with connected(first) as one, connected(second) as other:
        await subscribe(one, "a", {"input": {"names": ["DP-12345"]}})
        await subscribe(other, "b", {"input": {"names": ["DP-12345"]}})
        await until(lambda: first.polls() + second.polls() >= 3)
        log.clear()
        start = first.polls() + second.polls()
        await until(lambda: first.polls() + second.polls() >= start + 3)
        polls = first.polls() + second.polls() - start
        lists = log.count(operation="servers")
        # One replica polls (holds the lease); the other only listens.
        assert (first.polls() == 0) != (second.polls() == 0)
        assert polls - 1 <= lists <= polls + 1
        # The action goes through the replica that does not poll: the lead hears of it.
        follower = first if first.polls() == 0 else second
        await follower.mutate(POWER_OFF % "DP-12345")
        for socket in (one, other):
            message = await receive(socket)
            assert message["payload"]["data"]["serverStatusChanged"]["powerStatus"] == "OFF"


async def test_with_redis_gone_each_replica_polls_alone_and_subscribers_still_see_changes(
    replicas, redis_server
):
    first, second = replicas
    async with connected(first) as one, connected(second) as other:
        await subscribe(one, "a", {"input": {"names": ["DP-12345"]}})
        await subscribe(other, "b", {"input": {"names": ["DP-12345"]}})
        await until(lambda: first.polls() + second.polls() >= 2)
        redis_server.stop()
        await until(lambda: first.polls() >= 2 and second.polls() >= 2)
        await first.mutate(POWER_OFF % "DP-12345")
        for socket in (one, other):
            message = await receive(socket)
            assert message["payload"]["data"]["serverStatusChanged"]["powerStatus"] == "OFF"


async def test_when_the_polling_replicas_last_subscriber_leaves_the_other_takes_over(replicas):
    first, second = replicas
    async with connected(first) as one, connected(second) as other:
        await subscribe(one, "a", {"input": {"names": ["DP-12345"]}})
        await until(lambda: first.polls() >= 1)  # the first replica holds the lease
        await subscribe(other, "b", {"input": {"names": ["DP-12345"]}})
        await until(lambda: "dp" in second.feed.pollers and second.feed.pollers["dp"].running)
        await until(lambda: first.polls() >= 3)
        assert second.polls() == 0
        await send(one, {"id": "a", "type": "complete"})
        await until(lambda: not first.feed.pollers["dp"].running)
        await until(lambda: second.polls() >= 1)  # the lease was released, not left to expire
        await first.mutate(POWER_OFF % "DP-12345")
        message = await receive(other)
    assert message["payload"]["data"]["serverStatusChanged"]["powerStatus"] == "OFF"


async def test_power_action_progress_on_mammoth_ends_when_the_action_completes():
    from emulators.mammoth import app as mammoth_emulator
    from gateway.demo import DEMO_BACKENDS

    credentials = next(b for b in DEMO_BACKENDS if b.kind == "mammoth").credentials
    # The emulator stamps actions to the second: 1.5 s is at least half a second after it.
    upstream = EmulatorServer(mammoth_emulator.create_app(size=4, seed=1, action_delay=1.5))
    upstream.start()
    settings = settings_from_dict(
        {
            "providers": [
                {"id": "mc", "kind": "mammoth", "base_url": f"{upstream.url}/v2", **credentials}
            ],
            "tokens": TOKENS,
            "cache": {"enabled": False},
            "subscriptions": {"poll_seconds": 3600, "action_poll_seconds": 0.1},
        },
        source="<test>",
    )
    gateway = EmulatorServer(create_app(settings), **connection_options(settings)).start()
    served = Served(gateway, upstream, None)
    query = """subscription Follow($name: String!) {
      powerActionProgress(input: {server: {name: $name}}) { powerStatus powerAction { status } }
    }"""
    try:
        listed = await served.mutate(
            "{ servers(input: {filter: {powerStatus_in: [ON]}}) { entries { name } } }"
        )
        name = listed["data"]["servers"]["entries"][0]["name"]
        async with connected(served) as socket:
            await served.mutate(POWER_OFF % name)
            await subscribe(socket, "1", {"name": name}, query=query)
            events = []
            while (message := await receive(socket))["type"] == "next":
                events.append(message["payload"]["data"]["powerActionProgress"])
    finally:
        stop_all([gateway, upstream])
    assert message == {"id": "1", "type": "complete"}
    assert events[0]["powerAction"] == {"status": "in-progress"}
    assert events[-1] == {"powerStatus": "OFF", "powerAction": {"status": "completed"}}


async def test_a_change_while_the_lease_changes_hands_reaches_the_subscribers(redis_server):
    # The first replica polls once and then not for an hour; the second tries the lease every
    # 0.2 s. The change lands between the first's only poll and the second's first.
    started, (first, second) = start_replicas(redis_server.url, 3600, 0.2)
    try:
        async with connected(first) as one, connected(second) as other:
            await subscribe(one, "a", {"input": {"names": ["DP-12345"]}})
            await until(lambda: first.polls() >= 1)
            await subscribe(other, "b", {"input": {"names": ["DP-12345"]}})
            await until(lambda: "dp" in second.feed.pollers and second.feed.pollers["dp"].running)
            fleet = first.upstream.app.state.fleet
            (server,) = [s for s in fleet.servers if s["name"] == "DP-12345"]
            server["powerStatus"] = "OFF"  # not through the gateway: nobody hurries
            await send(one, {"id": "a", "type": "complete"})
            message = await receive(other)
            assert second.polls() >= 1 and first.polls() == 1
    finally:
        stop_all(started)
    assert message["payload"]["data"]["serverStatusChanged"]["powerStatus"] == "OFF"
