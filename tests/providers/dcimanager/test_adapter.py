"""The DCImanager adapter against its emulator over loopback HTTP.

Upstream calls are counted from the emulator's request log, never timed.
"""

from __future__ import annotations

import asyncio
import tomllib
from collections.abc import Iterator
from dataclasses import replace

import pytest

from emulators.dcimanager.app import ACCOUNTS, SESSION, create_app
from emulators.kit import EmulatorServer
from errors import (
    NotAuthorized,
    NotFound,
    NotSupported,
    ProviderUnavailable,
    ValidationFailed,
)
from gateway.settings import ConfigError, settings_from_dict
from providers.base import ProviderConfig, ServerFilter, ServerKey
from providers.dcimanager.adapter import DciManagerProvider
from providers.dcimanager.options import DciManagerTable
from providers.http import request_deadline
from providers.resilience import ResiliencePolicy
from providers.selection import Selection
from tests.conftest import TOKENS, listed
from tests.servers import serving, stop_soon

EMAIL, PASSWORD = next(iter(ACCOUNTS.items()))
LOGIN = {"email": EMAIL, "password": PASSWORD}
ALL = Selection.of({"name": {}, "powerStatus": {}, "statusV2": {}})


@pytest.fixture(scope="module")
def shared() -> Iterator[EmulatorServer]:
    """An emulator for tests that do not change state."""
    with serving(create_app(size=30, seed=1)) as server:
        yield server


@pytest.fixture
def fresh() -> Iterator:
    """A factory of private emulators for tests that change state or inject faults."""
    started: list[EmulatorServer] = []

    def make(**options) -> EmulatorServer:
        server = EmulatorServer(create_app(**{"size": 12, "seed": 1, **options})).start()
        started.append(server)
        return server

    yield make
    stop_soon(started)


def provider_for(
    server: EmulatorServer, credentials=None, cache_ttls=None, retries=6, **options
) -> DciManagerProvider:
    """An adapter configured as the gateway would: its table validated by the kind's model."""
    table = DciManagerTable.model_validate(
        {
            "id": "dci",
            "kind": "dcimanager",
            "base_url": server.url,
            **(credentials or {"session": SESSION}),
            "retries": retries,
            "retry_backoff": 0.001,
            **options,
        }
    )
    return DciManagerProvider(table.provider_config(cache_ttls or {}))


def calls(server: EmulatorServer, operation: str) -> int:
    return server.app.state.emulator.request_log.count(operation=operation)


def forget(server: EmulatorServer) -> None:
    server.app.state.emulator.request_log.clear()


# --- listing --------------------------------------------------------------------------


async def test_list_servers_windows_one_upstream_call_with_exact_total(shared):
    forget(shared)
    provider = provider_for(shared)
    first = await listed(provider.list_servers(ServerFilter(), 0, 10, ALL))
    second = await listed(provider.list_servers(ServerFilter(), 10, 10, ALL))
    await provider.close()
    assert first.total == second.total == 30
    names = [s["name"] for s in first.entries + second.entries]
    assert names == [f"DCI-{1001 + i}" for i in range(20)]
    assert calls(shared, "server.list") == 2


async def test_filters_are_applied_to_the_whole_list(shared):
    provider = provider_for(shared)
    everything = (await listed(provider.list_servers(ServerFilter(), 0, 50, ALL))).entries
    amsterdam = await listed(
        provider.list_servers(ServerFilter(location_in=("Amsterdam",)), 0, 2, ALL)
    )
    off = await listed(provider.list_servers(ServerFilter(powerStatus_in=("OFF",)), 0, 50, ALL))
    await provider.close()
    assert amsterdam.total == sum(s["location"]["short"] == "AMS" for s in everything) == 5
    assert len(amsterdam.entries) == 2
    assert off.total == sum(s["powerStatus"] == "OFF" for s in everything) > 0


async def test_servers_by_name_single_uses_the_single_endpoint(shared):
    forget(shared)
    provider = provider_for(shared)
    one = await provider.servers_by_name(["DCI-1003"], ALL)
    missing = await provider.servers_by_name(["DCI-999999"], ALL)
    several = await provider.servers_by_name(["DCI-1003", "dci-1004", "DCI-42", "DCI-x"], ALL)
    await provider.close()
    assert one["DCI-1003"]["name"] == "DCI-1003"
    assert missing == {}
    assert sorted(several) == ["DCI-1003", "dci-1004"]
    assert calls(shared, "server.get") == 2
    assert calls(shared, "server.list") == 1


