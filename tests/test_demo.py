"""The embedded default (``make run``): every emulator, one provider of each kind, demo tokens,
and CORS open to frontends under development on this machine."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from gateway.app import create_app
from gateway.demo import DEMO_BACKENDS, DEMO_FULL_ACCESS, DEMO_READ_ONLY, start_demo_backends
from gateway.settings import ConfigError, settings_from_dict
from providers.statuses import deprecated_status
from tests.conftest import GatewayClient, datapacket_config, error_codes, start_gateway
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


def preflight(client: GatewayClient, origin: str) -> httpx.Response:
    """A browser's CORS preflight for a POST of JSON with a bearer token."""
    return client.http.options(
        "/graphql",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )


@pytest.mark.parametrize(
    "origin", ["http://localhost:5173", "http://127.0.0.1:3000", "http://localhost"]
)
def test_the_demo_allows_frontends_under_development_on_any_local_port(demo, origin):
    response = preflight(demo, origin)
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == origin


@pytest.mark.parametrize(
    "origin",
    ["https://localhost:5173", "http://localhost.evil.example", "http://evil.example:5173"],
)
def test_the_demo_refuses_other_origins(demo, origin):
    response = preflight(demo, origin)
    assert response.status_code == 400
    assert error_codes(response.json()) == ["BAD_REQUEST"]
    assert "access-control-allow-origin" not in response.headers


def test_a_configured_gateway_allows_no_origin_by_default(gateway):
    response = preflight(gateway, "http://localhost:5173")
    assert response.status_code >= 400
    assert response.headers["content-type"].startswith("application/json")
    assert error_codes(response.json()) == ["BAD_REQUEST"]
    assert "access-control-allow-origin" not in response.headers


def test_cors_origin_regex_is_a_server_key(datapacket_upstream):
    server = start_gateway(
        [datapacket_config(datapacket_upstream)],
        cors_origin_regex=r"https://[a-z]+\.example\.com",
    )
    try:
        client = GatewayClient(server)
        allowed = preflight(client, "https://app.example.com")
        refused = preflight(client, "https://app.example.com.evil.example")
    finally:
        server.stop()
    assert allowed.headers["access-control-allow-origin"] == "https://app.example.com"
    assert refused.status_code == 400
    assert error_codes(refused.json()) == ["BAD_REQUEST"]


def test_an_unreadable_cors_origin_regex_is_a_configuration_error():
    with pytest.raises(ConfigError, match=r"server\.cors_origin_regex: not a regular expression"):
        settings_from_dict(
            {
                "server": {"cors_origin_regex": "http://(localhost"},
                "providers": [{"id": "dp", "kind": "datapacket", "token": "t"}],
                "tokens": [{"name": "n", "scope": "read-only", "token": "client"}],
            }
        )


def count_servers(client: GatewayClient, filter: dict) -> int:
    """How many servers of the demo a ``ServersInput`` selects."""
    return client.data(
        "query N($input: PaginatedServersInput) { servers(input: $input) { entriesTotalCount } }",
        {"input": {"pageSize": 1, "filter": filter}},
        token=DEMO_READ_ONLY,
    )["servers"]["entriesTotalCount"]


def test_the_deprecated_status_follows_status_v2_alike_on_every_kind(demo):
    unreachable = 0
    for backend in DEMO_BACKENDS:
        of_kind = {"provider_in": [backend.kind]}
        v2 = {
            status: count_servers(demo, {**of_kind, "serverStatusV2_in": [status]})
            for status in ("ACTIVE", "UNREACHABLE", "MAINTENANCE", "PROVISIONING", "WAITING")
        }
        v1 = {
            status: count_servers(demo, {**of_kind, "serverStatus_in": [status]})
            for status in ("IN_PRODUCTION", "IN_MAINTENANCE", "PROVISIONING", "INSTALLING")
        }
        # DataPacket: "Use ServerStatusV2.X instead" for each old value; UNREACHABLE servers
        # are still in production, and DISCONNECTED "is no longer used".
        assert v1 == {
            "IN_PRODUCTION": v2["ACTIVE"] + v2["UNREACHABLE"],
            "IN_MAINTENANCE": v2["MAINTENANCE"],
            "PROVISIONING": v2["PROVISIONING"],
            "INSTALLING": v2["WAITING"],
        }, backend.kind
        assert count_servers(demo, {**of_kind, "serverStatus_in": ["DISCONNECTED"]}) == 0
        assert sum(v2.values()) == count_servers(demo, of_kind) > 0
        unreachable += v2["UNREACHABLE"]
    assert unreachable > 0  # the demo has unreachable servers, so the rule is exercised
    servers = demo.data(
        "{ servers(input: {pageSize: 50}) { entries { status statusV2 } } }", token=DEMO_READ_ONLY
    )["servers"]["entries"]
    assert all(s["status"] == deprecated_status(s["statusV2"]) for s in servers)


def test_cpu_count_is_physical_cpus_or_null_on_every_kind(demo):
    counts: dict[tuple[str, bool], set] = {}  # (kind, a "vCPU") -> the counts seen
    index, last = 0, False
    while not last:
        page = demo.data(
            "query P($i: Int) { servers(input: {pageIndex: $i}) { isLastPage entries "
            "{ provider { kind } hardware { cpus { count name } } } } }",
            {"i": index},
            token=DEMO_READ_ONLY,
        )["servers"]
        for server in page["entries"]:
            for cpu in server["hardware"]["cpus"]:
                key = (server["provider"]["kind"], cpu["name"] == "vCPU")
                counts.setdefault(key, set()).add(cpu["count"])
        index, last = index + 1, page["isLastPage"]
    # DataPacket and the dedicated servers' plans state their sockets; virtual servers' vCPUs
    # (Mammoth, dashserv vServers) are no sockets, and a DCImanager configuration name without
    # an "<n>x" prefix states none: null, never a default of 1.
    assert None not in counts[("DATAPACKET", False)] | counts[("PACKET", False)]
    assert None not in counts[("DASHSERV", False)]
    assert counts[("DASHSERV", True)] == {None}
    assert set().union(*(c for (kind, _), c in counts.items() if kind == "MAMMOTH")) == {None}
    assert None in counts[("DCIMANAGER", False)]
    assert all(n is None or n >= 1 for c in counts.values() for n in c)
