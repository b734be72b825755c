"""Fault suite: the emulators' fault knobs against a gateway over all five backend kinds.

Slow and hanging upstreams, 5xx bursts, 429 with Retry-After, malformed JSON, a connection
cut mid-request, and credentials revoked mid-run. Each test asserts what a client sees
(partial data, the error code naming the provider) and what the upstream saw (request
counts from the emulators' logs: retries, the breaker's fail-fast, exactly one call per
mutation). No assertion depends on speed: the faulty provider's timeout is far below the
injected delays, and the only clock-based checks are lower bounds (a Retry-After honoured,
a sleep past a breaker cooldown).

Reads of DataPacket, Packet and Mammoth follow the generic policy of
``providers/resilience.py``; dashserv and DCImanager replace it with their upstream's own
documented rule (dashserv: retry a rate-limited 503/429; DCImanager: retry a 503
"suspended"), so each test states which rule it checks.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from emulators.dcimanager.app import SESSION as DCI_SESSION
from emulators.kit.faults import FaultSettings
from gateway.demo import DEMO_BACKENDS
from providers.cache import DEFAULT_TTLS
from providers.health import ProviderHealth
from tests.conftest import GatewayClient, error_codes
from tests.fleet import KINDS, Fleet
from tests.test_security import MUTATIONS

SIZE = 6
#: Far below every injected delay (hang: forever; latency: 5 s).
SHORT_TIMEOUT = 0.1
LISTING = (
    "{ servers(input: {pageSize: 50}) { entriesTotalCount entries { name provider { id } } } }"
)
POWER = (
    'mutation { performServerPowerAction(input: {server: {name: "%s"}, action: ON}) '
    "{ server { name } } }"
)


def suite_fleet() -> Fleet:
    """Emulators tuned for counting retries, with DCImanager's pre-issued session (no login,
    so a fault never hits a login first)."""
    fleet = Fleet(
        SIZE,
        retries=2,  # every kind's (DCImanager's own default, 6, overridden)
        retry_backoff=0.01,  # every kind's, DCImanager's 503 retries included
        retry_budget=1.0,  # tests that count retries want them all
        breaker_failures=100,  # tests that want the breaker lower it
    )
    dci = fleet.tables["dcimanager"]
    del dci["email"], dci["password"]
    dci["session"] = DCI_SESSION
    return fleet


@pytest.fixture(scope="module")
def fleet() -> Iterator[Fleet]:
    running = suite_fleet()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def shared(fleet: Fleet) -> Iterator[GatewayClient]:
    """One gateway with the suite's defaults, for tests that need no special configuration."""
    server = fleet.start(cache=False)
    yield GatewayClient(server)
    server.stop()


@pytest.fixture(scope="module")
def names(shared: GatewayClient) -> dict[str, list[str]]:
    """Each provider's server names, read before any fault."""
    entries = shared.data(LISTING)["servers"]["entries"]
    return {kind: [s["name"] for s in entries if s["provider"]["id"] == kind] for kind in KINDS}


@pytest.fixture(autouse=True)
def healthy(fleet: Fleet, shared: GatewayClient) -> Iterator[None]:
    """Every test starts with empty logs and ends with every knob back to normal, its own
    gateways stopped, and the shared gateway's failure counts reset by a healthy read."""
    fleet.clear_logs()
    yield
    fleet.stop_gateways()
    for kind in KINDS:
        fleet.faults(kind).update(vars(FaultSettings()))
    assert "errors" not in shared.query(LISTING)
    fleet.clear_logs()


def assert_partial(body: dict, names: dict[str, list[str]], failed: dict[str, str]) -> None:
    """The healthy providers' servers and one error per failed provider, with its code."""
    healthy = [name for kind in KINDS if kind not in failed for name in names[kind]]
    page = body["data"]["servers"]
    assert [server["name"] for server in page["entries"]] == healthy
    assert page["entriesTotalCount"] == len(healthy)
    errors = {e["extensions"]["provider"]: e for e in body["errors"]}
    assert {kind: e["extensions"]["code"] for kind, e in errors.items()} == failed
    assert all(error["path"] == ["servers"] for error in body["errors"])


