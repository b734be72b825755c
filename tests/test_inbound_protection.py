"""Inbound protection: query limits, body size, introspection switch, rate limits, scoped
tokens and CORS, each answered with a clear error before any provider is called."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from emulators.datapacket import app as emulator
from emulators.kit.server import EmulatorServer
from gateway.app import create_app
from gateway.settings import ConfigError, settings_from_dict
from tests.conftest import (
    FULL,
    READ,
    TOKENS,
    GatewayClient,
    datapacket_config,
    error_codes,
    fragment_bomb,
)
from tests.servers import InProcessGateway, serving


@pytest.fixture(scope="module")
def upstreams() -> Iterator[tuple[EmulatorServer, EmulatorServer]]:
    with (
        serving(emulator.create_app(size=10, seed=1)) as first,
        serving(emulator.create_app(size=8, seed=2, examples=False)) as second,
    ):
        yield first, second


def gateway_with(upstreams, **config) -> InProcessGateway:
    first, second = upstreams
    settings = settings_from_dict(
        {
            "providers": [datapacket_config(first), datapacket_config(second, id="dp-b")],
            "tokens": config.pop("tokens", TOKENS),
            **config,
        }
    )
    return InProcessGateway(create_app(settings)).start()


@pytest.fixture(scope="module")
def limited(upstreams) -> Iterator[GatewayClient]:
    server = gateway_with(
        upstreams,
        limits={"max_depth": 4, "max_aliases": 3, "max_tokens": 200, "max_cost": 500},
        server={"introspection": False, "cors_origins": ["http://localhost:3000"]},
    )
    yield GatewayClient(server)
    server.stop()


def limit_of(body: dict) -> str:
    assert error_codes(body) == ["GRAPHQL_VALIDATION_FAILED"], body
    return body["errors"][0]["extensions"].get("limit", "")


def test_depth_limit(limited):
    body = limited.query("{ servers { entries { network { ipAddresses { ip } } } } }", status=400)
    assert limit_of(body) == "max_depth"


def test_alias_limit(limited):
    body = limited.query(
        "{ a: account { name } b: account { name } c: account { name } d: account { name } }",
        status=400,
    )
    assert limit_of(body) == "max_aliases"


def test_cost_counts_fan_out(limited):
    names = "{ servers(input: {pageSize: 50}) { entries { name } } }"
    assert "errors" not in limited.query(names)
    heavy = (
        "{ servers(input: {pageSize: 50}) "
        "{ entries { name powerStatus network { uplinkCapacity } } } }"
    )
    assert limit_of(limited.query(heavy, status=400)) == "max_cost"


def test_a_fragment_bomb_is_refused_before_any_upstream_call(gateway, datapacket_upstream):
    # 1 KiB of text standing for 50 * 10**11 names: refused on the cost, without expanding it.
    log = datapacket_upstream.app.state.emulator.request_log
    before = log.count()
    body = gateway.query(fragment_bomb(12), token=READ, status=400)
    assert limit_of(body) == "max_cost"
    extensions = body["errors"][0]["extensions"]
    assert extensions["allowed"] == 20000 < extensions["actual"]
    assert log.count() == before
    assert gateway.http.get("/healthz").status_code == 200


def test_hundreds_of_overlapping_fragments_are_refused_on_merge_work(gateway, datapacket_upstream):
    # Within the token limit, but checking that 400 fragments' fields can be merged compares
    # every pair of them: graphql-core would spend 500,000 units of work before giving up.
    spreads = " ".join(f"...F{i}" for i in range(400))
    fragments = " ".join(f"fragment F{i} on Account {{ name email }}" for i in range(400))
    log = datapacket_upstream.app.state.emulator.request_log
    before = log.count()
    body = gateway.query(f"{{ account {{ {spreads} }} }} {fragments}", token=READ, status=400)
    assert limit_of(body) == "max_merge_work"
    extensions = body["errors"][0]["extensions"]
    assert extensions["allowed"] == 10_000 < extensions["actual"]
    assert log.count() == before


def test_token_limit(limited):
    body = limited.query("{ " + " ".join(["account { name }"] * 60) + " }", status=400)
    assert error_codes(body) == ["GRAPHQL_VALIDATION_FAILED"]
    assert "tokens" in body["errors"][0]["message"]


def test_introspection_can_be_disabled(limited):
    assert error_codes(limited.query("{ __schema { queryType { name } } }", status=400)) == [
        "GRAPHQL_VALIDATION_FAILED"
    ]
    assert "errors" not in limited.query("{ account { __typename name } }")


def test_body_size_limit(upstreams):
    server = gateway_with(upstreams, limits={"max_body_bytes": 100})
    try:
        response = GatewayClient(server).post("{ account { name } }" + " " * 200)
    finally:
        server.stop()
    assert response.status_code == 413
    assert error_codes(response.json()) == ["BAD_REQUEST"]


def test_operations_per_document_limit(upstreams):
    server = gateway_with(upstreams, limits={"max_operations": 2})
    try:
        body = GatewayClient(server).query(
            "query A { account { name } } query B { account { name } } "
            "query C { account { name } }",
            status=400,
        )
    finally:
        server.stop()
    assert limit_of(body) == "max_operations"


def test_cors_allows_only_listed_origins(limited):
    allowed = limited.http.options(
        "/graphql",
        headers={"Origin": "http://localhost:3000", "Access-Control-Request-Method": "POST"},
    )
    assert allowed.headers.get("access-control-allow-origin") == "http://localhost:3000"
    denied = limited.http.options(
        "/graphql",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert "access-control-allow-origin" not in denied.headers


def test_per_token_rate_limit_answers_retry_after(upstreams):
    server = gateway_with(upstreams, limits={"queries_per_minute": 3, "mutations_per_minute": 1})
    try:
        client = GatewayClient(server)
        for _ in range(3):
            assert client.post("{ account { name } }").status_code == 200
        limited = client.post("{ account { name } }")
        other_token = client.post("{ account { name } }", token=READ)
    finally:
        server.stop()
    assert limited.status_code == 429
    assert error_codes(limited.json()) == ["RATE_LIMITED"]
    assert (
        int(limited.headers["retry-after"])
        == limited.json()["errors"][0]["extensions"]["retryAfter"]
        > 0
    )
    assert other_token.status_code == 200


def test_a_scoped_token_never_sees_other_providers(upstreams):
    first, second = upstreams
    tokens = [
        *TOKENS,
        {"name": "b-only", "scope": "full-access", "token": "b-only", "providers": ["dp-b"]},
    ]
    server = gateway_with(upstreams, tokens=tokens)
    try:
        client = GatewayClient(server)
        page = client.data(
            "{ servers { entriesTotalCount entries { provider { id } } } }", token="b-only"
        )
        assert page["servers"]["entriesTotalCount"] == 8
        assert {s["provider"]["id"] for s in page["servers"]["entries"]} == {"dp-b"}
        assert client.data("{ providers { id } }", token="b-only") == {
            "providers": [{"id": "dp-b"}]
        }
        hidden = client.query('{ server(input: {ip: "123.213.231.132"}) { name } }', token="b-only")
        assert error_codes(hidden) == ["NOT_FOUND"]
        log = first.app.state.emulator.request_log
        before = log.count()
        power = client.query(
            'mutation { performServerPowerAction(input: {server: {name: "DP-12345"}, action: ON})'
            " { server { name } } }",
            token="b-only",
        )
        assert error_codes(power) == ["NOT_FOUND"]
        assert log.count() == before
        assert "dp-b" in client.data("{ providers { id } }", token=FULL)["providers"][1]["id"]
    finally:
        server.stop()


@pytest.mark.parametrize("key", ["max_depth", "max_merge_work"])
def test_bad_limits_config_names_the_key(key):
    with pytest.raises(ConfigError, match=f"limits.{key}"):
        settings_from_dict({"providers": [], "tokens": TOKENS, "limits": {key: 0}}, source="x.toml")
