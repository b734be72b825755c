"""The Mammoth adapter against its emulator over loopback HTTP; upstream calls are counted."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from errors import NotAuthorized, NotFound, NotSupported, ProviderUnavailable
from gateway.settings import ConfigError, settings_from_dict
from providers.base import ProviderConfig, ServerFilter, ServerKey, TrafficQuery
from providers.mammoth.adapter import ActionLog, MammothProvider
from providers.selection import Selection
from tests.conftest import TOKENS, listed
from tests.providers.mammoth.conftest import adapter_for

NAME = Selection.of({"name": {}})
CARD = Selection.of({"name": {}, "powerStatus": {}, "statusV2": {}, "location": {"short": {}}})


def log_of(server):
    return server.app.state.emulator.request_log


async def test_listing_walks_every_page_and_returns_an_exact_total(upstream):
    adapter = adapter_for(upstream, per_page=7)
    log_of(upstream).clear()
    try:
        page = await listed(adapter.list_servers(ServerFilter(), 10, 12, NAME))
    finally:
        await adapter.close()
    fleet_ids = sorted(upstream.app.state.fleet.servers)
    assert page.total == 30
    assert [s["name"] for s in page.entries] == [f"MC-{i}" for i in fleet_ids[10:22]]
    pages = [e.query["page"] for e in log_of(upstream).entries() if e.path == "/v2/servers"]
    assert pages == ["1", "2", "3", "4", "5"]  # 30 servers, 7 per page


async def test_filters_the_api_cannot_apply_are_applied_to_the_whole_list(upstream):
    adapter = adapter_for(upstream)
    try:
        everything = await listed(adapter.list_servers(ServerFilter(), 0, 100, CARD))
        sydney = await listed(adapter.list_servers(ServerFilter(location_in=("syd",)), 0, 2, CARD))
        on = await listed(adapter.list_servers(ServerFilter(powerStatus_in=("ON",)), 0, 100, CARD))
    finally:
        await adapter.close()
    expected = [s for s in everything.entries if s["location"]["short"] == "SYD"]
    assert sydney.total == len(expected) > 2
    assert sydney.entries == expected[:2]
    assert on.total == sum(s["powerStatus"] == "ON" for s in everything.entries)


async def test_a_few_names_are_read_by_id_and_unknown_names_are_absent(upstream):
    adapter = adapter_for(upstream)
    first, second = sorted(upstream.app.state.fleet.servers)[:2]
    log_of(upstream).clear()
    try:
        found = await adapter.servers_by_name(
            [f"MC-{first}", f"mc-{second}", "MC-1", "MC-abc", "DP-123"], CARD
        )
    finally:
        await adapter.close()
    assert set(found) == {f"MC-{first}", f"mc-{second}"}
    assert found[f"mc-{second}"]["name"] == f"MC-{second}"
    paths = sorted(e.path for e in log_of(upstream).entries())
    assert paths == sorted([f"/v2/servers/{first}", f"/v2/servers/{second}", "/v2/servers/1"])


async def test_many_names_are_one_listing(upstream):
    adapter = adapter_for(upstream)
    names = [f"MC-{i}" for i in sorted(upstream.app.state.fleet.servers)[:20]]
    log_of(upstream).clear()
    try:
        found = await adapter.servers_by_name(names, NAME)
    finally:
        await adapter.close()
    assert sorted(found) == sorted(names)
    assert log_of(upstream).count() == 1


async def test_the_traffic_plan_costs_one_call_and_only_when_selected(upstream):
    adapter = adapter_for(upstream)
    log_of(upstream).clear()
    try:
        plain = await listed(adapter.list_servers(ServerFilter(), 0, 5, NAME))
        assert log_of(upstream).count() == 1 and "trafficPlan" not in plain.entries[0]
        with_plan = await listed(
            adapter.list_servers(ServerFilter(), 0, 5, Selection.of({"trafficPlan": {"name": {}}}))
        )
    finally:
        await adapter.close()
    assert log_of(upstream).count(path="/v2/data_usages/current") == 1
    usages = upstream.app.state.fleet.data_usages
    first = int(with_plan.entries[0]["name"].removeprefix("MC-"))
    assert with_plan.entries[0]["trafficPlan"] == {
        "name": f"{usages[first]['transfer_gigabytes']} GB"
    }


async def test_lookups_by_alias_ipmi_or_tag_match_nothing_without_a_call(upstream):
    adapter = adapter_for(upstream)
    log_of(upstream).clear()
    try:
        for key in (
            ServerKey(alias="web"),
            ServerKey(ipmiIp="10.0.0.1"),
            ServerKey(tag=("a", "b")),
        ):
            assert await adapter.find_servers(key, NAME) == []
        server = next(iter(upstream.app.state.fleet.servers.values()))
        ip = server["networks"]["v4"][0]["ip_address"]
        found = await adapter.find_servers(ServerKey(ip=ip), NAME)
        assert [s["name"] for s in found] == [f"MC-{server['id']}"]
    finally:
        await adapter.close()
    assert log_of(upstream).count() == 1


def _server_with(fresh, status: str):
    return next(s for s in fresh.app.state.fleet.servers.values() if s["status"] == status)


@pytest.mark.parametrize(
    ("action", "kind", "status"),
    [
        ("ON", "power_on", "active"),
        ("OFF", "power_off", "off"),
        ("SOFT", "shutdown", "off"),
        ("CYCLE", "power_cycle", "active"),
        ("RESET", "power_cycle", "active"),
    ],
)
async def test_each_power_action_is_one_upstream_action_of_the_documented_type(
    fresh_upstream, action, kind, status
):
    upstream = fresh_upstream(action_delay=0)
    server = _server_with(upstream, "off" if action == "ON" else "active")
    adapter = adapter_for(upstream)
    log_of(upstream).clear()
    try:
        result = await adapter.perform_power_action(f"MC-{server['id']}", action, CARD)
    finally:
        await adapter.close()
    posts = [e for e in log_of(upstream).entries() if e.method == "POST"]
    assert [(p.path, p.body) for p in posts] == [
        (f"/v2/servers/{server['id']}/actions", {"type": kind})
    ]
    assert server["status"] == status
    assert result["powerStatus"] == ("ON" if status == "active" else "OFF")


async def test_a_power_action_is_sent_once_even_when_the_upstream_fails(fresh_upstream):
    upstream = fresh_upstream()
    server = _server_with(upstream, "active")
    upstream.app.state.emulator.faults.error_rate = 1.0
    adapter = adapter_for(upstream)
    try:
        with pytest.raises(ProviderUnavailable) as failure:
            await adapter.perform_power_action(f"MC-{server['id']}", "OFF", CARD)
    finally:
        await adapter.close()
    assert failure.value.extensions["outcome"] == "unknown"
    assert failure.value.provider == "mc"
    assert log_of(upstream).count(method="POST") == 1
    assert log_of(upstream).count() == 1


async def test_a_refused_power_action_is_a_validation_failure_sent_once(fresh_upstream):
    upstream = fresh_upstream()
    server = _server_with(upstream, "archive")
    adapter = adapter_for(upstream)
    try:
        with pytest.raises(Exception) as failure:
            await adapter.perform_power_action(f"MC-{server['id']}", "ON", CARD)
    finally:
        await adapter.close()
    assert failure.value.extensions["code"] == "VALIDATION_FAILED"
    assert "problem" not in failure.value.message.casefold()
    assert log_of(upstream).count(method="POST") == 1


async def test_power_on_an_unknown_or_foreign_server_is_not_found(fresh_upstream):
    upstream = fresh_upstream()
    adapter = adapter_for(upstream)
    try:
        with pytest.raises(NotFound):
            await adapter.perform_power_action("MC-1", "ON", CARD)
        with pytest.raises(NotFound):
            await adapter.perform_power_action("MC-web", "ON", CARD)
    finally:
        await adapter.close()
    assert log_of(upstream).count() == 1  # MC-web never reaches the upstream


async def test_the_accepted_action_id_is_kept_and_reports_progress(fresh_upstream):
    upstream = fresh_upstream(action_delay=3600)
    server = _server_with(upstream, "active")
    name = f"MC-{server['id']}"
    adapter = adapter_for(upstream)
    try:
        assert await adapter.power_action_progress(name) is None
        result = await adapter.perform_power_action(name, "OFF", CARD)
        progress = await adapter.power_action_progress(name)
    finally:
        await adapter.close()
    assert result["powerStatus"] == "ON"  # accepted, not yet done
    action_id = max(upstream.app.state.fleet.actions)
    assert await adapter.actions.latest(server["id"]) == action_id
    assert progress["id"] == str(action_id)
    assert (progress["type"], progress["status"], progress["completedAt"]) == (
        "power_off",
        "in-progress",
        None,
    )


async def test_the_action_log_is_bounded_and_forgets_the_least_recent_server():
    log = ActionLog(size=2)
    await log.remember(1, 10)
    await log.remember(2, 20)
    await log.remember(1, 11)
    await log.remember(3, 30)
    latest = [await log.latest(server_id) for server_id in (1, 2, 3)]
    assert (*latest, len(log)) == (11, None, 30, 2)


async def test_reverse_dns_is_read_from_the_networks_and_set_with_one_action(fresh_upstream):
    upstream = fresh_upstream(action_delay=0)
    server = _server_with(upstream, "active")
    ip = server["networks"]["v4"][0]["ip_address"]
    adapter = adapter_for(upstream)
    try:
        log_of(upstream).clear()
        answer = await adapter.set_reverse_dns_record(ip, "mail.example.com.", Selection())
        posts = [e for e in log_of(upstream).entries() if e.method == "POST"]
        record = await adapter.reverse_dns_record(ip, Selection())
        await adapter.set_reverse_dns_record(ip, None, Selection())
        cleared = await adapter.reverse_dns_record(ip, Selection())
    finally:
        await adapter.close()
    assert answer["ip"]["ip"] == ip
    assert [p.body for p in posts] == [
        {"type": "change_reverse_name", "ipv4_address": ip, "reverse_name": "mail.example.com"}
    ]
    assert record["hostname"] == "mail.example.com."
    assert cleared["hostname"] is None


async def test_reverse_dns_of_ipv6_or_unknown_ips(fresh_upstream):
    upstream = fresh_upstream()
    adapter = adapter_for(upstream)
    try:
        with pytest.raises(NotSupported):
            await adapter.set_reverse_dns_record("2401:fc00:101::2", "x.example.", Selection())
        assert log_of(upstream).count() == 0
        with pytest.raises(NotFound):
            await adapter.reverse_dns_record("192.0.2.1", Selection())
    finally:
        await adapter.close()


async def test_invoices_are_filtered_here_and_looked_up_by_number(upstream):
    adapter = adapter_for(upstream, per_page=5)
    fleet_invoices = upstream.app.state.fleet.invoices
    try:
        page = await adapter.list_invoices({}, 2, 3, Selection())
        paid = await adapter.list_invoices({"paymentStatus_in": ["PAID"]}, 0, 50, Selection())
        log_of(upstream).clear()
        euros = await adapter.list_invoices({"currency_in": ["EUR"]}, 0, 50, Selection())
        assert log_of(upstream).count() == 0
        one = await adapter.invoice(fleet_invoices[4]["invoice_number"], Selection())
        with pytest.raises(NotFound):
            await adapter.invoice("INV-NOPE", Selection())
    finally:
        await adapter.close()
    assert page.total == 12
    assert [i["invoiceNumber"] for i in page.entries] == [
        i["invoice_number"] for i in fleet_invoices[2:5]
    ]
    assert paid.total == sum(i["paid"] for i in fleet_invoices)
    assert euros == type(euros)([], 0)
    assert one["currency"] == "AUD" and one["total"] == fleet_invoices[4]["amount"]


async def test_traffic_reads_sample_sets_of_the_selected_servers_only(upstream):
    adapter = adapter_for(upstream)
    now = datetime.now(UTC)
    query = TrafficQuery(now - timedelta(hours=6), now, ServerFilter(location_in=("Sydney",)))
    log_of(upstream).clear()
    try:
        traffic = await adapter.traffic(query, Selection())
        everything = await listed(
            adapter.list_servers(ServerFilter(location_in=("Sydney",)), 0, 100, NAME)
        )
    finally:
        await adapter.close()
    sets = [e for e in log_of(upstream).entries() if e.path.startswith("/v2/samplesets/")]
    assert len(sets) == everything.total
    assert {e.query["data_interval"] for e in sets} == {"five-minute"}
    statistics = traffic["aggregated"]["statisticsOut"]
    assert statistics["average"] > 0 and statistics["sum"] > 0
    assert statistics["maximum"] >= statistics["p95"] >= 0


async def test_long_traffic_windows_use_coarser_samples(upstream):
    adapter = adapter_for(upstream)
    now = datetime.now(UTC)
    name = f"MC-{min(upstream.app.state.fleet.servers)}"
    query = TrafficQuery(now - timedelta(days=30), now, ServerFilter(name_in=(name,)))
    log_of(upstream).clear()
    try:
        await adapter.traffic(query, Selection())
    finally:
        await adapter.close()
    sets = [e for e in log_of(upstream).entries() if e.path.startswith("/v2/samplesets/")]
    assert [e.query["data_interval"] for e in sets] == ["four-hour"]


async def test_stock_is_sizes_times_regions_and_filterable(upstream):
    adapter = adapter_for(upstream)
    try:
        stock = await adapter.list_instant_delivery_servers({}, 0, 500, Selection())
        london = await adapter.list_instant_delivery_servers(
            {"location_in": ["London"]}, 0, 500, Selection()
        )
        one = await adapter.instant_delivery_server(london.entries[0]["name"], Selection())
    finally:
        await adapter.close()
    fleet = upstream.app.state.fleet
    expected = sum(
        1
        for size in fleet.sizes
        for slug in size["regions"]
        if slug not in size["regions_out_of_stock"] and fleet.region(slug)["available"]
    )
    assert stock.total == expected
    assert {s["location"]["short"] for s in london.entries} == {"LON"}
    assert one == london.entries[0]


async def test_account_and_health_ping(upstream):
    adapter = adapter_for(upstream)
    try:
        await adapter.ping()
        account = await adapter.account(Selection())
    finally:
        await adapter.close()
    assert account["email"] == upstream.app.state.fleet.account["email"]


async def test_a_refused_token_is_not_authorized_and_never_echoed(upstream):
    adapter = adapter_for(upstream, token="wrong-token")
    try:
        with pytest.raises(NotAuthorized) as failure:
            await listed(adapter.list_servers(ServerFilter(), 0, 5, NAME))
    finally:
        await adapter.close()
    assert failure.value.provider == "mc"
    assert "wrong-token" not in failure.value.message


@pytest.mark.parametrize(
    ("faults", "message"),
    [({"error_rate": 1.0, "error_status": 502}, "HTTP 502"), ({"malformed": True}, "malformed")],
)
async def test_upstream_failures_on_reads_are_provider_unavailable(fresh_upstream, faults, message):
    upstream = fresh_upstream()
    upstream.app.state.emulator.faults.update(faults)
    adapter = adapter_for(upstream)
    try:
        with pytest.raises(ProviderUnavailable) as failure:
            await listed(adapter.list_servers(ServerFilter(), 0, 5, NAME))
    finally:
        await adapter.close()
    assert message in failure.value.message
    assert "outcome" not in failure.value.extensions


@pytest.mark.parametrize(
    ("options", "problem"),
    [
        ({}, None),
        ({"max_concurrency": 4, "per_page": 50}, None),
        ({"concurrency": 4}, "concurrency: is not a key any more; use max_concurrency"),
        ({"per_page": 201}, "per_page: must be at most 200"),
        ({"per_page": 0}, "per_page: must be at least 1"),
        ({"per_page": "20"}, "per_page: must be an integer"),
    ],
)
def test_options_are_validated(options, problem):
    table = {"id": "mc", "kind": "mammoth", **options}
    if problem is None:
        settings_from_dict({"providers": [{**table, "token": "t"}], "tokens": TOKENS})
    else:
        with pytest.raises(ConfigError, match=rf"^<dict>: providers\[0\]\.{problem}"):
            settings_from_dict({"providers": [{**table, "token": "t"}], "tokens": TOKENS})


def test_the_token_is_required():
    with pytest.raises(ConfigError, match=r"^<dict>: providers\[0\]\.token: is required$"):
        settings_from_dict({"providers": [{"id": "mc", "kind": "mammoth"}], "tokens": TOKENS})


@pytest.mark.parametrize(
    ("step", "interval", "seconds"),
    [(300, "five-minute", 300), (5400, "half-hour", 1800), (86400, "day", 86400)],
)
async def test_a_traffic_series_uses_the_coarsest_interval_not_coarser_than_the_step(
    upstream, step, interval, seconds
):
    adapter = adapter_for(upstream)
    name = f"MC-{min(upstream.app.state.fleet.servers)}"
    end = datetime.now(UTC).replace(microsecond=0)
    query = TrafficQuery(end - timedelta(days=3), end, ServerFilter(name_in=(name,)))
    log_of(upstream).clear()
    try:
        series = await adapter.traffic_series(query, step)
    finally:
        await adapter.close()
    sets = [e for e in log_of(upstream).entries() if e.path.startswith("/v2/samplesets/")]
    assert {e.query["data_interval"] for e in sets} == {interval}
    assert series.step == seconds and series.start >= query.start
    assert len(series.inbound) == len(series.outbound) > 0


async def test_locations_are_one_walk_of_the_servers(upstream):
    adapter = adapter_for(upstream)
    log_of(upstream).clear()
    try:
        locations = await adapter.list_locations()
    finally:
        await adapter.close()
    assert log_of(upstream).count() == 1 and len(locations) == 30
    assert {"Sydney", "London"} <= {loc["name"] for loc in locations}


async def test_reads_are_cached_by_resource_class_but_the_health_ping_never(fresh_upstream):
    upstream = fresh_upstream(action_delay=0)
    ttls = {"servers": 60.0, "billing": 60.0, "traffic": 60.0, "catalog": 60.0}
    adapter = MammothProvider(
        ProviderConfig(
            id="mc",
            kind="mammoth",
            base_url=f"{upstream.url}/v2",
            prefix="MC",
            credentials={"token": "mammoth-emulator-token"},
            cache_ttls=ttls,
        )
    )
    server = _server_with(upstream, "active")
    try:
        for _ in range(2):
            await adapter.list_invoices({}, 0, 5, Selection())
            await adapter.list_instant_delivery_servers({}, 0, 5, Selection())
            await adapter.ping()
        log = log_of(upstream)
        assert log.count(path="/v2/customers/my/invoices") == 1
        assert log.count(path="/v2/sizes") == 1
        assert log.count(path="/v2/account") == 2
        # A write evicts the cache: the next server read goes upstream and sees the change.
        await adapter.servers_by_name([f"MC-{server['id']}"], CARD)
        await adapter.perform_power_action(f"MC-{server['id']}", "OFF", CARD)
        found = await adapter.servers_by_name([f"MC-{server['id']}"], CARD)
    finally:
        await adapter.close()
    assert found[f"MC-{server['id']}"]["powerStatus"] == "OFF"


async def test_a_next_link_on_the_last_page_is_not_followed(fresh_upstream):
    # Spec, Links.pages.next is "a link to the next page ... if this is not the last page";
    # an upstream that sends it anyway is stopped by meta.total.
    upstream = fresh_upstream(paging="next_on_last")
    adapter = adapter_for(upstream, per_page=7)
    try:
        page = await listed(adapter.list_servers(ServerFilter(), 0, 50, NAME))
    finally:
        await adapter.close()
    assert page.total == 30
    pages = [e.query["page"] for e in log_of(upstream).entries() if e.path == "/v2/servers"]
    assert pages == ["1", "2", "3", "4", "5"]