# --- slow and hanging upstreams ------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "fault"), [*((kind, "hang") for kind in KINDS), ("mammoth", "slow")]
)
def test_a_slow_or_hanging_provider_times_out_alone(fleet, names, kind, fault):
    client = fleet.gateway(cache=False, **{kind: {"read_timeout": SHORT_TIMEOUT, "retries": 1}})
    if fault == "slow":
        fleet.faults(kind).latency_ms = 5000
    else:
        fleet.faults(kind).hang = True
    body = client.query(LISTING)
    assert_partial(body, names, {kind: "PROVIDER_UNAVAILABLE"})
    assert "timed out" in body["errors"][0]["message"]
    # A timed-out read is retried once by the general policy, whatever the kind.
    assert max(fleet.paths(kind).values()) == 2


# --- failures while nested fields are resolved -----------------------------------------------

#: Each kind's call for a nested field, made after its list (None: the kind makes none, so the
#: whole provider fails while the others resolve theirs).
NESTED_CALLS = {
    "datapacket": None,
    "packet": ["*/bgp/sessions"],  # network.hasBgp
    "mammoth": ["*/data_usages/*"],  # trafficPlan
    "dashserv": ["*/status"],  # powerStatus
    "dcimanager": None,
}
NESTED_LISTING = (
    "{ servers(input: {pageSize: 50}) { entriesTotalCount entries { name provider { id } "
    "powerStatus trafficPlan { name } network { hasBgp } } } }"
)


@pytest.mark.parametrize("fault", ["5xx", "deadline"])
@pytest.mark.parametrize("kind", KINDS)
def test_a_provider_failing_inside_nested_fields_leaves_the_others_data(fleet, names, kind, fault):
    """The failing provider's entries go; every other provider's stay, with the exact total."""
    client = fleet.gateway(cache=False, server={"request_deadline": 1})
    if fault == "5xx":
        changes = {"error_rate": 1.0, "error_status": 500}
    else:
        changes = {"latency_ms": 5000}  # far past the request's deadline
    fleet.faults(kind).update({**changes, "paths": NESTED_CALLS[kind]})
    body = client.query(NESTED_LISTING)
    assert_partial(body, names, {kind: "PROVIDER_UNAVAILABLE"})
    if NESTED_CALLS[kind] is not None:
        assert any(
            path.endswith(("/sessions", "/current", "/status")) for path in fleet.paths(kind)
        )


# --- 5xx bursts and the retry rules ---------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_a_5xx_burst_is_retried_by_the_kinds_rule_then_reported(fleet, shared, names, kind):
    fleet.faults(kind).update({"error_rate": 1.0, "error_status": 502})
    body = shared.query(LISTING)
    assert_partial(body, names, {kind: "PROVIDER_UNAVAILABLE"})
    # The suite's two retries, for every kind. Where one listing makes concurrent calls
    # (Packet's projects), the first to give up cancels the others, so only the most-tried
    # path is exact.
    assert max(fleet.paths(kind).values()) == 3
    fleet.faults(kind).error_rate = 0.0  # the burst ends: the next read is whole again
    assert "errors" not in shared.query(LISTING)


def test_the_retry_budget_caps_retries_across_requests(fleet, names):
    client = fleet.gateway(cache=False, mammoth={"retries": 5, "retry_budget": 0.2})
    fleet.faults("mammoth").error_rate = 1.0
    assert_partial(client.query(LISTING), names, {"mammoth": "PROVIDER_UNAVAILABLE"})
    # The budget is 20 % of ten seconds' requests but at least three retries: 1 + 3, not 1 + 5.
    assert fleet.log("mammoth").count() == 4
    fleet.clear_logs()
    assert_partial(client.query(LISTING), names, {"mammoth": "PROVIDER_UNAVAILABLE"})
    assert fleet.log("mammoth").count() == 1  # spent: no retry until the window moves on


