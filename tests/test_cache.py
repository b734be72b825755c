"""Across-request caching: hits skip the upstream, identical reads share one call, writes evict.

Counts only: every assertion is about how many requests the emulator saw.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from emulators.datapacket import app as emulator
from emulators.kit.server import EmulatorServer
from gateway.app import create_app
from gateway.settings import settings_from_dict
from providers.cache import DEFAULT_TTLS, ReadCache
from tests.conftest import FULL, TOKENS, GatewayClient, datapacket_config, start_gateway
from tests.servers import InProcessGateway, serving

SERVERS = "{ servers(input: {pageSize: 5}) { entries { name alias } } }"
ALIAS_OF_12345 = '{ server(input: {name: "DP-12345"}) { alias } }'


@pytest.fixture
def upstream() -> Iterator[EmulatorServer]:
    with serving(emulator.create_app(size=20, seed=3)) as server:
        yield server


@pytest.fixture
def client(upstream) -> Iterator[GatewayClient]:
    gateway = start_gateway([datapacket_config(upstream)])
    yield GatewayClient(gateway)
    gateway.stop()


def calls(upstream: EmulatorServer) -> int:
    return upstream.app.state.emulator.request_log.count()


def test_a_repeated_read_is_served_from_the_cache(client, upstream):
    first = client.data(SERVERS)
    before = calls(upstream)
    assert client.data(SERVERS) == first
    assert calls(upstream) == before


def test_twenty_concurrent_identical_reads_make_one_upstream_call(client, upstream):
    async def burst() -> list[dict]:
        async with client.server.async_client(timeout=30) as http:
            responses = await asyncio.gather(
                *(
                    http.post(
                        "/graphql",
                        json={"query": SERVERS},
                        headers={"Authorization": f"Bearer {FULL}"},
                    )
                    for _ in range(20)
                )
            )
        return [response.json() for response in responses]

    upstream.app.state.emulator.faults.latency_ms = 200  # keep the first call in flight
    bodies = asyncio.run(burst())
    assert all(body == bodies[0] and "errors" not in body for body in bodies)
    assert calls(upstream) == 1


def test_a_mutation_evicts_what_it_changed(client, upstream):
    assert client.data(ALIAS_OF_12345) == {"server": {"alias": "Load Balancer 01"}}
    client.data(
        'mutation { setServerAlias(input: {server: {name: "DP-12345"}, alias: "renamed"}) '
        "{ server { name } } }"
    )
    assert client.data(ALIAS_OF_12345) == {"server": {"alias": "renamed"}}


def test_instances_with_different_credentials_never_share_entries(upstream):
    # Same upstream account, two gateway instances with different upstream tokens.
    gateway = start_gateway(
        [
            datapacket_config(upstream),
            datapacket_config(upstream, id="dp-read", token="dp-emulator-read"),
        ]
    )
    try:
        client = GatewayClient(gateway)
        upstream.app.state.emulator.request_log.clear()
        client.data(
            '{ servers(input: {pageSize: 1, filter: {provider_in: ["dp"]}}) { entriesTotalCount } }'
        )
        client.data(
            '{ servers(input: {pageSize: 1, filter: {provider_in: ["dp-read"]}}) '
            "{ entriesTotalCount } }"
        )
        # The two upstream requests are identical but for the credential: both were sent.
        assert calls(upstream) == 2
    finally:
        gateway.stop()


def test_upstream_no_store_is_honoured(client, upstream):
    upstream.app.state.emulator.faults.cache_control = "no-store"
    client.data(SERVERS)
    client.data(SERVERS)
    assert calls(upstream) == 2


def test_upstream_max_age_zero_is_honoured(client, upstream):
    upstream.app.state.emulator.faults.cache_control = "max-age=0"
    client.data(SERVERS)
    client.data(SERVERS)
    assert calls(upstream) == 2


def test_the_cache_can_be_switched_off(upstream):
    settings = settings_from_dict(
        {"providers": [datapacket_config(upstream)], "tokens": TOKENS, "cache": {"enabled": False}}
    )
    with InProcessGateway(create_app(settings)) as gateway:
        client = GatewayClient(gateway)
        client.data(SERVERS)
        client.data(SERVERS)
    assert calls(upstream) == 2


def test_never_cached_is_explicit_and_an_unknown_kind_is_refused():
    cache = ReadCache(DEFAULT_TTLS)
    assert cache.ttl(None) == 0  # health pings, logins, read-merge-writes
    assert cache.ttl("catalog") == DEFAULT_TTLS["catalog"]
    # The old convention ("health", "ping", "session": no TTL, so never cached) is gone: a
    # misspelt kind would otherwise quietly turn caching off.
    with pytest.raises(ValueError, match="'health'"):
        cache.ttl("health")
