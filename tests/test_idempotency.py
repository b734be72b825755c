"""``Idempotency-Key`` on mutations: a retried mutation reaches the upstream once."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from emulators.datapacket import app as datapacket_emulator
from emulators.kit.server import EmulatorServer
from gateway.idempotency import LocalIdempotencyStore, StoredResponse
from tests.conftest import FULL, datapacket_config, error_codes, start_gateway
from tests.servers import InProcessGateway, serving

POWER = (
    "mutation Power($name: String!) { performServerPowerAction(input: "
    "{server: {name: $name}, action: RESET}) { server { name } } }"
)
NAME = {"name": "DP-12345"}
AUTH = {"Authorization": f"Bearer {FULL}"}


@pytest.fixture
def upstream() -> Iterator[EmulatorServer]:
    with serving(datapacket_emulator.create_app(size=40, seed=1)) as server:
        yield server


@pytest.fixture
def gateway(upstream: EmulatorServer) -> Iterator[InProcessGateway]:
    server = start_gateway([datapacket_config(upstream)], request_deadline=1.0)
    yield server
    server.stop()


def writes(upstream: EmulatorServer) -> int:
    """Mutations the DataPacket emulator received (faulted ones included)."""
    entries = upstream.app.state.emulator.request_log.entries()
    return sum(
        1
        for entry in entries
        if isinstance(entry.body, dict) and "mutation" in str(entry.body.get("query", ""))
    )


def send(
    gateway: InProcessGateway,
    key: str | None,
    query: str = POWER,
    variables: dict | None = None,
    **headers: str,
) -> httpx.Response:
    body = {"query": query, "variables": NAME if variables is None else variables}
    extra = {} if key is None else {"Idempotency-Key": key}
    with gateway.client(timeout=30) as client:
        return client.post("/graphql", json=body, headers={**AUTH, **extra, **headers})


def test_a_retry_with_the_same_key_answers_the_first_response_without_an_upstream_call(
    gateway, upstream
):
    first = send(gateway, "retry-1")
    assert first.status_code == 200
    assert first.json()["data"]["performServerPowerAction"] == {"server": {"name": "DP-12345"}}
    assert "idempotent-replayed" not in first.headers
    again = send(gateway, "retry-1")
    assert again.status_code == 200
    assert again.content == first.content
    assert again.headers["idempotent-replayed"] == "true"
    assert writes(upstream) == 1
    # Another key is another request; no key at all runs every time.
    send(gateway, "retry-2")
    send(gateway, None)
    send(gateway, None)
    assert writes(upstream) == 4


def test_the_same_key_with_another_request_is_refused(gateway, upstream):
    assert send(gateway, "k").status_code == 200
    other = send(gateway, "k", variables={"name": "DP-12346"})
    assert other.status_code == 422
    assert error_codes(other.json()) == ["VALIDATION_FAILED"]
    assert "different request" in other.json()["errors"][0]["message"]
    assert other.json()["errors"][0]["extensions"]["header"] == "Idempotency-Key"
    assert writes(upstream) == 1


def test_an_unknown_outcome_is_kept_as_such(gateway, upstream):
    upstream.app.state.emulator.faults.update({"error_rate": 1.0, "error_status": 502})
    first = send(gateway, "cut").json()
    assert first["errors"][0]["extensions"]["outcome"] == "unknown"
    upstream.app.state.emulator.faults.error_rate = 0.0
    again = send(gateway, "cut")
    assert again.json() == first  # not run again: it may have been applied
    assert writes(upstream) == 1


def test_a_duplicate_sent_while_the_first_runs_waits_for_its_response(gateway, upstream):
    upstream.app.state.emulator.faults.hang = True  # until the first's 1 s deadline
    answers: list[httpx.Response] = []
    first = threading.Thread(target=lambda: answers.append(send(gateway, "slow")))
    first.start()
    wait_until(lambda: writes(upstream) == 1)
    duplicate = send(gateway, "slow")
    first.join(timeout=30)
    assert duplicate.headers["idempotent-replayed"] == "true"
    assert duplicate.content == answers[0].content
    assert duplicate.json()["errors"][0]["extensions"]["outcome"] == "unknown"
    assert writes(upstream) == 1


def test_a_first_run_cancelled_midway_is_kept_as_an_unknown_outcome(gateway, upstream):
    upstream.app.state.emulator.faults.hang = True

    async def cancel_midway() -> None:
        async with gateway.async_client(timeout=30) as client:
            body = {"query": POWER, "variables": NAME}
            headers = {**AUTH, "Idempotency-Key": "dropped"}
            sending = asyncio.ensure_future(client.post("/graphql", json=body, headers=headers))
            while writes(upstream) == 0:
                await asyncio.sleep(0.01)
            sending.cancel()
            with pytest.raises(asyncio.CancelledError):
                await sending

    asyncio.run(cancel_midway())
    upstream.app.state.emulator.faults.hang = False
    again = send(gateway, "dropped").json()  # waits for the cancelled run to be noted
    assert error_codes(again) == ["PROVIDER_UNAVAILABLE"]
    assert again["errors"][0]["extensions"]["outcome"] == "unknown"
    assert "ended before its answer was known" in again["errors"][0]["message"]
    assert writes(upstream) == 1


@pytest.mark.parametrize("key", ["", "   ", "x" * 256, "tab\there"])
def test_a_malformed_key_on_a_mutation_is_a_bad_request(gateway, upstream, key):
    response = send(gateway, key)
    assert response.status_code == 400
    assert error_codes(response.json()) == ["BAD_REQUEST"]
    assert "Idempotency-Key" in response.json()["errors"][0]["message"]
    assert writes(upstream) == 0


def test_the_key_on_a_query_is_ignored(gateway, upstream):
    query = '{ server(input: {name: "DP-12345"}) { name } }'
    for key in ["", "q"]:
        response = send(gateway, key, query=query, variables={})
        assert response.status_code == 200
        assert response.json() == {"data": {"server": {"name": "DP-12345"}}}
        assert "idempotent-replayed" not in response.headers


def test_a_request_refused_before_running_does_not_use_up_its_key(gateway, upstream):
    refused = send(gateway, "typo", variables={"name": 12345})  # not a String
    assert error_codes(refused.json()) == ["GRAPHQL_VALIDATION_FAILED"]
    assert writes(upstream) == 0
    fixed = send(gateway, "typo")
    # Another body under the key, but the first one never ran: it is free again.
    assert fixed.status_code == 200
    assert "errors" not in fixed.json()
    assert writes(upstream) == 1


def test_a_mutation_refused_for_its_token_claims_nothing(upstream):
    server = start_gateway([datapacket_config(upstream)])
    try:
        with server.client() as client:
            headers = {"Authorization": "Bearer test-read-only", "Idempotency-Key": "ro"}
            body = {"query": POWER, "variables": NAME}
            refused = client.post("/graphql", json=body, headers=headers)
        assert error_codes(refused.json()) == ["NOT_AUTHORIZED"]
        assert writes(upstream) == 0
        assert len(server.app.state.gateway.idempotency) == 0
    finally:
        server.stop()


# --- the in-process store ---------------------------------------------------------------------


def test_the_local_store_waits_a_bounded_time_then_refuses_rather_than_run_again():
    async def scenario() -> None:
        store = LocalIdempotencyStore()
        assert await store.begin("scope", "request", wait=1) is None  # claimed, running
        with pytest.raises(Exception) as refused:
            await store.begin("scope", "request", wait=0.05)
        assert refused.value.extensions["code"] == "IDEMPOTENCY_CONFLICT"
        await store.finish("scope", "request", StoredResponse(200, b"{}"))
        assert await store.begin("scope", "request", wait=0.05) == StoredResponse(200, b"{}")

    asyncio.run(scenario())


def test_the_local_store_is_bounded_in_entries_and_bytes():
    async def scenario() -> None:
        store = LocalIdempotencyStore(max_entries=3, max_bytes=8_000)
        for n in range(5):
            assert await store.begin(f"s{n}", "r", wait=1) is None
            await store.finish(f"s{n}", "r", StoredResponse(200, b"x" * 500))
        assert len(store) == 3
        assert await store.begin("s4", "r", wait=1) == StoredResponse(200, b"x" * 500)
        # A body over an eighth of the bytes is kept as a note that the request ran.
        assert await store.begin("big", "r", wait=1) is None
        await store.finish("big", "r", StoredResponse(200, b"x" * 2_000))
        kept = await store.begin("big", "r", wait=1)
        assert kept is not None and b"IDEMPOTENCY_CONFLICT" in kept.body
        assert store.bytes <= 8_000

    asyncio.run(scenario())


def wait_until(condition, seconds: float = 10.0) -> None:
    """Poll ``condition`` (an observation, not a timing assumption) until it holds."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition never held"
        time.sleep(0.01)
