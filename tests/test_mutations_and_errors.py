"""Mutations change upstream state once; every error code reaches the client as documented."""

from __future__ import annotations

import time

import pytest

from gateway.graphql_http import format_error
from tests.conftest import GatewayClient, datapacket_config, error_codes, start_gateway
from tests.servers import serving

SERVER = '{name: "DP-12345"}'


def power_status(client) -> str:
    return client.data(f"{{ server(input: {SERVER}) {{ powerStatus }} }}")["server"]["powerStatus"]


def test_power_off_lands_after_the_upstream_delay(fresh):
    # Server reads stay cached 5 s by default: the loop below would wait that out.
    client, _ = fresh(power_delay=0.2, cache={"servers": 0.5})
    assert power_status(client) == "ON"
    client.data(
        f"mutation {{ performServerPowerAction(input: {{server: {SERVER}, action: OFF}}) "
        "{ server { name } } }"
    )
    deadline = time.monotonic() + 10
    while power_status(client) != "OFF":
        assert time.monotonic() < deadline, "the power action never landed"
        time.sleep(0.1)


def test_alias_and_tags_round_trip(fresh):
    client, _ = fresh()
    client.data(
        f'mutation {{ setServerAlias(input: {{server: {SERVER}, alias: "edge-1"}}) '
        "{ server { alias } } }"
    )
    assert client.data('{ server(input: {alias: "edge-1"}) { name } }')["server"]["name"] == (
        "DP-12345"
    )
    assert client.data(
        f'mutation {{ setServerTags(input: {{server: {SERVER}, tags: [{{key: " team ", '
        'value: "core "}]}) }'
    ) == {"setServerTags": True}
    tags = client.data(f"{{ server(input: {SERVER}) {{ tags {{ key value }} }} }}")
    assert tags["server"]["tags"] == [{"key": "team", "value": "core"}]


def test_lookup_by_every_key(gateway):
    for key in (
        'alias: "Load Balancer 01"',
        'ip: "123.213.231.132"',
        'ipmiIp: "10.110.120.130"',
        'name: "DP-12345", alias: "Load Balancer 01"',
    ):
        data = gateway.data(f"{{ server(input: {{{key}}}) {{ name provider {{ id kind }} }} }}")
        assert data["server"] == {
            "name": "DP-12345",
            "provider": {"id": "dp", "kind": "DATAPACKET"},
        }


def test_lookup_by_tag_needs_a_unique_tag(fresh):
    client, _ = fresh()
    shared = '{ server(input: {tag: {key: "env", value: "staging"}}) { name } }'
    assert error_codes(client.query(shared)) == ["VALIDATION_FAILED"]
    client.data(
        f'mutation {{ setServerTag(input: {{server: {SERVER}, key: "slot", value: "a7"}}) }}'
    )
    unique = '{ server(input: {tag: {key: "slot", value: "a7"}}) { name } }'
    assert client.data(unique) == {"server": {"name": "DP-12345"}}


def test_not_found_and_mismatched_keys(gateway):
    assert error_codes(gateway.query('{ server(input: {name: "DP-1"}) { name } }')) == ["NOT_FOUND"]
    mismatch = '{ server(input: {name: "DP-12345", alias: "nope"}) { name } }'
    assert error_codes(gateway.query(mismatch)) == ["NOT_FOUND"]
    assert error_codes(gateway.query("{ server(input: {}) { name } }")) == ["VALIDATION_FAILED"]
    missing = '{ invoice(input: {invoiceNumber: "XX999"}) { total } }'
    assert error_codes(gateway.query(missing)) == ["NOT_FOUND"]