def test_dashserv_retries_its_rate_limit_answer(fleet, shared, names):
    # The general retries (2) and retry_backoff (0.01 s, the suite's) apply to dashserv.
    fleet.faults("dashserv").update({"error_rate": 1.0, "error_status": 503})
    body = shared.query(LISTING)
    assert_partial(body, names, {"dashserv": "PROVIDER_UNAVAILABLE"})
    assert "rate limiting" in body["errors"][0]["message"]
    assert max(fleet.paths("dashserv").values()) == 3  # the first try and two delays


def test_a_dcimanager_suspension_is_retried_and_hidden(fleet, shared, names):
    fleet.upstreams["dcimanager"].app.state.dci.suspend(requests=2)
    body = shared.query(LISTING)
    assert "errors" not in body
    assert body["data"]["servers"]["entriesTotalCount"] == sum(map(len, names.values()))
    statuses = [entry.status for entry in fleet.log("dcimanager").entries()]
    assert statuses == [503, 503, 200]


# --- a provider refusing a request as invalid ------------------------------------------------


@pytest.mark.parametrize("kind", ["packet", "mammoth", "dashserv", "dcimanager"])
def test_a_read_refused_as_invalid_is_the_providers_failure(fleet, shared, names, kind):
    """The gateway built the read: the client hears of a provider failure, not its own."""
    fleet.faults(kind).update({"error_rate": 1.0, "error_status": 422})
    body = shared.query(LISTING)
    assert_partial(body, names, {kind: "PROVIDER_UNAVAILABLE"})
    assert "refused the gateway's read as invalid" in body["errors"][0]["message"]


def test_a_write_refused_as_invalid_carries_the_providers_reason(fleet, shared, names):
    body = shared.query(POWER % names["packet"][0])  # power_on, but the device is active
    assert error_codes(body) == ["VALIDATION_FAILED"]
    error = body["errors"][0]
    assert error["extensions"]["provider"] == "packet"
    reason = "Cannot power_on a device that is active"
    assert error["message"] == f'Provider "packet" rejected the request: {reason}'
    assert fleet.writes("packet") == 1


# --- 429 with Retry-After -------------------------------------------------------------------


def test_429_retry_after_is_waited_for_then_reported(fleet, names):
    client = fleet.gateway(cache=False, mammoth={"retries": 1})
    fleet.faults("mammoth").retry_after = 1
    body = client.query(LISTING)
    assert_partial(body, names, {"mammoth": "PROVIDER_UNAVAILABLE"})
    first, second = fleet.log("mammoth").entries()
    assert (first.fault, second.fault) == ("rate_limited", "rate_limited")
    # The jittered backoff is at most 0.01 s here: a retry a second later honoured the header.
    assert second.at - first.at >= 0.9


# --- malformed JSON -------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_a_malformed_body_is_reported_and_not_retried(fleet, shared, names, kind):
    fleet.faults(kind).malformed = True
    body = shared.query(LISTING)
    assert_partial(body, names, {kind: "PROVIDER_UNAVAILABLE"})
    assert "malformed" in body["errors"][0]["message"]
    assert set(fleet.paths(kind).values()) == {1}  # a 200 with garbage is not "try again"


def test_garbage_in_a_row_opens_the_circuit(fleet, names):
    """Each garbage answer is a 200 (a success by its status), yet they add up."""
    client = fleet.gateway(cache=False, mammoth={"breaker_failures": 2, "breaker_cooldown": 3600})
    fleet.faults("mammoth").malformed = True
    for _ in range(2):
        assert_partial(client.query(LISTING), names, {"mammoth": "PROVIDER_UNAVAILABLE"})
    fleet.clear_logs()
    fast = client.query(LISTING)
    assert_partial(fast, names, {"mammoth": "PROVIDER_UNAVAILABLE"})
    assert fast["errors"][0]["extensions"]["circuit"] == "OPEN"
    assert fleet.log("mammoth").count() == 0