async def test_find_servers_by_ip_and_ipmi_ip(shared):
    provider = provider_for(shared)
    target = (await provider.servers_by_name(["DCI-1005"], ALL))["DCI-1005"]
    ip = target["network"]["ipAddresses"][0]["ip"]
    by_ip = await provider.find_servers(ServerKey(ip=ip), ALL)
    by_ipmi = await provider.find_servers(ServerKey(ipmiIp=target["network"]["ipmi"]["ip"]), ALL)
    by_alias = await provider.find_servers(ServerKey(alias="web"), ALL)
    await provider.close()
    assert [s["name"] for s in by_ip] == [s["name"] for s in by_ipmi] == ["DCI-1005"]
    assert by_alias == []


async def test_locations_come_from_one_list_call(shared):
    forget(shared)
    provider = provider_for(shared)
    locations = await provider.list_locations()
    await provider.close()
    assert {location["short"] for location in locations} == {
        "AMS", "FRA", "LON", "NYC", "SIN", "PRG",
    }  # fmt: skip
    assert calls(shared, "server.list") == 1


async def test_cached_reads_a_write_evicts_and_a_login_is_never_cached(fresh):
    upstream = fresh(power_delay=0)
    cache = {"servers": 60.0, "catalog": 600.0}
    provider = provider_for(upstream, LOGIN, cache_ttls=cache)
    await listed(provider.list_servers(ServerFilter(), 0, 5, ALL))
    await listed(provider.list_servers(ServerFilter(), 0, 5, ALL))
    assert calls(upstream, "server.list") == 1
    await provider.perform_power_action("DCI-1001", "OFF", Selection.of({"name": {}}))
    off = await listed(provider.list_servers(ServerFilter(name_in=("DCI-1001",)), 0, 1, ALL))
    assert off.entries[0]["powerStatus"] == "OFF"
    assert calls(upstream, "server.list") == 2
    upstream.app.state.dci.expire_sessions()
    await provider.ping()  # catalog not cached yet: 401, a real login, then 200
    await provider.close()
    assert calls(upstream, "auth.token") == 2


# --- auth -----------------------------------------------------------------------------


async def test_login_once_then_the_session_serves_every_call(fresh):
    upstream = fresh()
    provider = provider_for(upstream, LOGIN)
    await listed(provider.list_servers(ServerFilter(), 0, 5, ALL))
    await provider.ping()
    await provider.servers_by_name(["DCI-1001"], ALL)
    await provider.close()
    assert calls(upstream, "auth.token") == 1
    entries = upstream.app.state.emulator.request_log.entries()
    api = [e for e in entries if e.operation != "auth.token"]
    assert all(e.status == 200 and e.headers["isp-box-instance"] == "true" for e in api)


async def test_the_request_log_holds_no_credentials(fresh):
    upstream = fresh()
    provider = provider_for(upstream, LOGIN)
    await provider.ping()
    await provider.close()
    logged = repr(upstream.app.state.emulator.request_log.entries())
    session = upstream.app.state.dci.sessions
    assert PASSWORD not in logged
    assert not any(token in logged for token in session)


async def test_expired_session_logs_in_again_once_and_repeats_the_call(fresh):
    upstream = fresh()
    provider = provider_for(upstream, LOGIN)
    await provider.ping()
    upstream.app.state.dci.expire_sessions()
    forget(upstream)
    page = await listed(provider.list_servers(ServerFilter(), 0, 5, ALL))
    await provider.close()
    assert page.total == 12
    assert [(e.operation, e.status) for e in upstream.app.state.emulator.request_log.entries()] == [
        ("server.list", 401),
        ("auth.token", 200),
        ("server.list", 200),
    ]


async def test_failed_re_login_is_not_attempted_twice(fresh):
    upstream = fresh()
    provider = provider_for(upstream, LOGIN)
    await provider.ping()
    upstream.app.state.dci.expire_sessions()
    upstream.app.state.dci.accounts.clear()  # the password was changed upstream
    forget(upstream)
    with pytest.raises(NotAuthorized) as raised:
        await listed(provider.list_servers(ServerFilter(), 0, 5, ALL))
    await provider.close()
    assert raised.value.provider == "dci"
    assert PASSWORD not in raised.value.message and upstream.url not in raised.value.message
    assert calls(upstream, "auth.token") == 1
    assert calls(upstream, "server.list") == 1


