"""Security: read-only tokens never write, scoped tokens never see other providers, and no
secret (upstream credential, client token, password, session) reaches a response or a log.

All five demo emulators run at once behind one gateway; the assertions are on responses and
on the requests each emulator logged, as a client and an operator would see them.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from graphql import build_schema

from gateway.demo import DEMO_BACKENDS
from tests.conftest import FULL, READ, TOKENS, GatewayClient, error_codes
from tests.fleet import KINDS, Fleet

SIZE = 6
SCHEMA = build_schema(Path(__file__).resolve().parent.parent.joinpath("schema.graphql").read_text())
SERVER = '{name: "DP-12345"}'
DP_IP = "123.213.231.132"  # DP-12345's primary IPv4 in the DataPacket emulator's examples

#: One valid document per mutation field (DataPacket's example server, IP and support request).
MUTATIONS = {
    "changeServerIpmiPassword": f'changeServerIpmiPassword(input: {{server: {SERVER}, password: "Ipmi0123456"}}) {{ server {{ name }} }}',  # noqa: E501
    "createSupportRequest": 'createSupportRequest(input: {subject: HARDWARE_ISSUE, message: "Disk noise", priority: NORMAL, servers: ["DP-12345"]})',  # noqa: E501
    "performServerPowerAction": f"performServerPowerAction(input: {{server: {SERVER}, action: ON}}) {{ server {{ name }} }}",  # noqa: E501
    "setReverseDnsRecord": f'setReverseDnsRecord(input: {{ip: "{DP_IP}", hostname: "lb.example.com."}}) {{ ip {{ ip }} }}',  # noqa: E501
    "setServerAlias": f'setServerAlias(input: {{server: {SERVER}, alias: "Load Balancer 01"}}) {{ server {{ name }} }}',  # noqa: E501
    "setServerBootDevice": f"setServerBootDevice(input: {{server: {SERVER}, bootDevice: DISK}}) {{ server {{ name }} }}",  # noqa: E501
    "setServerPrimaryIp": f'setServerPrimaryIp(input: {{server: {SERVER}, ip: "{DP_IP}"}}) {{ server {{ name }} }}',  # noqa: E501
    "setServerTag": f'setServerTag(input: {{server: {SERVER}, key: "env", value: "production"}})',
    "setServerTags": f'setServerTags(input: {{server: {SERVER}, tags: [{{key: "env", value: "production"}}, {{key: "role", value: "lb"}}]}})',  # noqa: E501
    "supportRequestReply": 'supportRequestReply(input: {id: 123, message: "Thanks"})',
}

SCOPED = "test-scoped-packet-mammoth"
SCOPED_PROVIDERS = ["packet", "mammoth"]
HIDDEN = [kind for kind in KINDS if kind not in SCOPED_PROVIDERS]


class ScopedFleet(Fleet):
    """The five emulators and one gateway over them, with a token scoped to two providers."""

    def __init__(self) -> None:
        super().__init__(SIZE, retry_backoff=0.01, read_timeout=2)
        scoped = {
            "name": "scoped",
            "scope": "full-access",
            "token": SCOPED,
            "providers": SCOPED_PROVIDERS,
        }
        self.gateway_server = self.start(tokens=[*TOKENS, scoped], cache=False)
        self.client = GatewayClient(self.gateway_server)

    def stop(self) -> None:
        self.gateway_server.stop()
        super().stop()


@pytest.fixture(scope="module")
def fleet() -> Iterator[ScopedFleet]:
    running = ScopedFleet()
    yield running
    running.stop()


@pytest.fixture(autouse=True)
def healthy(fleet: ScopedFleet) -> Iterator[None]:
    """Every test starts and ends with healthy emulators and empty request logs."""
    fleet.clear_logs()
    yield
    for kind in KINDS:
        fleet.faults(kind).update({"error_rate": 0.0, "malformed": False, "hang": False})


# --- read-only tokens ----------------------------------------------------------------------


def test_the_mutation_table_covers_every_mutation_field():
    assert sorted(MUTATIONS) == sorted(SCHEMA.mutation_type.fields)


@pytest.mark.parametrize("field", sorted(MUTATIONS))
def test_a_read_only_token_cannot_run_any_mutation(fleet, field):
    body = fleet.client.query(f"mutation {{ {MUTATIONS[field]} }}", token=READ)
    assert error_codes(body) == ["NOT_AUTHORIZED"]
    assert "data" not in body or body["data"] is None
    assert {kind: fleet.log(kind).count() for kind in KINDS} == dict.fromkeys(KINDS, 0)


@pytest.mark.parametrize(
    "document",
    [
        # A mutation next to a query in one document (no operationName runs both).
        "query Q { account { name } } mutation M { " + MUTATIONS["setServerTag"] + " }",
        # Through a variable-free fragment on the Mutation type.
        "mutation { ...write } fragment write on Mutation { " + MUTATIONS["setServerTag"] + " }",
    ],
    ids=["beside-a-query", "in-a-fragment"],
)
def test_a_read_only_token_cannot_smuggle_a_mutation(fleet, document):
    body = fleet.client.query(document, token=READ)
    assert error_codes(body) == ["NOT_AUTHORIZED"]
    assert {kind: fleet.log(kind).count() for kind in KINDS} == dict.fromkeys(KINDS, 0)


def test_a_read_only_token_may_run_the_query_of_a_mixed_document(fleet):
    document = "query Q { account { name } } mutation M { " + MUTATIONS["setServerTag"] + " }"
    body = fleet.client.query(document, token=READ, operation_name="Q")
    assert "errors" not in body
    assert (
        fleet.upstreams["datapacket"].app.state.emulator.request_log.count(operation="setServerTag")
        == 0
    )


def test_a_mutation_over_get_is_refused(fleet):
    response = fleet.client.http.get(
        "/graphql",
        params={"query": "mutation { " + MUTATIONS["setServerTag"] + " }"},
        headers={"Authorization": f"Bearer {FULL}"},
    )
    assert response.status_code == 405
    assert error_codes(response.json()) == ["BAD_REQUEST"]
    assert fleet.log("datapacket").count() == 0


# --- provider-scoped tokens ----------------------------------------------------------------

SCOPED_QUERIES = [
    "{ servers(input: {pageSize: 50}) "
    "{ entriesTotalCount entries { name provider { id kind } } } }",
    '{ servers(input: {filter: {provider_in: ["datapacket", "dcimanager"]}}) '
    "{ entriesTotalCount entries { name } } }",
    "{ providers { id kind capabilities circuit } }",
    "{ locations { name short } }",
    "{ instantDeliveryServers(input: {pageSize: 50}) { entriesTotalCount entries { name } } }",
    "{ invoices(input: {pageSize: 50}) { entriesTotalCount entries { invoiceNumber } } }",
    "{ account { name email } }",
]


def hidden_names(fleet: ScopedFleet) -> list[str]:
    """Names of servers that live on the providers the scoped token may not see."""
    everything = fleet.client.data(
        "{ servers(input: {pageSize: 50}) { entries { name provider { id } } } }"
    )["servers"]["entries"]
    return [s["name"] for s in everything if s["provider"]["id"] in HIDDEN]


def assert_nothing_hidden(body: dict, names: list[str], sent: str = "") -> None:
    """No hidden provider id, hidden server name or DataPacket IP, unless the client sent it."""
    text = json.dumps(body)
    for word in [*HIDDEN, *names, DP_IP]:
        assert word in sent or word not in text, f"{word!r} leaked to a scoped token: {text[:500]}"


@pytest.mark.parametrize("query", SCOPED_QUERIES)
def test_a_scoped_token_sees_only_its_providers(fleet, query):
    names = hidden_names(fleet)
    fleet.clear_logs()
    body = fleet.client.query(query, token=SCOPED)
    assert_nothing_hidden(body, names)
    assert all(fleet.log(kind).count() == 0 for kind in HIDDEN)
    assert all(code in ("NOT_SUPPORTED", "NOT_FOUND") for code in error_codes(body))


def test_a_scoped_tokens_totals_count_only_its_providers(fleet):
    every = fleet.client.data("{ servers(input: {pageSize: 50}) { entries { provider { id } } } }")[
        "servers"
    ]["entries"]
    visible = sum(1 for server in every if server["provider"]["id"] in SCOPED_PROVIDERS)
    page = fleet.client.data(
        "{ servers(input: {pageSize: 1}) { entriesTotalCount pageCount } }", token=SCOPED
    )
    assert page["servers"] == {"entriesTotalCount": visible, "pageCount": visible}


@pytest.mark.parametrize(
    "lookup",
    [
        'server(input: {name: "DP-12345"}) { name }',
        f'server(input: {{ip: "{DP_IP}"}}) {{ name }}',
        'server(input: {alias: "Load Balancer 01"}) { name }',
        'server(input: {ipmiIp: "10.110.120.130"}) { name }',
        f'reverseDnsRecord(input: {{ip: "{DP_IP}"}}) {{ hostname }}',
        "supportRequest(input: {id: 123}) { subject }",
    ],
    ids=["name", "ip", "alias", "ipmi-ip", "reverse-dns", "support-request"],
)
def test_a_scoped_token_cannot_find_another_providers_resources(fleet, lookup):
    names = hidden_names(fleet)
    fleet.clear_logs()
    body = fleet.client.query("{ " + lookup + " }", token=SCOPED)
    assert error_codes(body) in (["NOT_FOUND"], ["NOT_SUPPORTED"])
    assert_nothing_hidden(body, names, sent=lookup)
    assert all(fleet.log(kind).count() == 0 for kind in HIDDEN)


@pytest.mark.parametrize("field", sorted(MUTATIONS))
def test_a_scoped_token_cannot_touch_another_providers_servers(fleet, field):
    body = fleet.client.query(f"mutation {{ {MUTATIONS[field]} }}", token=SCOPED)
    assert error_codes(body) in (["NOT_FOUND"], ["NOT_SUPPORTED"], ["VALIDATION_FAILED"])
    assert_nothing_hidden(body, [], sent=MUTATIONS[field])
    assert all(fleet.log(kind).count() == 0 for kind in HIDDEN)


def test_a_hidden_providers_failure_is_not_reported_to_a_scoped_token(fleet):
    for kind in HIDDEN:
        fleet.faults(kind).error_rate = 1.0
    body = fleet.client.query(
        "{ servers(input: {pageSize: 50}) { entriesTotalCount entries { name } } }", token=SCOPED
    )
    assert "errors" not in body
    assert_nothing_hidden(body, [])
    assert all(fleet.log(kind).count() == 0 for kind in HIDDEN)


def test_an_unknown_and_a_hidden_provider_id_look_the_same(fleet):
    query = (
        "query P($ids: [String!]) { servers(input: {filter: {provider_in: $ids}}) "
        "{ entriesTotalCount entries { name } } }"
    )
    hidden = fleet.client.post(query, {"ids": ["datapacket"]}, token=SCOPED).json()
    unknown = fleet.client.post(query, {"ids": ["no-such-provider"]}, token=SCOPED).json()
    assert json.dumps(hidden).replace("datapacket", "X") == json.dumps(unknown).replace(
        "no-such-provider", "X"
    )


# --- secrets -------------------------------------------------------------------------------

FAILURES = {
    "5xx": {"error_rate": 1.0, "error_status": 502},
    "malformed": {"malformed": True},
}

RUN = [
    ("{ servers(input: {pageSize: 50}) { entriesTotalCount entries { name alias } } }", FULL),
    ("{ account { name email } }", READ),
    ('{ server(input: {name: "DP-12345"}) { name network { ipmi { ip username } } } }', FULL),
    ('{ server(input: {ip: "10.0.0.1"}) { name } }', FULL),
    ("mutation { " + MUTATIONS["performServerPowerAction"] + " }", FULL),
    ("mutation { " + MUTATIONS["setServerTag"] + " }", READ),
    ("{ providers { id reachable circuit } }", FULL),
    ("{ servers { entries { name } } }", "not-a-configured-token"),
    ("{ servers { entries { nosuchfield } } }", FULL),
]


def secrets(fleet: ScopedFleet) -> list[str]:
    """Every credential in play: upstream tokens, DCImanager password and sessions, client
    tokens."""
    found = {FULL, READ, SCOPED, "not-a-configured-token"}
    for backend in DEMO_BACKENDS:
        found.update(backend.credentials.values())
    found.discard("admin@example.com")  # a login name, not a secret
    found.update(fleet.upstreams["dcimanager"].app.state.dci.sessions)
    return sorted(found)


def send_everything(fleet: ScopedFleet) -> list[str]:
    """The run of normal and failing requests; returns every response's headers and body."""
    texts = []
    for fault in [None, *FAILURES]:
        for kind in KINDS:
            fleet.faults(kind).update(FAILURES.get(fault, {"error_rate": 0.0, "malformed": False}))
        for query, token in RUN:
            response = fleet.client.post(query, token=token)
            assert response.status_code in (200, 400, 429), response.text
            texts.append(str(response.headers) + response.text)
    for raw in [b"{not json", b'{"query": 1}', b"[]"]:
        response = fleet.client.http.post(
            "/graphql",
            content=raw,
            headers={"Authorization": f"Bearer {FULL}", "Content-Type": "application/json"},
        )
        texts.append(str(response.headers) + response.text)
    texts.append(fleet.client.http.get("/readyz").text)
    return texts


