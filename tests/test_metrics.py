"""``/metrics``: the series an operator needs, after real queries, with bounded labels."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import uvicorn
from prometheus_client.parser import text_string_to_metric_families

from emulators.datapacket import app as datapacket_emulator
from gateway.app import create_app
from gateway.cli import uvicorn_options
from gateway.metrics import OTHER, BoundedLabel
from gateway.settings import settings_from_dict
from providers.http import endpoint_template
from tests.conftest import FULL, TOKENS, GatewayClient, datapacket_config
from tests.servers import InProcessGateway, serving

FULL_HEADERS = {"Authorization": f"Bearer {FULL}"}

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(client: GatewayClient) -> Samples:
    """Every sample of ``/metrics``, keyed by (name, labels)."""
    response = client.http.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    """One sample's value (0 when the series does not exist yet)."""
    return samples.get((name, frozenset(labels.items())), 0.0)


def total(samples: Samples, name: str, **labels: str) -> float:
    """The sum of every sample of ``name`` whose labels include ``labels``."""
    wanted = set(labels.items())
    return sum(v for (n, got), v in samples.items() if n == name and wanted <= got)


def test_metrics_expose_the_series_after_queries(fresh):
    client, upstream = fresh()
    upstream_log = upstream.app.state.emulator.request_log
    fleet = client.data("query fleet { servers { entries { name } } }")
    names = [server["name"] for server in fleet["servers"]["entries"][:2]]
    lookup = (
        "query lookup($a: String!, $b: String!) { a: server(input: {name: $a}) { name } "
        "b: server(input: {name: $b}) { name } }"
    )
    client.data(lookup, {"a": names[0], "b": names[1]})
    client.data("query fleet { servers { entries { name } } }")  # the whole-response cache
    client.data("query again { servers { entries { name } } }")  # its read: the read cache
    client.data(
        f'mutation rename {{ setServerAlias(input: {{server: {{name: "{names[0]}"}}, '
        'alias: "metrics"}) { server { name } } }'
    )
    client.query("query broken { account { favouriteColour } }", status=400)

    samples = scrape(client)
    requests = "fleetql_graphql_requests_total"
    assert value(samples, requests, operation="fleet", outcome="ok") == 2
    assert value(samples, requests, operation="lookup", outcome="ok") == 1
    assert value(samples, requests, operation="rename", outcome="ok") == 1
    assert value(samples, requests, operation="broken", outcome="error") == 1
    assert value(samples, "fleetql_graphql_errors_total", code="GRAPHQL_VALIDATION_FAILED") == 1
    latency = "fleetql_graphql_request_duration_seconds_count"
    assert value(samples, latency, operation="fleet") == 2
    assert value(samples, "fleetql_graphql_requests_in_flight") == 0

    # Every upstream exchange is counted once, under its endpoint template and status.
    exchanges = upstream_log.count(path="/v0/graphql")
    assert exchanges >= 3
    upstream_labels = {"provider": "dp", "method": "POST", "endpoint": "/v0/graphql"}
    assert value(samples, "fleetql_upstream_requests_total", **upstream_labels, status="200") == (
        exchanges
    )
    upstream_latency = "fleetql_upstream_request_duration_seconds_count"
    assert value(samples, upstream_latency, **upstream_labels) == exchanges

    assert value(samples, "fleetql_response_cache_hits_total") == 1
    assert value(samples, "fleetql_cache_hits_total", provider="dp") >= 1
    assert value(samples, "fleetql_cache_misses_total", provider="dp") >= 1
    assert value(samples, "fleetql_cache_evictions_total", provider="dp") == 1
    # The two aliased lookups went upstream as one batch of two names.
    assert value(samples, "fleetql_loader_batch_size_count", provider="dp") == 1
    assert value(samples, "fleetql_loader_batch_size_sum", provider="dp") == 2
    assert value(samples, "fleetql_circuit_state", provider="dp", state="closed") == 1
    assert value(samples, "fleetql_circuit_state", provider="dp", state="open") == 0


def test_failed_upstream_calls_are_counted_by_status_and_open_the_circuit(fresh):
    client, upstream = fresh()
    upstream.app.state.emulator.faults.error_rate = 1.0
    for _ in range(3):
        client.query("query account { account { name } }")
    samples = scrape(client)
    failed = upstream.app.state.emulator.request_log.count(path="/v0/graphql")
    assert failed >= 1
    assert total(samples, "fleetql_upstream_requests_total", provider="dp", status="503") == failed
    assert value(samples, "fleetql_graphql_requests_total", operation="account", outcome="error")
    assert value(samples, "fleetql_graphql_errors_total", code="PROVIDER_UNAVAILABLE") == 3
    assert value(samples, "fleetql_circuit_state", provider="dp", state="open") == 1