async def test_a_session_refused_right_after_login_is_not_renewed_again(fresh):
    upstream = fresh(session_ttl=0)  # every issued session is already expired
    provider = provider_for(upstream, LOGIN)
    with pytest.raises(NotAuthorized):
        await listed(provider.list_servers(ServerFilter(), 0, 5, ALL))
    await provider.close()
    assert calls(upstream, "auth.token") == 2  # the first login and one re-login
    assert calls(upstream, "server.list") == 2  # the call and its one repetition


async def test_an_installation_without_the_login_endpoint_is_unavailable(fresh):
    upstream = fresh()
    upstream.app.state.emulator.faults.error_rate = 1.0
    upstream.app.state.emulator.faults.error_status = 404
    provider = provider_for(upstream, LOGIN)
    with pytest.raises(ProviderUnavailable) as raised:
        await provider.ping()
    await provider.close()
    assert "session" in raised.value.message
    assert len(upstream.app.state.emulator.request_log.entries()) == 1


async def test_configured_session_without_login_fails_at_once(fresh):
    upstream = fresh()
    upstream.app.state.dci.expire_sessions()
    provider = provider_for(upstream, {"session": SESSION})
    with pytest.raises(NotAuthorized):
        await provider.ping()
    await provider.close()
    assert calls(upstream, "auth.token") == 0
    assert calls(upstream, "server.configuration") == 1


async def test_concurrent_calls_share_one_re_login(fresh):
    upstream = fresh()
    provider = provider_for(upstream, LOGIN)
    await provider.ping()
    upstream.app.state.dci.expire_sessions()
    forget(upstream)
    await asyncio.gather(*(provider.ping() for _ in range(5)))
    await provider.close()
    assert calls(upstream, "auth.token") == 1


# --- 503 (suspended platform) ---------------------------------------------------------


async def test_503_is_retried_for_reads(fresh):
    upstream = fresh()
    upstream.app.state.dci.suspend(requests=3)
    provider = provider_for(upstream, retries=3)
    page = await listed(provider.list_servers(ServerFilter(), 0, 5, ALL))
    await provider.close()
    assert page.total == 12
    assert calls(upstream, "server.list") == 4


async def test_503_retries_are_bounded(fresh):
    upstream = fresh()
    upstream.app.state.dci.suspend(requests=50)
    provider = provider_for(upstream, retries=2)
    with pytest.raises(ProviderUnavailable) as raised:
        await listed(provider.list_servers(ServerFilter(), 0, 5, ALL))
    await provider.close()
    assert raised.value.details.get("outcome") is None
    assert calls(upstream, "server.list") == 3


async def test_login_is_retried_on_503(fresh):
    upstream = fresh()
    upstream.app.state.dci.suspend(requests=1)
    provider = provider_for(upstream, LOGIN, retries=2)
    await provider.ping()
    await provider.close()
    assert calls(upstream, "auth.token") == 2


async def test_503_is_never_retried_for_power_actions(fresh):
    upstream = fresh(power_delay=0)
    upstream.app.state.dci.suspend(requests=1)
    provider = provider_for(upstream, retries=5)
    with pytest.raises(ProviderUnavailable):
        await provider.perform_power_action("DCI-1001", "OFF", ALL)
    await provider.close()
    assert calls(upstream, "server.power_off") == 1
    assert upstream.app.state.dci.fleet.servers[1001]["ipmi"]["status"] == "on"


async def test_500_on_a_power_action_reports_an_unknown_outcome(fresh):
    upstream = fresh()
    upstream.app.state.emulator.faults.error_rate = 1.0
    upstream.app.state.emulator.faults.error_status = 500
    provider = provider_for(upstream)
    with pytest.raises(ProviderUnavailable) as raised:
        await provider.perform_power_action("DCI-1001", "RESET", ALL)
    await provider.close()
    assert raised.value.details["outcome"] == "unknown"
    log = upstream.app.state.emulator.request_log
    assert log.count(path="/api/dci/v3/server/1001/power_reset") == 1


