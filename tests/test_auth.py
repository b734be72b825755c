"""Client tokens and scopes: DataPacket's read-only and full-access, checked before any call."""

from __future__ import annotations

import hashlib

from gateway.app import create_app
from gateway.settings import settings_from_dict
from tests.conftest import READ, GatewayClient, datapacket_config, error_codes
from tests.servers import InProcessGateway

POWER_ON = (
    'mutation { performServerPowerAction(input: {server: {name: "DP-12345"}, action: ON}) '
    "{ server { name } } }"
)


def test_missing_token_is_not_authorized(gateway):
    body = gateway.query("{ account { name } }", token=None)
    assert error_codes(body) == ["NOT_AUTHORIZED"]
    assert "data" not in body


def test_unknown_token_is_not_authorized(gateway):
    assert error_codes(gateway.query("{ account { name } }", token="guess")) == ["NOT_AUTHORIZED"]


def test_read_only_token_can_query(gateway):
    assert gateway.data("{ account { name } }", token=READ) == {
        "account": {"name": "Peter Marlowe"}
    }


def test_read_only_token_cannot_mutate_and_no_backend_is_called(gateway, datapacket_upstream):
    log = datapacket_upstream.app.state.emulator.request_log
    before = log.count()
    body = gateway.query(POWER_ON, token=READ)
    assert error_codes(body) == ["NOT_AUTHORIZED"]
    assert log.count() == before


def test_read_only_token_cannot_hide_a_mutation_among_queries(gateway, datapacket_upstream):
    log = datapacket_upstream.app.state.emulator.request_log
    before = log.count()
    body = gateway.query(
        "query Q { account { name } } " + POWER_ON.replace("mutation", "mutation M"), token=READ
    )
    assert error_codes(body) == ["NOT_AUTHORIZED"]
    assert log.count() == before


def test_configured_sha256_and_env_tokens_authenticate(datapacket_upstream, monkeypatch):
    monkeypatch.setenv("FLEETQL_TEST_TOKEN", "from-the-environment")
    settings_tokens = [
        {"name": "hashed", "scope": "read-only", "sha256": hashlib.sha256(b"s3cret").hexdigest()},
        {"name": "env", "scope": "full-access", "token_env": "FLEETQL_TEST_TOKEN"},
    ]
    settings = settings_from_dict(
        {"providers": [datapacket_config(datapacket_upstream)], "tokens": settings_tokens}
    )
    with InProcessGateway(create_app(settings)) as server:
        client = GatewayClient(server)
        assert client.data("{ account { name } }", token="s3cret")["account"]["name"]
        assert client.data("{ account { name } }", token="from-the-environment")
        assert error_codes(client.query(POWER_ON, token="s3cret")) == ["NOT_AUTHORIZED"]


def test_upstream_credentials_never_appear_in_responses(fresh):
    client, upstream = fresh()
    upstream.app.state.emulator.faults.error_rate = 1.0
    body = client.post("{ account { name } servers { entries { name } } }").text
    assert "dp-emulator-full" not in body
    assert upstream.url not in body