# --- the circuit breaker --------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["packet", "dcimanager"])
def test_the_breaker_opens_fails_fast_probes_once_and_closes(fleet, names, kind):
    policy = {"breaker_failures": 1, "breaker_cooldown": 0.5, "retries": 0}
    client = fleet.gateway(cache=False, **{kind: policy})
    fleet.faults(kind).update({"error_rate": 1.0, "error_status": 500})
    assert_partial(client.query(LISTING), names, {kind: "PROVIDER_UNAVAILABLE"})
    assert fleet.log(kind).count() >= 1

    fleet.clear_logs()
    fast = client.query(LISTING)
    assert_partial(fast, names, {kind: "PROVIDER_UNAVAILABLE"})
    assert fast["errors"][0]["extensions"]["circuit"] == "OPEN"
    assert fleet.log(kind).count() == 0  # failed fast: nothing sent
    ready = client.http.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["status"] == "degraded"
    assert ready.json()["circuits"] == {k: "OPEN" if k == kind else "CLOSED" for k in KINDS}
    circuits = client.data("{ providers { id circuit } }")["providers"]
    assert {p["id"]: p["circuit"] for p in circuits}[kind] == "OPEN"

    time.sleep(0.55)  # past the cooldown: the next call is the half-open probe
    fleet.clear_logs()
    assert_partial(client.query(LISTING), names, {kind: "PROVIDER_UNAVAILABLE"})
    probe_settled(client, kind)
    assert fleet.log(kind).count() == 1  # one probe, failed: open again
    assert client.http.get("/readyz").json()["circuits"][kind] == "OPEN"

    fleet.faults(kind).error_rate = 0.0
    time.sleep(0.55)
    client.query(LISTING)  # the probe succeeds (concurrent calls of it failed fast)
    probe_settled(client, kind)
    assert client.http.get("/readyz").json()["circuits"][kind] == "CLOSED"
    assert "errors" not in client.query(LISTING)


def probe_settled(client: GatewayClient, kind: str) -> None:
    """Wait for the verdict of ``kind``'s half-open probe.

    Packet lists its projects concurrently: in half-open, the call that fails fast ends the
    request while the probe may still be in flight, its verdict landing just after.
    """
    circuit = "{ providers { id circuit } }"
    wait_until(
        lambda: (
            {p["id"]: p["circuit"] for p in client.data(circuit)["providers"]}[kind] != "HALF_OPEN"
        )
    )


#: What a half-open probe meets. 429, the request's deadline and a cancellation give no
#: verdict (the probe is released, the next call probes); a malformed 200 is a failure.
PROBE_FAULTS = {
    "429": {"retry_after": 0},
    "deadline": {"hang": True},
    "cancelled": {"hang": True},
    "malformed": {"malformed": True},
}
COOLDOWN = 0.3
#: Two aliased listings of Mammoth alone: in half-open, one of them is the probe and the
#: other fails fast; that failure nulls the whole response (both fields are non-null), so
#: graphql-core cancels the probe.
TWO_MAMMOTH_LISTINGS = (
    '{ a: servers(input: {pageSize: 5, filter: {provider_in: ["mammoth"]}}) '
    "{ entriesTotalCount } "
    'b: servers(input: {pageSize: 6, filter: {provider_in: ["mammoth"]}}) '
    "{ entriesTotalCount } }"
)


