"""Budgets and state two replicas share through a real Redis (``[cluster]``): a provider's
outbound rate, a client token's request rate, an open circuit, Mammoth's power-action ids and
``Idempotency-Key`` records. Each also with Redis stopped: the replicas fall back to their
in-process behaviour, count it, and never answer a 5xx or wrong data.

"Two replicas" are two apps from the app factory, in process, over the same emulators and
the same Redis; the emulators' request logs count the upstream calls.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import redis

from emulators.datapacket import app as datapacket_emulator
from emulators.kit.server import EmulatorServer
from emulators.mammoth import app as mammoth_emulator
from gateway.app import create_app
from gateway.settings import settings_from_dict
from tests.conftest import FULL, TOKENS, datapacket_config, error_codes
from tests.redis_server import RedisServer
from tests.servers import InProcessGateway, serving, stop_all

AUTH = {"Authorization": f"Bearer {FULL}"}


@pytest.fixture
def datapacket() -> Iterator[EmulatorServer]:
    with serving(datapacket_emulator.create_app(size=40, seed=1)) as server:
        yield server


@pytest.fixture
def mammoth() -> Iterator[EmulatorServer]:
    with serving(mammoth_emulator.create_app(size=6, seed=1, action_delay=3600.0)) as server:
        yield server


class Replicas:
    """Two gateways over the same providers and the same Redis, and what they were sent."""

    def __init__(
        self, providers: list[dict[str, Any]], redis_url: str, **tables: dict[str, Any]
    ) -> None:
        settings = settings_from_dict(
            {
                "providers": providers,
                "tokens": TOKENS,
                "cluster": {"redis_url": redis_url},
                **tables,
            },
            source="<replicas test>",
        )
        self.a = InProcessGateway(create_app(settings)).start()
        self.b = InProcessGateway(create_app(settings)).start()

    def post(
        self, replica: InProcessGateway, query: str, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        with replica.client(timeout=30) as client:
            response = client.post(
                "/graphql", json={"query": query}, headers=AUTH | (headers or {})
            )
        assert response.status_code < 500, response.text
        return response

    def fallbacks(self, replica: InProcessGateway) -> dict[str, int]:
        return dict(replica.app.state.gateway.cluster.fallbacks)

    def stop(self) -> None:
        stop_all([self.a, self.b])


@pytest.fixture
def replicas() -> Iterator[list[Replicas]]:
    made: list[Replicas] = []
    yield made
    for pair in made:
        pair.stop()


def log_of(upstream: EmulatorServer):
    return upstream.app.state.emulator.request_log


def writes(upstream: EmulatorServer) -> int:
    """Mutations (DataPacket) or actions (Mammoth) the emulator received."""
    count = 0
    for entry in log_of(upstream).entries():
        body = entry.body if isinstance(entry.body, dict) else {}
        count += (
            "mutation" in str(body.get("query", ""))
            or entry.method == "POST"
            and ("/actions" in entry.path)
        )
    return count


def stop_redis(redis_server: RedisServer, *pairs: InProcessGateway) -> None:
    """Stop Redis and wait until each replica has noticed (its store degraded)."""
    redis_server.stop()
    for replica in pairs:
        store = replica.app.state.gateway.cluster
        with pytest.raises(Exception):  # noqa: B017 - StoreUnavailable, whatever the cause
            replica.run(store.attempt("probe", lambda redis: redis.ping()))
        assert store.degraded_reason is not None


# --- (3) a provider's outbound rate, one budget for both ---------------------------------------

RATE = 8


def lookups(names: list[str]) -> list[str]:
    return [f'{{ server(input: {{name: "{name}"}}) {{ name }} }}' for name in names]


async def send_all(pairs: list[tuple[InProcessGateway, str]]) -> list[httpx.Response]:
    """Every (replica, query) at once, each replica from its own async client."""
    clients = {id(replica): replica.async_client(timeout=60) for replica, _ in pairs}
    try:
        return await asyncio.gather(
            *(
                clients[id(replica)].post("/graphql", json={"query": query}, headers=AUTH)
                for replica, query in pairs
            )
        )
    finally:
        for client in clients.values():
            await client.aclose()


def most_in_one_second(stamps: list[float]) -> int:
    """The most calls that arrived within any one second (a window starting at each call)."""
    stamps = sorted(stamps)
    return max(sum(1 for s in stamps[i:] if s < start + 1.0) for i, start in enumerate(stamps))


def names_of(pair: Replicas, count: int) -> list[str]:
    listing = pair.post(pair.a, "{ servers(input: {pageSize: 50}) { entries { name } } }")
    return [entry["name"] for entry in listing.json()["data"]["servers"]["entries"]][:count]


def test_a_provider_rate_is_one_budget_for_both_replicas(redis_server, datapacket, replicas):
    table = datapacket_config(datapacket, rate_per_second=RATE)
    pair = Replicas([table], redis_server.url, cache={"enabled": False})
    replicas.append(pair)
    names = names_of(pair, 4 * RATE)
    log_of(datapacket).clear()
    work = [(pair.a if i % 2 else pair.b, q) for i, q in enumerate(lookups(names))]
    answers = asyncio.run(send_all(work))
    assert [a.json()["data"]["server"]["name"] for a in answers] == names
    stamps = [entry.at for entry in log_of(datapacket).entries()]
    assert len(stamps) == 4 * RATE  # well over one second's budget in total
    # Two budgets would let 2 x RATE through in the first second. The shared window admits
    # RATE per 1.1 s on Redis's clock; the emulator stamps arrivals, which a loaded machine
    # may delay unevenly by tens of milliseconds, bunching one or two more into a second.
    assert most_in_one_second(stamps) <= RATE + 2
    assert not pair.fallbacks(pair.a) and not pair.fallbacks(pair.b)


def test_with_redis_down_each_replica_keeps_its_own_provider_rate(
    redis_server, datapacket, replicas
):
    table = datapacket_config(datapacket, rate_per_second=RATE)
    pair = Replicas([table], redis_server.url, cache={"enabled": False})
    replicas.append(pair)
    names = names_of(pair, 2 * RATE)
    stop_redis(redis_server, pair.a, pair.b)
    log_of(datapacket).clear()
    work = [(pair.a if i % 2 else pair.b, q) for i, q in enumerate(lookups(names))]
    answers = asyncio.run(send_all(work))
    assert [a.json()["data"]["server"]["name"] for a in answers] == names
    # Each replica's own bucket (RATE at once): together they exceed one shared budget.
    assert most_in_one_second([e.at for e in log_of(datapacket).entries()]) > RATE
    assert pair.fallbacks(pair.a)["outbound_rate"] >= 1


# --- (4) a client token's per-minute limit, shared ---------------------------------------------

QUERY = "{ account { email } }"


def test_a_token_limit_per_minute_is_shared_by_both_replicas(redis_server, datapacket, replicas):
    pair = Replicas(
        [datapacket_config(datapacket)], redis_server.url, limits={"queries_per_minute": 5}
    )
    replicas.append(pair)
    answers = [pair.post(pair.a if i % 2 else pair.b, QUERY) for i in range(5)]
    assert all("errors" not in answer.json() for answer in answers)
    for replica in (pair.a, pair.b):
        refused = pair.post(replica, QUERY)
        assert refused.status_code == 429
        assert error_codes(refused.json()) == ["RATE_LIMITED"]
        assert int(refused.headers["retry-after"]) >= 1
    # The read-only token has a budget of its own.
    with pair.a.client() as client:
        other = client.post(
            "/graphql", json={"query": QUERY}, headers={"Authorization": "Bearer test-read-only"}
        )
    assert other.status_code == 200 and "errors" not in other.json()


def test_with_redis_down_each_replica_limits_the_token_itself(redis_server, datapacket, replicas):
    pair = Replicas(
        [datapacket_config(datapacket)], redis_server.url, limits={"queries_per_minute": 3}
    )
    replicas.append(pair)
    stop_redis(redis_server, pair.a, pair.b)
    for replica in (pair.a, pair.b):
        statuses = [pair.post(replica, QUERY).status_code for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
    assert pair.fallbacks(pair.a)["inbound_rate"] >= 4


def test_a_slow_redis_is_waited_for_once_then_the_limit_is_per_replica(
    redis_server, datapacket, replicas
):
    pair = Replicas(
        [datapacket_config(datapacket)], redis_server.url, limits={"queries_per_minute": 2}
    )
    replicas.append(pair)
    redis_server.pause()  # connections stay open; nothing is answered
    try:
        statuses = [pair.post(pair.a, QUERY).status_code for _ in range(3)]
    finally:
        redis_server.resume()
    assert statuses == [200, 200, 429]
    assert pair.fallbacks(pair.a)["inbound_rate"] == 3


# --- an open circuit, seen by both --------------------------------------------------------------


def test_a_circuit_opened_by_one_replica_is_open_on_the_other(redis_server, datapacket, replicas):
    table = datapacket_config(datapacket, breaker_failures=2, breaker_cooldown=30, retries=0)
    pair = Replicas([table], redis_server.url, cache={"enabled": False})
    replicas.append(pair)
    provider_b = pair.b.app.state.gateway.providers.by_id["dp"]
    datapacket.app.state.emulator.faults.update({"error_rate": 1.0, "error_status": 500})
    for _ in range(2):
        assert error_codes(pair.post(pair.a, QUERY).json()) == ["PROVIDER_UNAVAILABLE"]
    assert pair.a.app.state.gateway.providers.by_id["dp"].guard.state == "OPEN"
    shared = redis.Redis.from_url(redis_server.url)
    key = f"fleetql:circuit:{provider_b.account_digest}"
    wait_for(lambda: shared.pttl(key) > 0, "A's open circuit in Redis")
    # One call on B: it fails (one failure of the two that would open B's own circuit) and
    # reads A's "open until" in its background.
    assert error_codes(pair.post(pair.b, QUERY).json()) == ["PROVIDER_UNAVAILABLE"]
    wait_for(lambda: provider_b.guard.state == "OPEN", "B's circuit open")
    log_of(datapacket).clear()
    for _ in range(3):
        failed = pair.post(pair.b, QUERY).json()
        assert failed["errors"][0]["extensions"]["circuit"] == "OPEN"
    assert log_of(datapacket).count() == 0  # B fails fast: no upstream call


def test_with_redis_down_each_replica_counts_its_own_failures(redis_server, datapacket, replicas):
    table = datapacket_config(datapacket, breaker_failures=2, breaker_cooldown=30, retries=0)
    pair = Replicas([table], redis_server.url, cache={"enabled": False})
    replicas.append(pair)
    stop_redis(redis_server, pair.a, pair.b)
    datapacket.app.state.emulator.faults.update({"error_rate": 1.0, "error_status": 500})
    for _ in range(2):
        assert error_codes(pair.post(pair.a, QUERY).json()) == ["PROVIDER_UNAVAILABLE"]
    assert pair.a.app.state.gateway.providers.by_id["dp"].guard.state == "OPEN"
    log_of(datapacket).clear()
    assert error_codes(pair.post(pair.b, QUERY).json()) == ["PROVIDER_UNAVAILABLE"]
    assert log_of(datapacket).count() == 1  # B's own circuit, still closed, let it through
    assert pair.b.app.state.gateway.providers.by_id["dp"].guard.state == "CLOSED"


def wait_for(condition, what: str) -> None:
    """Poll ``condition`` (an observation, not a timing assumption) for up to 10 s."""
    deadline = time.monotonic() + 10
    while not condition():
        assert time.monotonic() < deadline, f"never: {what}"
        time.sleep(0.01)


# --- (5) a power action sent through A, its progress read through B ----------------------------

MAMMOTH = {"id": "mc", "kind": "mammoth", "token": "mammoth-emulator-token"}


def power_off(name: str) -> str:
    return (
        f'mutation {{ performServerPowerAction(input: {{server: {{name: "{name}"}}, '
        "action: OFF}) { server { name } } }"
    )


def progress(name: str) -> str:
    return f'{{ server(input: {{name: "{name}"}}) {{ powerAction {{ id type status }} }} }}'


def mammoth_server(pair: Replicas) -> str:
    listing = pair.post(
        pair.a, "{ servers(input: {filter: {powerStatus_in: [ON]}}) { entries { name } } }"
    )
    return listing.json()["data"]["servers"]["entries"][0]["name"]


def test_a_power_action_sent_through_a_is_known_to_b(redis_server, mammoth, replicas):
    table = {**MAMMOTH, "base_url": f"{mammoth.url}/v2"}
    pair = Replicas([table], redis_server.url)
    replicas.append(pair)
    name = mammoth_server(pair)
    assert pair.post(pair.b, progress(name)).json()["data"]["server"]["powerAction"] is None
    assert "errors" not in pair.post(pair.a, power_off(name)).json()
    seen = pair.post(pair.b, progress(name)).json()["data"]["server"]["powerAction"]
    assert (seen["type"], seen["status"]) == ("power_off", "in-progress")
    assert seen == pair.post(pair.a, progress(name)).json()["data"]["server"]["powerAction"]


def test_with_redis_down_a_power_action_is_known_to_its_replica_only(
    redis_server, mammoth, replicas
):
    table = {**MAMMOTH, "base_url": f"{mammoth.url}/v2"}
    pair = Replicas([table], redis_server.url)
    replicas.append(pair)
    name = mammoth_server(pair)
    stop_redis(redis_server, pair.a, pair.b)
    assert "errors" not in pair.post(pair.a, power_off(name)).json()
    on_a = pair.post(pair.a, progress(name)).json()["data"]["server"]["powerAction"]
    assert (on_a["type"], on_a["status"]) == ("power_off", "in-progress")
    assert pair.post(pair.b, progress(name)).json()["data"]["server"]["powerAction"] is None
    assert pair.fallbacks(pair.a)["power_action_write"] == 1


# --- (7) a mutation with an Idempotency-Key, sent to A and retried on B -------------------------

POWER = (
    'mutation { performServerPowerAction(input: {server: {name: "DP-12345"}, action: RESET}) '
    "{ server { name } } }"
)


def test_a_keyed_mutation_retried_on_the_other_replica_reaches_the_upstream_once(
    redis_server, datapacket, replicas
):
    pair = Replicas([datapacket_config(datapacket)], redis_server.url)
    replicas.append(pair)
    first = pair.post(pair.a, POWER, {"Idempotency-Key": "k-1"})
    assert first.json()["data"]["performServerPowerAction"] == {"server": {"name": "DP-12345"}}
    retried = pair.post(pair.b, POWER, {"Idempotency-Key": "k-1"})
    assert retried.content == first.content
    assert retried.headers["idempotent-replayed"] == "true"
    assert writes(datapacket) == 1
    other = pair.post(pair.b, POWER.replace("RESET", "ON"), {"Idempotency-Key": "k-1"})
    assert other.status_code == 422 and error_codes(other.json()) == ["VALIDATION_FAILED"]
    assert writes(datapacket) == 1


def test_a_duplicate_on_the_other_replica_waits_for_the_first_run(
    redis_server, datapacket, replicas
):
    pair = Replicas(
        [datapacket_config(datapacket)], redis_server.url, server={"request_deadline": 1}
    )
    replicas.append(pair)
    datapacket.app.state.emulator.faults.hang = True  # until A's 1 s deadline
    answers: list[httpx.Response] = []
    first = threading.Thread(
        target=lambda: answers.append(pair.post(pair.a, POWER, {"Idempotency-Key": "slow"}))
    )
    first.start()
    wait_for(lambda: writes(datapacket) == 1, "the first run reached the upstream")
    duplicate = pair.post(pair.b, POWER, {"Idempotency-Key": "slow"})
    first.join(timeout=30)
    assert duplicate.content == answers[0].content
    assert duplicate.json()["errors"][0]["extensions"]["outcome"] == "unknown"
    assert writes(datapacket) == 1


def test_with_redis_down_a_keyed_retry_is_answered_by_its_own_replica(
    redis_server, datapacket, replicas
):
    pair = Replicas([datapacket_config(datapacket)], redis_server.url)
    replicas.append(pair)
    stop_redis(redis_server, pair.a, pair.b)
    first = pair.post(pair.a, POWER, {"Idempotency-Key": "k-2"})
    assert "errors" not in first.json()
    again = pair.post(pair.a, POWER, {"Idempotency-Key": "k-2"})
    assert again.content == first.content and again.headers["idempotent-replayed"] == "true"
    assert writes(datapacket) == 1
    # Another replica has no record of it: in process, as without a cluster, it runs again.
    assert "errors" not in pair.post(pair.b, POWER, {"Idempotency-Key": "k-2"}).json()
    assert writes(datapacket) == 2
    assert pair.fallbacks(pair.a)["idempotency_claim"] == 1  # the retry found it here


def test_a_claim_whose_response_could_not_be_shared_is_never_run_twice(
    redis_server, datapacket, replicas
):
    table = datapacket_config(datapacket)
    pair = Replicas([table], redis_server.url, server={"request_deadline": 1})
    replicas.append(pair)
    datapacket.app.state.emulator.faults.hang = True  # until A's 1 s deadline
    answers: list[httpx.Response] = []
    first = threading.Thread(
        target=lambda: answers.append(pair.post(pair.a, POWER, {"Idempotency-Key": "lost"}))
    )
    first.start()
    wait_for(lambda: writes(datapacket) == 1, "the first run reached the upstream")
    # A claimed the key in Redis; Redis now refuses to store its response (a write that fails,
    # where a slow one would still land once Redis answers again).
    admin = redis.Redis.from_url(redis_server.url)
    admin.acl_setuser("default", reset=False, commands=["-set"])
    try:
        first.join(timeout=30)
    finally:
        admin.acl_setuser("default", reset=False, commands=["+set"])
    assert answers[0].json()["errors"][0]["extensions"]["outcome"] == "unknown"
    assert pair.fallbacks(pair.a)["idempotency_store"] == 1
    datapacket.app.state.emulator.faults.hang = False
    # A kept it: a retry there is answered. B sees the claim only, and refuses to run it.
    wait_for(lambda: pair.a.app.state.gateway.cluster.degraded_reason is None, "A restored")
    assert pair.post(pair.a, POWER, {"Idempotency-Key": "lost"}).content == answers[0].content
    refused = pair.post(pair.b, POWER, {"Idempotency-Key": "lost"})
    assert refused.status_code == 409
    assert error_codes(refused.json()) == ["IDEMPOTENCY_CONFLICT"]
    assert int(refused.headers["retry-after"]) >= 1
    assert writes(datapacket) == 1
