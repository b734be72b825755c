"""Structured logs: one JSON line per request (and per upstream call at debug), no secrets."""

from __future__ import annotations

import io
import json
import logging
import sys
from collections.abc import Iterator

import httpx
import pytest

from emulators.kit.server import EmulatorServer
from gateway.app import create_app
from gateway.logs import JsonFormatter, configure_logging, credentials_of
from gateway.settings import settings_from_dict
from tests.conftest import FULL, READ, TOKENS, datapacket_config, error_codes

UPSTREAM_TOKEN = "dp-emulator-full"  # the gateway's DataPacket credential in conftest
SECRETS = (UPSTREAM_TOKEN, FULL, READ)
_LOGGERS = ("", "fleetql", "httpx", "httpcore", "uvicorn", "uvicorn.error", "uvicorn.access")


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    """Route every log record to a buffer as JSON lines at debug level, as `serve` does."""
    saved = {
        name: (logger.handlers[:], logger.level, logger.propagate)
        for name in _LOGGERS
        for logger in [logging.getLogger(name)]
    }
    buffer = io.StringIO()
    configure_logging("debug", [UPSTREAM_TOKEN], stream=buffer)
    yield buffer
    for name, (handlers, level, propagate) in saved.items():
        logger = logging.getLogger(name)
        logger.handlers[:] = handlers
        logger.setLevel(level)
        logger.propagate = propagate


def parsed(buffer: io.StringIO) -> list[dict]:
    """Every line of the buffer, each parsed as JSON (fails on a line that is not)."""
    return [json.loads(line) for line in buffer.getvalue().splitlines()]


def test_one_json_line_per_request_with_its_request_id_and_upstream_calls(fresh, log_lines):
    client, upstream = fresh()
    upstream_log = upstream.app.state.emulator.request_log
    response = client.http.post(
        "/graphql",
        json={"query": "query fleet { servers { entries { name } } }"},
        headers={"Authorization": f"Bearer {FULL}", "X-Request-ID": "log-test-1"},
    )
    assert response.status_code == 200

    lines = parsed(log_lines)
    [request] = [line for line in lines if line["logger"] == "fleetql.request"]
    assert request["request_id"] == "log-test-1"
    assert request["path"] == "/graphql"
    assert request["operation"] == "fleet"
    assert request["client"] == "full"
    assert request["status"] == 200
    assert request["outcome"] == "ok"
    assert request["error_codes"] == []
    assert request["upstream_calls"] == upstream_log.count(path="/v0/graphql") >= 1
    assert isinstance(request["duration_ms"], float)
    calls = [line for line in lines if line["logger"] == "fleetql.upstream"]
    assert len(calls) == request["upstream_calls"]
    assert {(c["level"], c["request_id"], c["provider"], c["endpoint"]) for c in calls} == {
        ("debug", "log-test-1", "dp", "/v0/graphql")
    }


def test_a_request_to_v0_graphql_is_logged_with_its_path(fresh, log_lines):
    client, _upstream = fresh()
    response = client.http.post(
        "/v0/graphql",
        json={"query": "query dp { servers { entries { name } } }"},
        headers={"Authorization": f"Bearer {FULL}"},
    )
    assert response.status_code == 200
    [request] = [line for line in parsed(log_lines) if line["logger"] == "fleetql.request"]
    assert (request["path"], request["operation"], request["outcome"]) == (
        "/v0/graphql",
        "dp",
        "ok",
    )


def test_failures_are_logged_with_codes_and_without_secrets(fresh, log_lines):
    client, upstream = fresh()
    client.query("query broken { account { favouriteColour } }", status=400)
    client.query("query account { account { name } }", token="not-a-token")
    upstream.app.state.emulator.faults.error_rate = 1.0
    body = client.query("query account { account { name } }", token=READ)
    assert error_codes(body) == ["PROVIDER_UNAVAILABLE"]

    lines = parsed(log_lines)
    requests = [line for line in lines if line["logger"] == "fleetql.request"]
    assert [r["error_codes"] for r in requests] == [
        ["GRAPHQL_VALIDATION_FAILED"],
        ["NOT_AUTHORIZED"],
        ["PROVIDER_UNAVAILABLE"],
    ]
    assert [r["outcome"] for r in requests] == ["error", "error", "error"]
    failed_calls = [line for line in lines if line.get("status") == "503"]
    assert len(failed_calls) == requests[-1]["upstream_calls"] >= 1
    assert {call["request_id"] for call in failed_calls} == {requests[-1]["request_id"]}
    text = log_lines.getvalue()
    for secret in [*SECRETS, "not-a-token", "Bearer"]:
        assert secret not in text
    assert "http://" not in text  # no URL, so no query string either