def open_mammoths_circuit(fleet: Fleet, client: GatewayClient, names, failures: int) -> None:
    """Fail Mammoth's listing ``failures`` times (500, no retry): its circuit opens."""
    fleet.faults("mammoth").update({"error_rate": 1.0, "error_status": 500})
    for _ in range(failures):
        assert_partial(client.query(LISTING), names, {"mammoth": "PROVIDER_UNAVAILABLE"})
    assert fleet.log("mammoth").count() == failures
    fast = client.query(LISTING)
    assert fast["errors"][0]["extensions"]["circuit"] == "OPEN"
    assert fleet.log("mammoth").count() == failures  # open: nothing more was sent


@pytest.mark.parametrize("outcome", sorted(PROBE_FAULTS))
def test_every_probe_outcome_releases_the_probe(fleet, names, outcome):
    # Two failures open the circuit: with one, the old count of a malformed body (after its
    # 200 was counted a success) would reopen it too and hide whether the probe was judged.
    policy = {"breaker_failures": 2, "breaker_cooldown": COOLDOWN, "retries": 0}
    server = {"request_deadline": 1.0} if outcome == "deadline" else {}
    client = fleet.gateway(cache=False, server=server, mammoth=policy)
    open_mammoths_circuit(fleet, client, names, failures=2)

    faults = fleet.faults("mammoth")
    faults.update({"error_rate": 0.0, **PROBE_FAULTS[outcome]})
    time.sleep(COOLDOWN + 0.05)  # past the cooldown: the next call is the probe
    fleet.clear_logs()
    if outcome == "cancelled":
        body = client.query(TWO_MAMMOTH_LISTINGS)
        assert body["data"] is None
        assert error_codes(body) == ["PROVIDER_UNAVAILABLE"]
        assert body["errors"][0]["extensions"]["circuit"] == "OPEN"  # the other one, refused
        assert fleet.log("mammoth").count() <= 1  # the probe, if it got out before the cut
        # A probe cut just after it was sent may reach the emulator a moment after the answer
        # came back: wait that moment, so it is not counted among the calls made after the reset.
        settle(lambda: fleet.log("mammoth").count() == 1, seconds=0.5)
    else:
        body = client.query(LISTING)
        assert_partial(body, names, {"mammoth": "PROVIDER_UNAVAILABLE"})
        assert fleet.log("mammoth").count() == 1  # the probe
        expected = {"429": "HTTP 429", "deadline": "deadline", "malformed": "malformed"}
        assert expected[outcome] in body["errors"][0]["message"]

    faults.update(vars(FaultSettings()))
    fleet.clear_logs()
    if outcome == "malformed":
        # A failed probe: open again, for a fresh cooldown.
        fast = client.query(LISTING)
        assert fast["errors"][0]["extensions"]["circuit"] == "OPEN"
        assert fleet.log("mammoth").count() == 0
        time.sleep(COOLDOWN + 0.05)
    # No verdict released the probe at once; a failed one after one more cooldown.
    assert "errors" not in client.query(LISTING)
    assert fleet.log("mammoth").count() == 1
    assert "errors" not in client.query(LISTING)  # closed again: every call goes through
    assert fleet.log("mammoth").count() == 2


def test_a_health_ping_cut_short_releases_the_probe(fleet, names):
    # /readyz gives each ping `timeout` seconds and then cancels it; here the ping is the
    # probe of a hanging Mammoth (read_timeout far longer than the health timeout).
    health = ProviderHealth(ttl=0, timeout=0.5)
    policy = {"breaker_failures": 1, "breaker_cooldown": COOLDOWN, "retries": 0}
    client = fleet.gateway(cache=False, health=health, mammoth=policy)
    open_mammoths_circuit(fleet, client, names, failures=1)
    fleet.faults("mammoth").update({"error_rate": 0.0, "hang": True})
    time.sleep(COOLDOWN + 0.05)
    fleet.clear_logs()
    ready = client.http.get("/readyz").json()
    assert ready["providers"] == {kind: kind != "mammoth" for kind in KINDS}
    assert fleet.log("mammoth").count() == 1  # the ping was sent: it was the probe

    fleet.faults("mammoth").hang = False
    fleet.clear_logs()
    assert "errors" not in client.query(LISTING)  # the next call probed, and closed it
    assert fleet.log("mammoth").count() == 1
    assert client.http.get("/readyz").json()["status"] == "up"