async def test_malformed_answers_are_provider_unavailable(fresh):
    upstream = fresh()
    upstream.app.state.emulator.faults.malformed = True
    provider = provider_for(upstream)
    with pytest.raises(ProviderUnavailable):
        await listed(provider.list_servers(ServerFilter(), 0, 5, ALL))
    await provider.close()


# --- power ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "endpoint", "power"),
    [("OFF", "power_off", "OFF"), ("ON", "power_on", "ON"), ("RESET", "power_reset", "ON")],
)
async def test_power_action_is_one_upstream_write_and_lands(fresh, action, endpoint, power):
    upstream = fresh(power_delay=0)
    provider = provider_for(upstream)
    server = await provider.perform_power_action("DCI-1001", action, ALL)
    await provider.close()
    assert calls(upstream, f"server.{endpoint}") == 1
    assert sum(e.method == "POST" for e in upstream.app.state.emulator.request_log.entries()) == 1
    assert server["name"] == "DCI-1001" and server["powerStatus"] == power


async def test_power_action_in_flight_shows_unknown_power(fresh):
    upstream = fresh(power_delay=3600)
    provider = provider_for(upstream)
    server = await provider.perform_power_action("DCI-1001", "OFF", ALL)
    await provider.close()
    assert server["powerStatus"] == "UNKNOWN"  # IPMI status "in_progress"


async def test_power_action_selecting_only_the_name_reads_nothing_back(fresh):
    upstream = fresh()
    provider = provider_for(upstream)
    server = await provider.perform_power_action("DCI-1002", "ON", Selection.of({"name": {}}))
    await provider.close()
    assert server == {"name": "DCI-1002"}
    assert len(upstream.app.state.emulator.request_log.entries()) == 1


@pytest.mark.parametrize("action", ["CYCLE", "SOFT"])
async def test_cycle_and_soft_are_not_supported_before_any_call(fresh, action):
    upstream = fresh()
    provider = provider_for(upstream)
    with pytest.raises(NotSupported) as raised:
        await provider.perform_power_action("DCI-1001", action, ALL)
    await provider.close()
    assert raised.value.extensions["operation"] == "performServerPowerAction"
    assert upstream.app.state.emulator.request_log.entries() == []


async def test_power_action_on_an_unknown_server_is_not_found(fresh):
    upstream = fresh()
    provider = provider_for(upstream)
    with pytest.raises(NotFound):
        await provider.perform_power_action("DCI-999999", "ON", ALL)
    with pytest.raises(NotFound):
        await provider.perform_power_action("DCI-abc", "ON", ALL)
    await provider.close()
    assert calls(upstream, "server.power_on") == 1


# --- instant delivery -----------------------------------------------------------------


async def test_instant_delivery_lists_free_configurations(shared):
    provider = provider_for(shared, stock_location="AMS")
    page = await provider.list_instant_delivery_servers({}, 0, 50, Selection())
    configurations = shared.app.state.dci.fleet.configurations
    free = [c["configuration"] for c in configurations if c["free_server_count"] > 0]
    assert [e["name"] for e in page.entries] == [f"DCI-{c}" for c in free]
    assert page.total == len(free)
    assert all(e["location"]["short"] == "AMS" for e in page.entries)
    one = await provider.instant_delivery_server("DCI-i9-9900K-64Gb-2x1024NVMe", Selection())
    elsewhere = await provider.list_instant_delivery_servers(
        {"location_in": ["London"]}, 0, 50, Selection()
    )
    with pytest.raises(NotFound):
        await provider.instant_delivery_server("DCI-nope", Selection())
    await provider.close()
    assert one["hardware"]["rams"] == [{"count": 1, "size": 64}]
    assert elsewhere.total == 0


