"""The embedded default (``make run``): every emulator, one provider of each kind, demo tokens."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from gateway.app import create_app
from gateway.demo import DEMO_BACKENDS, DEMO_FULL_ACCESS, DEMO_READ_ONLY, start_demo_backends
from tests.conftest import GatewayClient, error_codes
from tests.servers import InProcessGateway, stop_soon


@pytest.fixture(scope="module")
def demo() -> Iterator[GatewayClient]:
    backends = start_demo_backends(size=40)
    server = InProcessGateway(create_app(backends.settings, demo_token=DEMO_FULL_ACCESS)).start()
    yield GatewayClient(server)
    server.stop()
    stop_soon([backends])


def test_every_demo_provider_is_reachable(demo):
    providers = demo.data("{ providers { id kind reachable } }", token=DEMO_READ_ONLY)
    assert [(p["id"], p["reachable"]) for p in providers["providers"]] == [
        (backend.kind, True) for backend in DEMO_BACKENDS
    ]


def test_amsterdam_servers_come_from_several_providers(demo):
    page = demo.data(
        '{ servers(input: {filter: {location_in: ["Amsterdam"]}}) '
        "{ entriesTotalCount entries { name location { name } provider { kind } } } }",
        token=DEMO_FULL_ACCESS,
    )["servers"]
    assert {s["location"]["name"] for s in page["entries"]} == {"Amsterdam"}
    assert len({s["provider"]["kind"] for s in page["entries"]}) >= 2


def test_the_seed_curl_example_runs_against_the_demo(demo):
    body = demo.query(
        "mutation performServerPowerAction($input: PerformServerPowerActionInput!) "
        "{ performServerPowerAction(input: $input) { server { name } } }",
        {"input": {"server": {"name": "DP-12345"}, "action": "ON"}},
        token=DEMO_FULL_ACCESS,
    )
    assert body == {"data": {"performServerPowerAction": {"server": {"name": "DP-12345"}}}}
    read_only = demo.query(
        'mutation { setServerTag(input: {server: {name: "DP-12345"}, key: "k", value: "v"}) }',
        token=DEMO_READ_ONLY,
    )
    assert error_codes(read_only) == ["NOT_AUTHORIZED"]