@pytest.mark.parametrize(
    ("path", "template"),
    [
        ("/v0/graphql", "/v0/graphql"),
        (
            "/metal/v1/devices/8f1c6f5e-2b1a-4c3d-9e8f-0a1b2c3d4e5f/actions",
            "/metal/v1/devices/{id}/actions",
        ),
        ("/metal/v1/projects/abc123/bgp/sessions", "/metal/v1/projects/{id}/bgp/sessions"),
        ("/v2/servers/4711/actions/93", "/v2/servers/{id}/actions/{id}"),
        ("/v2/customers/my/invoices", "/v2/customers/my/invoices"),
        ("/api/dci/v3/server/17/power_on", "/api/dci/v3/server/{id}/power_on"),
        ("/v1/product/dedicated-server/templates", "/v1/product/dedicated-server/templates"),
        ("/v1/rdns/10.0.0.1", "/v1/rdns/{id}"),
        ("/v1/servers/DP-12345", "/v1/servers/{id}"),
        ("/v1/servers/name%20with%20spaces", "/v1/servers/{id}"),
        ("/v1/" + "x" * 41, "/v1/{id}"),
    ],
)
def test_endpoint_templates_hide_ids(path, template):
    assert endpoint_template(path) == template


def test_label_values_are_capped():
    label = BoundedLabel(2)
    seen = [label(name) for name in ("a", "b", "c", "a", "d", "b")]
    assert seen == ["a", "b", OTHER, "a", OTHER, "b"]


def test_metrics_can_be_switched_off(datapacket_upstream):
    settings = settings_from_dict(
        {
            "providers": [datapacket_config(datapacket_upstream)],
            "tokens": TOKENS,
            "observability": {"metrics": False},
        }
    )
    with InProcessGateway(create_app(settings)) as server, server.client() as http:
        response = http.get("/metrics")
    assert response.status_code == 404
    assert response.json()["errors"][0]["extensions"]["code"] == "NOT_FOUND"


class _Gate:
    """ASGI wrapper that holds every upstream request until the test opens the gate."""

    def __init__(self, app) -> None:
        self.app = app
        self.arrived = threading.Event()
        self.open = threading.Event()

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http":
            self.arrived.set()
            await asyncio.to_thread(self.open.wait, 30)
        await self.app(scope, receive, send)


class _CliServer:
    """The gateway under uvicorn with the options ``fleetql serve`` uses, in a thread."""

    def __init__(self, settings) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        config = uvicorn.Config(create_app(settings), **uvicorn_options(settings))
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [sock]})
        self.thread.start()
        for _ in range(1000):
            if self.server.started:
                return
            time.sleep(0.01)
        raise AssertionError("the gateway did not start")

    def stop(self) -> None:
        """What SIGTERM does: stop accepting, let in-flight requests finish, shut down."""
        self.server.should_exit = True
        self.thread.join(60)


@pytest.fixture
def gated() -> Iterator[tuple[_Gate, _CliServer]]:
    """A DataPacket emulator behind a gate, and a gateway over it run as `serve` runs it."""
    gate = _Gate(datapacket_emulator.create_app(size=10, seed=1))
    with serving(gate) as upstream:
        settings = settings_from_dict(
            {
                "providers": [datapacket_config(upstream)],
                "tokens": TOKENS,
                "server": {"shutdown_timeout": 30},
            }
        )
        gateway = _CliServer(settings)
        try:
            yield gate, gateway
        finally:
            gate.open.set()
            gateway.stop()


def test_in_flight_request_is_counted_and_finishes_on_shutdown(gated):
    gate, gateway = gated
    answers: list[httpx.Response] = []

    def ask() -> None:
        body = {"query": "query account { account { name } }"}
        answers.append(httpx.post(f"{gateway.url}/graphql", json=body, headers=FULL_HEADERS))

    query = threading.Thread(target=ask)
    query.start()
    assert gate.arrived.wait(30), "the query never reached the upstream"
    metrics = httpx.get(f"{gateway.url}/metrics").text
    assert "fleetql_graphql_requests_in_flight 1.0" in metrics.splitlines()

    # Shutdown begins (the gateway stops accepting connections) with the request in flight;
    # it waits for the request, up to server.shutdown_timeout.
    stopping = threading.Thread(target=gateway.stop)
    stopping.start()
    _wait_until_refused(gateway.url)
    gate.open.set()
    query.join(30)
    stopping.join(60)
    assert not stopping.is_alive()
    assert len(answers) == 1
    assert answers[0].status_code == 200
    assert answers[0].json()["data"]["account"]["name"]


def _wait_until_refused(url: str) -> None:
    for _ in range(1000):
        try:
            httpx.get(f"{url}/healthz", timeout=1)
        except httpx.TransportError:
            return
        time.sleep(0.01)
    raise AssertionError("the gateway kept accepting connections")


def test_serve_hands_the_configured_shutdown_deadline_to_uvicorn():
    settings = settings_from_dict(
        {
            "providers": [{"id": "dp", "kind": "datapacket", "token": "t"}],
            "tokens": TOKENS,
            "server": {"shutdown_timeout": 7},
            "observability": {"log_level": "debug"},
        }
    )
    options = uvicorn_options(settings)
    assert options["timeout_graceful_shutdown"] == 7
    assert options["log_level"] == "debug"
    assert options["access_log"] is False