@pytest.mark.parametrize(
    ("mutation", "field"),
    [
        (f'setServerTag(input: {{server: {SERVER}, key: "bad key!", value: "x"}})', "key"),
        (f'setServerTag(input: {{server: {SERVER}, key: "k", value: "{"v" * 151}"}})', "value"),
        (
            f"setServerTags(input: {{server: {SERVER}, tags: ["
            + ", ".join(f'{{key: "k{i}", value: "v"}}' for i in range(11))
            + "]})",
            "tags",
        ),
        (
            f'changeServerIpmiPassword(input: {{server: {SERVER}, password: "short1"}}) '
            "{ server { name } }",
            "password",
        ),
        (
            f'changeServerIpmiPassword(input: {{server: {SERVER}, password: "nodigitsatall"}}) '
            "{ server { name } }",
            "password",
        ),
        (
            'setReverseDnsRecord(input: {ip: "123.213.231.132", hostname: "no-dot.example"}) '
            "{ ip { ip } }",
            "hostname",
        ),
    ],
)
def test_rule_violations_fail_validation_before_any_upstream_call(
    gateway, datapacket_upstream, mutation, field
):
    log = datapacket_upstream.app.state.emulator.request_log
    before = log.count()
    body = gateway.query(f"mutation {{ {mutation} }}")
    assert error_codes(body) == ["VALIDATION_FAILED"]
    assert body["errors"][0]["extensions"]["field"] == field
    assert log.count() == before


def test_upstream_validation_errors_keep_their_code_and_name_the_provider(fresh):
    client, _ = fresh()
    body = client.query(
        f'mutation {{ setServerPrimaryIp(input: {{server: {SERVER}, ip: "192.0.2.1"}}) '
        "{ server { name } } }"
    )
    assert error_codes(body) == ["VALIDATION_FAILED"]
    assert body["errors"][0]["extensions"]["provider"] == "dp"


def test_a_failing_upstream_is_provider_unavailable(fresh):
    client, upstream = fresh()
    upstream.app.state.emulator.faults.error_rate = 1.0
    body = client.query("{ servers { entries { name } } }")
    assert error_codes(body) == ["PROVIDER_UNAVAILABLE"]
    assert body["errors"][0]["extensions"]["provider"] == "dp"
    assert body["errors"][0]["path"] == ["servers"]


def test_a_malformed_upstream_body_is_provider_unavailable(fresh):
    client, upstream = fresh()
    upstream.app.state.emulator.faults.malformed = True
    assert error_codes(client.query("{ account { name } }")) == ["PROVIDER_UNAVAILABLE"]


def test_a_failed_power_action_is_not_retried(fresh):
    client, upstream = fresh()
    log = upstream.app.state.emulator.request_log
    upstream.app.state.emulator.faults.error_rate = 1.0
    log.clear()
    body = client.query(
        f"mutation {{ performServerPowerAction(input: {{server: {SERVER}, action: RESET}}) "
        "{ server { name } } }"
    )
    assert error_codes(body) == ["PROVIDER_UNAVAILABLE"]
    assert body["errors"][0]["extensions"]["outcome"] == "unknown"
    assert log.count() == 1


def test_a_hung_upstream_times_out_as_provider_unavailable(datapacket_upstream):
    from emulators.datapacket import app as emulator

    with serving(emulator.create_app(size=5)) as upstream:
        upstream.app.state.emulator.faults.hang = True
        server = start_gateway([datapacket_config(upstream, read_timeout=0.1, retry_backoff=0.01)])
        try:
            body = GatewayClient(server).query("{ account { name } }")
        finally:
            upstream.app.state.emulator.faults.hang = False
            server.stop()
    assert error_codes(body) == ["PROVIDER_UNAVAILABLE"]
    assert "timed out" in body["errors"][0]["message"]


def test_traffic_period_must_be_ordered(gateway):
    body = gateway.query(
        '{ traffic(input: {from: "2025-01-02T00:00:00Z", to: "2025-01-01T00:00:00Z"}) '
        "{ aggregated { statisticsIn { sum } } } }"
    )
    assert error_codes(body) == ["VALIDATION_FAILED"]


def test_unexpected_errors_are_reported_without_details():
    from graphql import GraphQLError

    error = GraphQLError("boom", path=["servers"], original_error=KeyError("secret-key"))
    formatted = format_error(error, "req-1")
    assert formatted["extensions"] == {"code": "INTERNAL_SERVER_ERROR", "requestId": "req-1"}
    assert "secret-key" not in str(formatted)


def test_reverse_dns_maintenance_keeps_its_code_and_names_the_provider(fresh):
    client, upstream = fresh()
    upstream.app.state.fleet.reverse_dns_maintenance = True
    body = client.query('{ reverseDnsRecord(input: {ip: "123.213.231.132"}) { hostname } }')
    assert error_codes(body) == ["REVERSE_DNS_API_NOT_AVAILABLE"]
    assert body["errors"][0]["extensions"]["provider"] == "dp"