# --- health pings ------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_a_health_ping_always_reaches_the_upstream(fleet, kind):
    # The cache on, every kind kept an hour: a ping served from it would still say "up".
    cache = {"enabled": True, **{resource: 3600 for resource in DEFAULT_TTLS}}
    client = fleet.gateway(cache=cache, health=ProviderHealth(ttl=0))  # no 10 s memo
    assert client.http.get("/readyz").json()["status"] == "up"
    fleet.clear_logs()
    fleet.faults(kind).update({"error_rate": 1.0, "error_status": 500})
    ready = client.http.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["status"] == "degraded"
    assert ready.json()["providers"] == {other: other != kind for other in KINDS}
    assert fleet.log(kind).count() == 1  # the ping itself (a 500 is not retried)
    reachable = client.data("{ providers { id reachable } }")["providers"]
    assert {p["id"]: p["reachable"] for p in reachable} == {k: k != kind for k in KINDS}
    assert fleet.log(kind).count() == 2


# --- a connection cut mid-run -----------------------------------------------------------------


def test_a_connection_cut_mid_write_is_reported_as_unknown_outcome(fleet, shared, names):
    kind, client = "mammoth", shared
    fleet.faults(kind).hang = True
    answers: list[dict] = []
    writer = threading.Thread(
        target=lambda: answers.append(client.query(POWER % names[kind][0])), daemon=True
    )
    writer.start()
    wait_until(lambda: fleet.writes(kind) == 1)
    fleet.upstreams[kind].stop()  # drops the connection the write is waiting on
    writer.join(timeout=30)
    (body,) = answers
    assert error_codes(body) == ["PROVIDER_UNAVAILABLE"]
    assert body["errors"][0]["extensions"]["outcome"] == "unknown"
    assert fleet.writes(kind) == 1

    try:
        # While it is down: the others answer, and a write is refused before anything is sent.
        assert_partial(client.query(LISTING), names, {kind: "PROVIDER_UNAVAILABLE"})
        refused = client.query(POWER % names[kind][0])
        assert error_codes(refused) == ["PROVIDER_UNAVAILABLE"]
        assert "outcome" not in refused["errors"][0]["extensions"]
    finally:
        fleet.faults(kind).hang = False
        fleet.restart(kind)
    assert "errors" not in client.query(LISTING)


def wait_until(condition, seconds: float = 10.0) -> None:
    """Poll ``condition`` (an observation, not a timing assumption) until it holds."""
    assert settle(condition, seconds), "condition never held"


def settle(condition, seconds: float) -> bool:
    """Poll ``condition`` for at most ``seconds``; whether it came to hold."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.01)
    return True


# --- credentials revoked mid-run --------------------------------------------------------------


def datapacket_tokens(fleet: Fleet) -> dict[str, str]:
    """The DataPacket emulator's accepted tokens (the dict its GraphQL endpoint reads)."""
    app = fleet.upstreams["datapacket"].app
    endpoint = next(r.endpoint.__self__ for r in app.routes if hasattr(r.endpoint, "__self__"))
    return endpoint.tokens


