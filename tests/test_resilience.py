"""Upstream resilience: read retries (counted in the emulator's log), Retry-After, the circuit
breaker's transitions, and writes that are never repeated."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest

from emulators.datapacket import app as emulator
from emulators.kit.server import EmulatorServer
from providers import resilience
from providers.resilience import CLOSED, HALF_OPEN, OPEN, ResiliencePolicy, UpstreamGuard
from tests.conftest import FULL, GatewayClient, datapacket_config, error_codes, start_gateway
from tests.servers import serving

ACCOUNT = "{ account { name } }"


@pytest.fixture
def upstream() -> Iterator[EmulatorServer]:
    with serving(emulator.create_app(size=6, seed=1)) as server:
        yield server


def gateway_for(upstream: EmulatorServer, **policy: object) -> EmulatorServer:
    return start_gateway([datapacket_config(upstream, retry_backoff=0.01, **policy)])


def calls(upstream: EmulatorServer) -> int:
    return upstream.app.state.emulator.request_log.count()


def test_a_failing_read_is_retried_then_reported(upstream):
    gateway = gateway_for(upstream, retries=2)
    try:
        upstream.app.state.emulator.faults.error_rate = 1.0
        body = GatewayClient(gateway).query(ACCOUNT)
    finally:
        gateway.stop()
    assert error_codes(body) == ["PROVIDER_UNAVAILABLE"]
    assert calls(upstream) == 3  # the first try and two retries


def test_a_transient_failure_is_hidden_by_a_retry(upstream):
    gateway = gateway_for(upstream, retries=6, retry_budget=1.0)
    try:
        faults = upstream.app.state.emulator.faults
        faults.update({"error_rate": 0.5, "seed": 7, "cache_control": "no-store"})
        client = GatewayClient(gateway)
        bodies = [client.query(f"{{ a{i}: account {{ name }} }}") for i in range(6)]
    finally:
        gateway.stop()
    assert all("errors" not in body for body in bodies)
    assert calls(upstream) > 6  # some reads needed a retry, none reached the client


def test_429_retry_after_is_honoured(upstream):
    gateway = gateway_for(upstream, retries=1, max_backoff=1)
    try:
        upstream.app.state.emulator.faults.retry_after = 0
        started = time.monotonic()
        body = GatewayClient(gateway).query(ACCOUNT)
        assert time.monotonic() - started < 30
    finally:
        gateway.stop()
    assert error_codes(body) == ["PROVIDER_UNAVAILABLE"]
    entries = upstream.app.state.emulator.request_log.entries()
    assert [entry.fault for entry in entries] == ["rate_limited", "rate_limited"]


def test_writes_are_never_retried(upstream):
    gateway = gateway_for(upstream, retries=3)
    try:
        upstream.app.state.emulator.faults.error_rate = 1.0
        body = GatewayClient(gateway).query(
            'mutation { performServerPowerAction(input: {server: {name: "DP-12345"}, '
            "action: CYCLE}) { server { name } } }"
        )
    finally:
        gateway.stop()
    assert error_codes(body) == ["PROVIDER_UNAVAILABLE"]
    assert body["errors"][0]["extensions"]["outcome"] == "unknown"
    assert calls(upstream) == 1


def test_the_breaker_opens_fails_fast_and_closes_after_a_probe(upstream):
    gateway = gateway_for(upstream, retries=0, breaker_failures=3, breaker_cooldown=0.3)
    client = GatewayClient(gateway)
    try:
        upstream.app.state.emulator.faults.error_rate = 1.0
        for i in range(3):
            client.query(f"{{ a{i}: account {{ name }} }}")
        assert calls(upstream) == 3
        circuit = client.data("{ providers { circuit } }")["providers"][0]["circuit"]
        assert circuit == "OPEN"
        fast = client.query("{ b: account { name } }")
        assert error_codes(fast) == ["PROVIDER_UNAVAILABLE"]
        assert fast["errors"][0]["extensions"]["circuit"] == "OPEN"
        assert calls(upstream) == 3  # failed fast: nothing sent
        assert client.http.get("/readyz").json()["circuits"] == {"dp": "OPEN"}
        upstream.app.state.emulator.faults.error_rate = 0.0
        time.sleep(0.35)
        assert "errors" not in client.query("{ c: account { name } }")
        assert client.data("{ providers { circuit } }")["providers"][0]["circuit"] == "CLOSED"
    finally:
        gateway.stop()


def opened(**policy: float) -> UpstreamGuard:
    """A guard whose circuit one failure has just opened."""
    guard = UpstreamGuard(ResiliencePolicy(breaker_failures=1, **policy))
    with guard.admit() as admission:
        admission.failed()
    assert guard.state == OPEN
    return guard


def test_half_open_admits_a_single_probe():
    guard = opened(breaker_cooldown=0.0)
    probe = guard.admit()
    assert probe is not None and probe.probe and guard.state == HALF_OPEN
    assert guard.admit() is None  # a second caller waits for the probe's verdict
    with probe:
        probe.succeeded()
    assert guard.state == CLOSED
    admitted = guard.admit()
    assert admitted is not None and not admitted.probe


@pytest.mark.parametrize(
    ("verdict", "state"), [("succeeded", CLOSED), ("failed", OPEN), (None, HALF_OPEN)]
)
def test_every_probe_outcome_releases_the_probe(verdict, state):
    guard = opened(breaker_cooldown=0.0)
    with guard.admit() as probe:  # None: a 429, the request's deadline
        if verdict is not None:
            getattr(probe, verdict)()
    assert guard.state == state
    assert guard.admit() is not None  # never left waiting for a verdict


def test_a_failed_probe_reopens_for_a_fresh_cooldown():
    guard = opened(breaker_cooldown=0.2)
    time.sleep(0.25)  # the first cooldown is over
    with guard.admit() as probe:
        probe.failed()
    assert guard.state == OPEN
    assert guard.admit() is None  # a new cooldown started with the failed probe


async def test_a_cancelled_probe_is_released():
    guard = opened(breaker_cooldown=0.0)
    sent = asyncio.Event()

    async def probe() -> None:
        with guard.admit():
            sent.set()
            await asyncio.Event().wait()  # an answer that never comes

    task = asyncio.create_task(probe())
    await asyncio.wait_for(sent.wait(), 10)  # a bound against a broken guard, not a timing
    assert guard.admit() is None
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert guard.state == HALF_OPEN
    admitted = guard.admit()
    assert admitted is not None and admitted.probe  # the next call probes


def test_calls_admitted_before_the_circuit_opened_do_not_decide_it():
    guard = UpstreamGuard(ResiliencePolicy(breaker_failures=1, breaker_cooldown=3600))
    first, second = guard.admit(), guard.admit()
    first.failed()
    second.succeeded()  # older news than the failure that opened the circuit
    assert guard.state == OPEN and guard.admit() is None


def test_unreadable_bodies_in_a_row_open_the_circuit():
    guard = UpstreamGuard(ResiliencePolicy(breaker_failures=2))

    def garbage_200() -> None:  # the status counts as a success, then the body does not decode
        with guard.admit() as admission:
            admission.succeeded()
        guard.unreadable()

    garbage_200()
    guard.readable()  # a good body between them breaks the row
    garbage_200()
    assert guard.state == CLOSED
    garbage_200()
    assert guard.state == OPEN


async def test_outbound_concurrency_is_capped():
    guard = UpstreamGuard(ResiliencePolicy(max_concurrency=2, rate_per_second=1000))
    in_flight = peak = 0

    async def call() -> None:
        nonlocal in_flight, peak
        async with await guard.slot(retry=False):
            in_flight += 1
            peak = max(peak, in_flight)
            await asyncio.sleep(0.01)
            in_flight -= 1

    await asyncio.gather(*(call() for _ in range(10)))
    assert peak == 2


async def test_retry_budget_limits_retries():
    guard = UpstreamGuard(ResiliencePolicy(retry_budget=0.2))
    for _ in range(3):  # a floor of three retries per ten seconds, whatever the traffic
        assert guard.may_retry()
        async with await guard.slot(retry=True):
            pass
    assert not guard.may_retry()
    for _ in range(20):  # more first attempts raise the budget to 20 % of the traffic
        async with await guard.slot(retry=False):
            pass
    assert guard.may_retry()


async def test_a_provider_that_never_retries_keeps_only_the_window_of_calls(monkeypatch):
    """The budget counts the last RETRY_WINDOW seconds of calls; a healthy provider, which
    never weighs a retry, must not keep every call it ever made (one tuple per call)."""
    clock = [1000.0]
    monkeypatch.setattr(resilience.time, "monotonic", lambda: clock[0])
    guard = UpstreamGuard(ResiliencePolicy(rate_per_second=10_000))
    for _ in range(500):
        async with await guard.slot(retry=False):
            pass
    clock[0] += resilience.RETRY_WINDOW + 1
    async with await guard.slot(retry=False):
        pass
    assert len(guard._recent) == 1


def test_the_request_deadline_bounds_a_hanging_provider_and_keeps_the_others():
    from emulators.datapacket import app as dp

    with (
        serving(dp.create_app(size=4, seed=1)) as healthy,
        serving(dp.create_app(size=3, seed=2, examples=False)) as hanging,
    ):
        hanging.app.state.emulator.faults.hang = True
        gateway = start_gateway(
            [datapacket_config(healthy), datapacket_config(hanging, id="slow")],
            request_deadline=0.5,
        )
        try:
            body = GatewayClient(gateway).query("{ servers { entriesTotalCount } }")
        finally:
            hanging.app.state.emulator.faults.hang = False
            gateway.stop()
    assert body["data"] == {"servers": {"entriesTotalCount": 4}}
    assert error_codes(body) == ["PROVIDER_UNAVAILABLE"]
    assert body["errors"][0]["extensions"]["provider"] == "slow"
    assert "deadline" in body["errors"][0]["message"]
    assert hanging.app.state.emulator.request_log.count() == 1  # no retry past the deadline


def test_calls_cut_short_by_the_deadline_give_back_their_slot(upstream):
    gateway = start_gateway(
        [datapacket_config(upstream, max_concurrency=1, retries=0)], request_deadline=0.5
    )
    client = GatewayClient(gateway)

    async def two_at_once() -> list[dict]:
        async with gateway.async_client(timeout=30) as http:
            headers = {"Authorization": f"Bearer {FULL}"}
            responses = await asyncio.gather(
                *(
                    http.post("/graphql", json={"query": query}, headers=headers)
                    for query in ("{ account { name } }", "{ account { email } }")
                )
            )
        return [response.json() for response in responses]

    try:
        upstream.app.state.emulator.faults.hang = True
        bodies = asyncio.run(two_at_once())
        # One was in flight, the other queued for the only slot: both ended by the deadline.
        assert all("deadline" in body["errors"][0]["message"] for body in bodies)
        assert calls(upstream) == 1
        upstream.app.state.emulator.faults.hang = False
        assert "errors" not in client.query(ACCOUNT)  # the slot was given back
        assert calls(upstream) == 2
    finally:
        upstream.app.state.emulator.faults.hang = False
        gateway.stop()


def test_an_unreadable_answer_to_a_write_has_an_unknown_outcome(upstream):
    gateway = gateway_for(upstream)
    try:
        upstream.app.state.emulator.faults.malformed = True
        body = GatewayClient(gateway).query(
            'mutation { performServerPowerAction(input: {server: {name: "DP-12345"}, '
            "action: CYCLE}) { server { name } } }"
        )
    finally:
        gateway.stop()
    assert error_codes(body) == ["PROVIDER_UNAVAILABLE"]
    assert body["errors"][0]["extensions"]["outcome"] == "unknown"
    assert calls(upstream) == 1