# --- configuration --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("credentials", "options", "key"),
    [
        ({"session": "s"}, {}, None),
        ({"email": "a@b.c", "password": "p"}, {}, None),
        ({"session": "s", "email": "a@b.c", "password": "p"}, {}, None),
        ({}, {}, "session"),
        ({"email": "a@b.c"}, {}, "password"),
        ({"session": "s", "password": "p"}, {}, "email"),
        ({"session": "s"}, {"locations": {"DC-2": "XXX"}}, "locations"),
        ({"session": "s"}, {"locations": {"DC-2": "LON"}, "stock_location": "AMS"}, None),
        ({"session": "s"}, {"stock_location": "Amsterdam"}, "stock_location"),
    ],
)
def test_the_table_is_validated(credentials, options, key):
    table = {"id": "dci", "kind": "dcimanager", "base_url": "http://dci.test", **credentials}
    config = {"providers": [{**table, **options}], "tokens": TOKENS}
    if key is None:
        settings_from_dict(config)
    else:
        with pytest.raises(ConfigError, match=rf"^<dict>: providers\[0\]\.{key}: "):
            settings_from_dict(config)


def test_the_general_retry_policy_has_this_kinds_defaults():
    table = {"id": "dci", "kind": "dcimanager", "base_url": "http://dci.test", "session": "s"}
    [config] = settings_from_dict({"providers": [table], "tokens": TOKENS}).providers
    assert (config.resilience.retries, config.resilience.retry_backoff) == (6, 0.1)
    assert "retries" not in config.options


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, ValidationFailed),
        (422, ValidationFailed),
        (403, NotAuthorized),
        (502, ProviderUnavailable),
    ],
)
async def test_upstream_error_statuses_are_translated(fresh, status, error):
    upstream = fresh()
    upstream.app.state.emulator.faults.error_rate = 1.0
    upstream.app.state.emulator.faults.error_status = status
    provider = provider_for(upstream)
    with pytest.raises(error) as raised:
        await provider.perform_power_action("DCI-1001", "ON", ALL)
    await provider.close()
    assert raised.value.provider == "dci"
    # Only a refused write carries the provider's reason ({"error": {"msg"}}), never the body.
    expected = f"Injected fault (HTTP {status})" if error is ValidationFailed else None
    assert ("Injected" in raised.value.message) == (expected is not None)
    if expected is not None:
        assert raised.value.message == f'Provider "dci" rejected the request: {expected}'
    assert '"code"' not in raised.value.message
    assert len(upstream.app.state.emulator.request_log.entries()) == 1


# --- the general retry policy -----------------------------------------------------------------


def _settings_of(table: str) -> ProviderConfig:
    toml = tomllib.loads(
        f'[[providers]]\nid = "dci"\nkind = "dcimanager"\nbase_url = "http://dci"\n'
        f'session = "s"\n{table}\n[[tokens]]\nname = "ops"\nscope = "full-access"\n'
        'token = "client-secret"\n'
    )
    return settings_from_dict(toml).providers[0]


def test_the_kind_declares_its_own_defaults_of_the_general_retry_keys():
    assert _settings_of("").resilience.retries == 6
    assert _settings_of("").resilience.retry_backoff == 0.1
    configured = _settings_of("retries = 2\nretry_backoff = 0.5").resilience
    assert (configured.retries, configured.retry_backoff) == (2, 0.5)
    # One meaning per key: neither is an adapter option any more.
    assert set(_settings_of("retries = 2").options) == {"locations", "stock_location"}


async def test_503_retries_draw_on_the_retry_budget(fresh):
    upstream = fresh()
    upstream.app.state.dci.suspend(requests=50)
    provider = provider_for(upstream, retries=10)
    with pytest.raises(ProviderUnavailable):
        await listed(provider.list_servers(ServerFilter(), 0, 5, ALL))
    await provider.close()
    # The budget allows at least three retries in ten seconds, then 20 % of the calls: 1 + 3.
    assert calls(upstream, "server.list") == 4


async def test_503_retries_end_by_the_request_deadline(fresh):
    upstream = fresh()
    upstream.app.state.dci.suspend(requests=50)
    config = provider_for(upstream).config
    # A backoff of 2-4 s per retry cannot fit in a deadline 1 s away: no retry starts.
    provider = DciManagerProvider(
        replace(config, resilience=ResiliencePolicy(retries=6, retry_backoff=4.0))
    )
    token = request_deadline.set(asyncio.get_running_loop().time() + 1.0)
    try:
        with pytest.raises(ProviderUnavailable):
            await listed(provider.list_servers(ServerFilter(), 0, 5, ALL))
    finally:
        request_deadline.reset(token)
        await provider.close()
    assert calls(upstream, "server.list") == 1