def test_secrets_never_reach_a_response_or_a_log(fleet, caplog):
    caplog.set_level(logging.DEBUG)
    texts = send_everything(fleet)
    every_secret = secrets(fleet)
    logs = "\n".join(
        f"{record.getMessage()} {record.exc_text or ''} {record.args!r}"
        for record in caplog.records
    )
    assert len(caplog.records) > 0  # the run did log (failures, upstream calls)
    for secret in every_secret:
        assert all(secret not in text for text in texts), f"{secret!r} in a response"
        assert secret not in logs, f"{secret!r} in a log record"
    assert not any(re.search(r"Traceback|File \"", text) for text in texts)


def test_an_unexpected_error_returns_only_a_request_id(fleet, caplog, monkeypatch):
    # ``account`` asks the first provider that has one: DataPacket.
    provider = next(
        p for p in fleet.gateway_server.app.state.gateway.providers.all if p.id == "datapacket"
    )

    async def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError("unexpected state deep in the adapter's internals")

    monkeypatch.setattr(provider, "account", broken)
    caplog.set_level(logging.DEBUG)
    response = fleet.client.post("{ account { name } }", token=FULL)
    request_id = response.headers["x-request-id"]
    assert response.status_code == 200
    assert response.json()["errors"] == [
        {
            "message": f"Internal server error (request id {request_id}).",
            "locations": [{"line": 1, "column": 3}],
            "path": ["account"],
            "extensions": {"code": "INTERNAL_SERVER_ERROR", "requestId": request_id},
        }
    ]
    assert "internals" not in response.text
    logged = [r for r in caplog.records if request_id in r.getMessage()]
    assert logged and logged[0].exc_info is not None  # the details stay server-side
