"""dashserv through the gateway, against its emulator over loopback HTTP.

Upstream calls are counted from the emulator's request log (``operation`` names the route).
The gateway learns the ``dashserv`` kind from a patched ``PROVIDER_KINDS`` until it is
registered in ``providers/registry.py``.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from emulators.dashserv.app import create_app
from emulators.kit import EmulatorServer
from gateway.settings import ConfigError, settings_from_dict
from providers.dashserv import adapter as adapter_module
from providers.dashserv.adapter import DashservProvider
from providers.registry import PROVIDER_KINDS
from tests.conftest import READ, TOKENS, GatewayClient, error_codes, start_gateway
from tests.servers import InProcessGateway, serving, stop_all, stop_soon

SERVERS = "query($input: PaginatedServersInput) { servers(input: $input) { entriesTotalCount entries { %s } } }"  # noqa: E501
POWER = """mutation($name: String!, $action: PowerAction!) {
  performServerPowerAction(input: {server: {name: $name}, action: $action}) {
    server { name powerStatus }
  }
}"""
PER_SERVER = ("status", "network", "installation")


def dashserv_config(upstream: EmulatorServer, **extra: Any) -> dict[str, Any]:
    """A ``[[providers]]`` table for a dashserv emulator."""
    return {
        "id": "ds",
        "kind": "dashserv",
        "base_url": f"{upstream.url}/v1",
        "token": "dashserv-emulator-write",
        # One retry, paused 0.35-0.7 s (half the backoff at least): past the emulator's
        # 0.3 s rate-limit window in the tests that use one.
        "retries": 1,
        "retry_backoff": 0.7,
        **extra,
    }


def log_of(upstream: EmulatorServer):
    return upstream.app.state.emulator.request_log


def calls(upstream: EmulatorServer, suffix: str | None = None, method: str | None = None) -> int:
    """Logged upstream requests whose operation ends with ``suffix``."""
    return sum(
        1
        for entry in log_of(upstream).entries()
        if (suffix is None or (entry.operation or "").endswith(suffix))
        and (method is None or entry.method == method)
    )


def per_server_calls(upstream: EmulatorServer) -> int:
    return sum(calls(upstream, f".{kind}") for kind in PER_SERVER)


@pytest.fixture(scope="module")
def registered() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(PROVIDER_KINDS, "dashserv", DashservProvider)
        yield


@pytest.fixture(scope="module")
def upstream(registered) -> Iterator[EmulatorServer]:
    """A shared emulator for tests that do not change state."""
    with serving(create_app(size=40, seed=1)) as server:
        # Counting calls needs every read to reach the emulator: no cross-request caching.
        server.app.state.emulator.faults.cache_control = "no-store"
        yield server


@pytest.fixture(scope="module")
def client(upstream: EmulatorServer) -> Iterator[GatewayClient]:
    server = start_gateway([dashserv_config(upstream)])
    yield GatewayClient(server)
    server.stop()


@pytest.fixture
def fresh(registered) -> Iterator[Callable[..., tuple[GatewayClient, EmulatorServer]]]:
    """Private emulator + gateway pairs, for tests that change state or faults."""
    gateways: list[InProcessGateway] = []
    upstreams: list[EmulatorServer] = []

    def make(
        config: dict | None = None, *, cache: bool = False, **options: Any
    ) -> tuple[GatewayClient, EmulatorServer]:
        upstream = EmulatorServer(create_app(**{"size": 12, "seed": 2, **options})).start()
        upstreams.append(upstream)
        if not cache:
            upstream.app.state.emulator.faults.cache_control = "no-store"
        gateway = start_gateway([dashserv_config(upstream, **(config or {}))])
        gateways.append(gateway)
        return GatewayClient(gateway), upstream

    yield make
    stop_all(gateways)
    stop_soon(upstreams)


def servers(client: GatewayClient, fields: str, **input: Any) -> dict:
    return client.data(SERVERS % fields, {"input": input})["servers"]


# --- listing ------------------------------------------------------------------------------


def test_both_products_are_listed_with_their_fields(client, upstream):
    fleet = upstream.app.state.fleet
    page = servers(
        client,
        "name alias provider { id kind } location { name region short } "
        "hardware { cpus { count name } rams { count size } hdds { count storage { size type } } }"
        " network { ipAddresses { ip isPrimary type } uplinkCapacity ddosShieldLevel "
        "ipmi { ip username } } system { os { name } raid } powerStatus statusV2 status uptime "
        "tags { key value } billing { subscriptionItem { price } } hostname trafficPlan { name }",
    )
    assert page["entriesTotalCount"] == 40
    expected = [f"DS-{p.uuid}" for p in fleet.products if p.kind == "dedicated-server"]
    expected += [f"DS-{p.uuid}" for p in fleet.products if p.kind == "vserver"]
    assert [s["name"] for s in page["entries"]] == expected
    first = page["entries"][0]
    assert first["provider"] == {"id": "ds", "kind": "DASHSERV"}
    assert first["network"]["ipAddresses"][0]["isPrimary"] is True
    assert first["system"]["raid"] == "UNKNOWN" and first["tags"] == []
    vserver = next(s for s in page["entries"] if s["hardware"]["cpus"][0]["name"] == "vCPU")
    assert vserver["uptime"] is not None and vserver["system"]["os"]["name"]
    cities = {s["location"]["short"] for s in page["entries"]}
    assert {"AMS", "FRA", "LON", "NYC", "SIN"} <= cities


def test_selecting_only_name_makes_no_per_server_calls(client, upstream):
    log_of(upstream).clear()
    page = servers(client, "name", pageSize=50)
    assert page["entriesTotalCount"] == 40
    assert per_server_calls(upstream) == 0
    assert calls(upstream) == 2  # the two product lists


def test_reads_are_cached_across_requests_until_a_write(fresh):
    client, upstream = fresh(cache=True, power_delay=0.0)
    servers(client, "name powerStatus")
    log_of(upstream).clear()
    servers(client, "name powerStatus")
    assert calls(upstream) == 0
    vserver = product_of(upstream, "vserver")
    client.data(POWER, {"name": f"DS-{vserver.uuid}", "action": "OFF"})
    log_of(upstream).clear()
    page = servers(client, "name powerStatus")
    # The write cleared the cache; the mutation's own read-back of the status is cached again.
    assert calls(upstream, ".list") == 2 and calls(upstream, ".status") == 11
    assert {"name": f"DS-{vserver.uuid}", "powerStatus": "OFF"} in page["entries"]


def test_per_server_calls_only_for_the_page_and_the_selected_fields(client, upstream):
    log_of(upstream).clear()
    page = servers(client, "name powerStatus", pageSize=5, pageIndex=1)
    assert len(page["entries"]) == 5
    assert calls(upstream, ".status") == 5
    assert calls(upstream, ".network") == calls(upstream, ".installation") == 0


def test_filters_apply_with_exact_totals(client, upstream):
    everything = servers(client, "name location { short } powerStatus", pageSize=50)["entries"]
    in_amsterdam = [s["name"] for s in everything if s["location"]["short"] == "AMS"]
    off = [s["name"] for s in everything if s["powerStatus"] == "OFF"]
    page = servers(client, "name", filter={"location_in": ["Amsterdam"]}, pageSize=2)
    assert page["entriesTotalCount"] == len(in_amsterdam)
    assert [s["name"] for s in page["entries"]] == in_amsterdam[:2]
    page = servers(client, "name", filter={"powerStatus_in": ["OFF"]})
    assert [s["name"] for s in page["entries"]] == off
    page = servers(client, "name", filter={"region_in": ["Asia"], "provider_in": ["ds"]})
    assert page["entriesTotalCount"] >= 1


def test_lookup_by_name_alias_and_ip(client, upstream):
    vserver = next(p for p in upstream.app.state.fleet.products if p.kind == "vserver")
    ip = vserver.obj["network"]["public"]["ipv4"]["ip"]
    query = "query($s: ServerInput!) { server(input: $s) { name alias } }"
    by_name = client.data(query, {"s": {"name": f"DS-{vserver.uuid}"}})["server"]
    assert by_name == {"name": f"DS-{vserver.uuid}", "alias": vserver.obj["name"]}
    assert client.data(query, {"s": {"ip": ip}})["server"]["name"] == f"DS-{vserver.uuid}"
    missing = client.query(query, {"s": {"name": "DS-nOpE9"}})
    assert error_codes(missing) == ["NOT_FOUND"]


def test_power_status_of_50_servers_stays_within_the_concurrency_bound(fresh):
    client, upstream = fresh({"max_concurrency": 4}, size=50)
    upstream.app.state.emulator.faults.latency_ms = 20
    upstream.app.state.in_flight.reset()
    log_of(upstream).clear()
    page = servers(client, "name powerStatus", pageSize=50)
    assert len(page["entries"]) == 50
    assert calls(upstream, ".status") == 50
    assert 1 < upstream.app.state.in_flight.maximum <= 4


# --- power --------------------------------------------------------------------------------


def product_of(upstream: EmulatorServer, kind: str):
    return next(p for p in upstream.app.state.fleet.products if p.kind == kind)


@pytest.mark.parametrize(
    ("kind", "action", "upstream_action"),
    [
        ("dedicated-server", "ON", "start"),
        ("dedicated-server", "SOFT", "shutdown"),
        ("dedicated-server", "RESET", "reset"),
        ("dedicated-server", "CYCLE", "reset"),
        ("vserver", "ON", "start"),
        ("vserver", "OFF", "stop"),
        ("vserver", "SOFT", "shutdown"),
        ("vserver", "RESET", "reset"),
        ("vserver", "CYCLE", "reset"),
    ],
)
def test_one_upstream_call_per_power_mutation(fresh, kind, action, upstream_action):
    client, upstream = fresh(power_delay=0.0)
    product = product_of(upstream, kind)
    log_of(upstream).clear()
    result = client.data(POWER, {"name": f"DS-{product.uuid}", "action": action})
    assert result["performServerPowerAction"]["server"]["name"] == f"DS-{product.uuid}"
    actions = [e.path for e in log_of(upstream).entries() if e.method == "POST"]
    assert actions == [f"/v1/product/{kind}/{product.uuid}/actions/{upstream_action}"]
    expected = "OFF" if upstream_action in ("stop", "shutdown") else "ON"
    assert result["performServerPowerAction"]["server"]["powerStatus"] == expected


def test_dedicated_off_is_not_supported_and_nothing_is_written(fresh):
    client, upstream = fresh()
    product = product_of(upstream, "dedicated-server")
    log_of(upstream).clear()
    body = client.query(POWER, {"name": f"DS-{product.uuid}", "action": "OFF"})
    assert error_codes(body) == ["NOT_SUPPORTED"]
    assert body["errors"][0]["extensions"]["provider"] == "ds"
    assert calls(upstream, method="POST") == 0


def test_unsupported_operations_make_no_upstream_call(client, upstream):
    log_of(upstream).clear()
    body = client.query(
        'mutation { setServerAlias(input: {server: {name: "DS-abcde"}, alias: "x"}) '
        "{ server { name } } }"
    )
    assert error_codes(body) == ["NOT_SUPPORTED"]
    assert calls(upstream) == 0


# --- upstream errors ----------------------------------------------------------------------


def test_read_only_upstream_token_is_not_authorized_on_writes(fresh):
    client, upstream = fresh({"token": "dashserv-emulator-read"})
    product = product_of(upstream, "vserver")
    assert servers(client, "name")["entriesTotalCount"] == 12
    body = client.query(POWER, {"name": f"DS-{product.uuid}", "action": "ON"})
    assert error_codes(body) == ["NOT_AUTHORIZED"]
    assert body["errors"][0]["extensions"]["provider"] == "ds"
    assert "dashserv-emulator" not in body["errors"][0]["message"]


def test_unknown_upstream_token_is_not_authorized(fresh):
    client, _ = fresh({"token": "wrong"})
    body = client.query(SERVERS % "name", {"input": {}})
    assert error_codes(body) == ["NOT_AUTHORIZED"]


def test_rate_limited_reads_are_retried_after_a_pause(fresh):
    client, upstream = fresh(rate_limit=(2, 0.3))
    assert servers(client, "name")["entriesTotalCount"] == 12
    log_of(upstream).clear()
    assert servers(client, "name")["entriesTotalCount"] == 12  # 503 first, then retried
    statuses = [e.status for e in log_of(upstream).entries()]
    assert 503 in statuses and statuses.count(200) == 2


def test_persistent_rate_limit_is_provider_unavailable(fresh):
    client, upstream = fresh()
    upstream.app.state.emulator.faults.update({"error_rate": 1.0, "error_status": 503})
    body = client.query(SERVERS % "name", {"input": {}})
    assert error_codes(body) == ["PROVIDER_UNAVAILABLE"]
    # Two lists, each tried at most twice (one retry delay configured). The first to give up
    # answers the request, so only the most-tried list's count is exact.
    tries = Counter(entry.path for entry in log_of(upstream).entries())
    assert len(tries) == 2 and max(tries.values()) == 2 and min(tries.values()) >= 1


def test_a_failing_lookup_makes_no_write(fresh):
    client, upstream = fresh()
    product = product_of(upstream, "vserver")
    upstream.app.state.emulator.faults.update({"error_rate": 1.0, "error_status": 500})
    log_of(upstream).clear()
    body = client.query(POWER, {"name": f"DS-{product.uuid}", "action": "ON"})
    assert error_codes(body) == ["PROVIDER_UNAVAILABLE"]
    # The product lookup (a read) failed: nothing was written, so the outcome is known.
    assert calls(upstream, method="POST") == 0
    assert "outcome" not in body["errors"][0]["extensions"]


def test_malformed_answer_is_provider_unavailable(fresh):
    client, upstream = fresh()
    upstream.app.state.emulator.faults.malformed = True
    body = client.query(SERVERS % "name", {"input": {}})
    assert error_codes(body) == ["PROVIDER_UNAVAILABLE"]


def test_wrong_base_url_is_provider_unavailable(fresh):
    _, upstream = fresh()
    gateway = start_gateway([dashserv_config(upstream, base_url=f"{upstream.url}/v2")])
    try:
        body = GatewayClient(gateway).query(SERVERS % "name", {"input": {}})
    finally:
        gateway.stop()
    assert error_codes(body) == ["PROVIDER_UNAVAILABLE"]


def test_read_only_client_token_never_reaches_the_upstream(client, upstream):
    log_of(upstream).clear()
    body = client.query(POWER, {"name": "DS-abcde", "action": "ON"}, token=READ)
    assert error_codes(body) == ["NOT_AUTHORIZED"]
    assert calls(upstream) == 0


# --- stock and traffic --------------------------------------------------------------------


STOCK = """query($input: PaginatedInstantDeliveryServersInput) {
  instantDeliveryServers(input: $input) { entriesTotalCount entries { %s } }
}"""


def test_instant_delivery_lists_every_unit_in_stock(client, upstream):
    stock = {m["uuid"]: m["stock"] for m in upstream.app.state.fleet.models}
    log_of(upstream).clear()
    page = client.data(STOCK % "name uplinkCapacity", {"input": {}})["instantDeliveryServers"]
    assert page["entriesTotalCount"] == sum(stock.values())
    assert calls(upstream) == 1  # the marketplace only: no location selected
    names = [entry["name"] for entry in page["entries"]]
    assert names[:2] == ["DS-Fzasc-1", "DS-Fzasc-2"]
    located = client.data(
        STOCK % "name location { name }", {"input": {"filter": {"location_in": ["London"]}}}
    )["instantDeliveryServers"]
    assert located["entriesTotalCount"] == stock["rY36n"]
    assert {e["location"]["name"] for e in located["entries"]} == {"London"}
    one = client.data('{ instantDeliveryServer(input: {name: "DS-Fzasc-2"}) { name } }')
    assert one["instantDeliveryServer"] == {"name": "DS-Fzasc-2"}


def test_traffic_of_vservers_from_the_stats_endpoint(client, upstream):
    now = datetime.now(UTC)
    query = """query($input: TrafficInput!) { traffic(input: $input) { aggregated {
      statisticsIn { sum average maximum last p95 } statisticsOut { average } } } }"""
    variables = {
        "input": {
            "from": (now - timedelta(minutes=30)).isoformat().replace("+00:00", "Z"),
            "to": now.isoformat().replace("+00:00", "Z"),
        }
    }
    log_of(upstream).clear()
    aggregated = client.data(query, variables)["traffic"]["aggregated"]
    vservers = sum(1 for p in upstream.app.state.fleet.products if p.kind == "vserver")
    assert calls(upstream, ".stats") == vservers
    assert all(
        e.query == {"timeframe": "hour"}
        for e in log_of(upstream).entries()
        if (e.operation or "").endswith(".stats")
    )
    incoming = aggregated["statisticsIn"]
    assert 0 < incoming["average"] <= incoming["maximum"]
    assert incoming["sum"] > incoming["average"]


def test_a_step_boundary_passed_in_flight_does_not_shift_the_series(client, upstream, monkeypatch):
    """Stats points carry only a time of day, placed at or before the gateway's "now".

    The gateway's clock reads 15 minutes slow until the emulator has answered: every point of
    the series (per minute, ending at the emulator's now) is then stamped after the request
    began, and must still land today, not a day early.
    """
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    window = {"from": (now - timedelta(minutes=30)).isoformat(), "to": now.isoformat()}
    query = """query($input: TrafficInput!) { traffic(input: $input) { aggregated {
      statisticsIn { sum maximum } statisticsOut { sum } } } }"""
    steady = client.data(query, {"input": window})["traffic"]["aggregated"]
    assert steady["statisticsIn"]["sum"] > 0

    class LaggingClock:
        """``time`` as the adapter sees it: 15 minutes slow before any stats call is served."""

        def __getattr__(self, name: str) -> Any:
            return getattr(time, name)

        @staticmethod
        def time() -> float:
            served = calls(upstream, ".stats")
            return time.time() - (900 if served == 0 else 0)

    log_of(upstream).clear()
    monkeypatch.setattr(adapter_module, "time", LaggingClock())
    lagged = client.data(query, {"input": window})["traffic"]["aggregated"]
    assert calls(upstream, ".stats") > 0
    assert lagged == steady


def test_beside_datapacket(registered, datapacket_upstream, upstream):
    gateway = start_gateway(
        [
            {
                "id": "dp",
                "kind": "datapacket",
                "base_url": f"{datapacket_upstream.url}/v0/graphql",
                "token": "dp-emulator-full",
            },
            dashserv_config(upstream),
        ]
    )
    try:
        client = GatewayClient(gateway)
        page = servers(client, "name provider { id }", pageSize=50, pageIndex=0)
        assert page["entriesTotalCount"] == 40 + 40
        units = sum(model["stock"] for model in upstream.app.state.fleet.models)
        stock = client.data(STOCK % "name", {"input": {"pageSize": 50, "pageIndex": 1}})
        stock = stock["instantDeliveryServers"]
        assert stock["entriesTotalCount"] == 75 + units  # DataPacket's 75, then dashserv's
        assert stock["entries"][-1]["name"].startswith("DS-")
        # Two providers with traffic: the gateway combines their series (traffic_series).
        now = datetime.now(UTC)
        traffic = client.data(
            "query($f: DateTime!, $t: DateTime!) { traffic(input: {from: $f, to: $t}) "
            "{ aggregated { statisticsOut { average } } } }",
            {"f": (now - timedelta(hours=6)).isoformat(), "t": now.isoformat()},
        )
        assert traffic["traffic"]["aggregated"]["statisticsOut"]["average"] > 0
        providers = client.data("{ providers { id kind reachable capabilities } }")["providers"]
        dashserv = next(p for p in providers if p["id"] == "ds")
        assert dashserv["kind"] == "DASHSERV" and dashserv["reachable"] is True
        assert sorted(dashserv["capabilities"]) == [
            "instantDeliveryServers",
            "performServerPowerAction",
            "servers",
            "traffic",
        ]
    finally:
        gateway.stop()


# --- configuration ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("keys", "problem"),
    [
        ({"token": "t"}, None),
        ({"token": "t", "max_concurrency": 16}, None),
        ({}, "token: is required"),
        ({"token": "t", "concurrency": 16}, "concurrency: is not a key any more"),
        ({"token": "t", "max_concurrency": 0}, "max_concurrency: must be at least 1"),
        ({"token": "t", "max_concurrency": "8"}, "max_concurrency: must be an integer"),
        ({"token": "t", "max_concurrency": True}, "max_concurrency: must be an integer"),
    ],
)
def test_the_table_is_validated(keys, problem):
    config = {"providers": [{"id": "ds", "kind": "dashserv", **keys}], "tokens": TOKENS}
    if problem is None:
        settings_from_dict(config)
    else:
        with pytest.raises(ConfigError, match=rf"^<dict>: providers\[0\]\.{problem}"):
            settings_from_dict(config)