def test_revoked_credentials_are_not_authorized_and_never_retried(fleet, names):
    login = next(b.credentials for b in DEMO_BACKENDS if b.kind == "dcimanager")
    client = fleet.gateway(cache=False, dcimanager={"session": None, **login})
    assert "errors" not in client.query(LISTING)  # logged in while the account was valid
    fleet.clear_logs()
    tokens = datapacket_tokens(fleet)
    accepted = dict(tokens)
    dci = fleet.upstreams["dcimanager"].app.state.dci
    accounts = dict(dci.accounts)
    tokens.clear()
    dci.expire_sessions()
    dci.accounts.clear()
    try:
        body = client.query(LISTING)
        assert_partial(
            body, names, {"datapacket": "NOT_AUTHORIZED", "dcimanager": "NOT_AUTHORIZED"}
        )
        assert fleet.log("datapacket").count() == 1
        # DCImanager: the refused call, then one fresh login (refused too), then nothing more.
        logged = [(e.operation, e.status) for e in fleet.log("dcimanager").entries()]
        assert logged == [("server.list", 401), ("auth.token", 401)]

        fleet.clear_logs()
        power = client.query(POWER % "DP-12345")
        assert error_codes(power) == ["NOT_AUTHORIZED"]
        assert power["errors"][0]["extensions"]["provider"] == "datapacket"
        assert fleet.writes("datapacket") == 1
    finally:
        tokens.update(accepted)
        dci.accounts.update(accounts)
        dci.sessions[DCI_SESSION] = None  # the shared gateway's pre-issued session
    assert "errors" not in client.query(LISTING)  # DCImanager logs in again by itself


# --- exactly one upstream call per mutation ----------------------------------------------------

WRITE_FAULTS = {
    # 502, not 503: DCImanager's 503 means "suspended, nothing applied" (no unknown outcome).
    "5xx": {"error_rate": 1.0, "error_status": 502},
    "429": {"retry_after": 0},
    "hang": {"hang": True},
    # The write landed (HTTP 200) but its answer cannot be read: the outcome is unknown.
    "malformed": {"malformed": True},
}


@pytest.mark.parametrize("fault", sorted(WRITE_FAULTS))
@pytest.mark.parametrize("kind", ["datapacket", "packet", "mammoth", "dcimanager"])
def test_a_failed_power_action_is_sent_exactly_once(fleet, shared, names, kind, fault):
    client = shared
    if fault == "hang":
        client = fleet.gateway(cache=False, **{kind: {"read_timeout": SHORT_TIMEOUT, "retries": 3}})
    fleet.faults(kind).update(WRITE_FAULTS[fault])
    body = client.query(POWER % names[kind][0])
    assert error_codes(body) == ["PROVIDER_UNAVAILABLE"]
    assert body["errors"][0]["extensions"]["provider"] == kind
    assert fleet.writes(kind) == 1
    assert all(fleet.log(other).count() == 0 for other in KINDS if other != kind)
    if fault != "429":  # a 429 refused the call; the others may have landed
        assert body["errors"][0]["extensions"]["outcome"] == "unknown"


#: These look the IP or support request up (a read) before writing to its owner.
LOOKUP_FIRST = {"setReverseDnsRecord", "supportRequestReply"}


def test_every_datapacket_mutation_is_sent_once_failing_or_not(fleet, shared):
    faults = fleet.faults("datapacket")
    for field, mutation in MUTATIONS.items():
        faults.error_rate = 0.0
        fleet.clear_logs()
        assert "errors" not in shared.query(f"mutation {{ {mutation} }}"), field
        assert fleet.writes("datapacket") == 1, field

        faults.update({"error_rate": 1.0, "error_status": 502})
        fleet.clear_logs()
        body = shared.query(f"mutation {{ {mutation} }}")
        assert error_codes(body) == ["PROVIDER_UNAVAILABLE"], field
        # A failed lookup means nothing was written; a write that failed was not repeated.
        assert fleet.writes("datapacket") == (0 if field in LOOKUP_FIRST else 1), field


def test_a_write_on_a_dead_pooled_connection_is_sent_once(fleet, shared, names):
    assert "errors" not in shared.query(LISTING)  # pooled keep-alive connections to Packet
    fleet.upstreams["packet"].stop()
    fleet.restart("packet")  # the gateway's pooled connections to it are now dead
    fleet.clear_logs()
    body = shared.query(POWER % names["packet"][0])
    assert fleet.writes("packet") == 1
    assert error_codes(body) in ([], ["VALIDATION_FAILED"])  # ON on a running device: 422