def test_formatter_redacts_configured_secrets_and_bearer_values():
    formatter = JsonFormatter(["s3cr3t-upstream-token"])
    try:
        raise RuntimeError("login with s3cr3t-upstream-token failed")
    except RuntimeError:
        exc_info = sys.exc_info()
    record = logging.LogRecord(
        "fleetql.test", logging.ERROR, __file__, 1, "sent Authorization: Bearer abc.def", (), None
    )
    record.exc_info = exc_info
    record.fields = {"detail": ["s3cr3t-upstream-token"]}
    line = formatter.format(record)
    entry = json.loads(line)
    assert "s3cr3t-upstream-token" not in line and "abc.def" not in line
    assert entry["message"] == "sent Authorization: Bearer [redacted]"
    assert entry["detail"] == ["[redacted]"]
    assert "RuntimeError" in entry["exception"]


def test_log_level_comes_from_the_configuration(fresh, log_lines):
    configure_logging("warning", stream=log_lines)
    client, _ = fresh()
    client.data("query account { account { name } }")
    assert parsed(log_lines) == []


def test_the_operator_token_is_among_the_secrets_redacted():
    settings = settings_from_dict(
        {
            "server": {"ops_token": "ops-s3cr3t-value"},
            "providers": [
                {"id": "dp", "kind": "datapacket", "base_url": "http://x", "token": "dp-s3cr3t"}
            ],
            "tokens": [{"name": "n", "scope": "read-only", "token": "client-token"}],
        }
    )
    assert sorted(credentials_of(settings)) == ["dp-s3cr3t", "ops-s3cr3t-value"]


def http_lines(buffer: io.StringIO) -> list[dict]:
    """The lines of HTTP requests that were not GraphQL requests."""
    return [line for line in parsed(buffer) if line["logger"] == "fleetql.http"]


def test_every_other_http_request_gets_one_line_without_headers_or_query(gateway, log_lines):
    secret = "Bearer do-not-log-this-header"
    gateway.http.get("/healthz", headers={"X-Request-ID": "health-1", "Authorization": secret})
    gateway.http.get("/metrics")
    gateway.http.get("/graphql", headers={"Accept": "text/html"})  # the GraphiQL page
    gateway.http.get("/no-such-page?token=do-not-log-this-query", headers={"X-Request-ID": "nf-1"})
    gateway.http.delete("/graphql")

    lines = http_lines(log_lines)
    assert [(line["method"], line["path"], line["status"], line["level"]) for line in lines] == [
        ("GET", "/healthz", 200, "debug"),
        ("GET", "/metrics", 200, "debug"),
        ("GET", "/graphql", 200, "debug"),
        ("GET", "/no-such-page", 404, "info"),
        ("DELETE", "/graphql", 405, "info"),
    ]
    assert [lines[0]["request_id"], lines[3]["request_id"]] == ["health-1", "nf-1"]
    assert all(isinstance(line["duration_ms"], float) for line in lines)
    text = log_lines.getvalue()
    assert "do-not-log-this" not in text


def test_a_graphql_request_is_logged_once(gateway, log_lines):
    gateway.data("query account { account { name } }")
    gateway.http.get(
        "/graphql",
        params={"query": "query listed { servers { entriesTotalCount } }"},
        headers={"Authorization": f"Bearer {FULL}"},
    )

    lines = parsed(log_lines)
    assert [line["operation"] for line in lines if line["logger"] == "fleetql.request"] == [
        "account",
        "listed",
    ]
    assert http_lines(log_lines) == []


def test_at_info_only_failed_requests_are_logged(gateway, log_lines):
    configure_logging("info", stream=log_lines)
    gateway.http.get("/healthz")
    gateway.http.get("/nowhere")

    assert [(line["path"], line["status"]) for line in http_lines(log_lines)] == [("/nowhere", 404)]


def test_an_unexpected_failure_is_logged_as_a_500_warning(datapacket_upstream, log_lines):
    settings = settings_from_dict(
        {"providers": [datapacket_config(datapacket_upstream)], "tokens": TOKENS}
    )
    app = create_app(settings)

    async def broken() -> None:
        raise RuntimeError("unexpected")

    app.add_api_route("/broken", broken)
    with EmulatorServer(app) as server:
        response = httpx.get(f"{server.url}/broken", headers={"X-Request-ID": "boom-2"})

    assert response.status_code == 500
    [line] = http_lines(log_lines)
    assert (line["path"], line["status"], line["level"], line["request_id"]) == (
        "/broken",
        500,
        "warning",
        "boom-2",
    )
