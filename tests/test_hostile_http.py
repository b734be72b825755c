"""Hostile HTTP: bodies without (or with a false) Content-Length, deeply nested JSON, slow
clients, too many connections, and the operator endpoints' token.

The gateway runs in a real uvicorn server with the connection handling it has in production
(``gateway.cli.connection_options``), and raw sockets send what no well-behaved client would.
Socket timeouts (10 s) only keep a failing test from hanging: nothing asserts on speed.
"""

from __future__ import annotations

import http.client
import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import orjson
import pytest

from emulators.datapacket import app as emulator
from emulators.kit.server import EmulatorServer
from gateway.app import create_app
from gateway.cli import connection_options, uvicorn_options
from gateway.protocol import GatewayProtocol
from gateway.settings import ConfigError, settings_from_dict
from tests.conftest import FULL, TOKENS, datapacket_config, error_codes
from tests.servers import serving

MAX_BODY = 16384
#: The upper bound a test waits for the server; a pass takes a fraction of it.
PATIENCE = 10.0
SHORT = 0.5  # seconds: header, body and keep-alive timeouts of the test gateway
JSON_POST = (
    b"POST /graphql HTTP/1.1\r\nHost: fleetql\r\nAuthorization: Bearer "
    + FULL.encode()
    + b"\r\nContent-Type: application/json\r\n"
)


@pytest.fixture(scope="module")
def upstream() -> Iterator[EmulatorServer]:
    with serving(emulator.create_app(size=5, seed=1)) as server:
        yield server


def serve(upstream: EmulatorServer, **server: Any) -> EmulatorServer:
    """A gateway in uvicorn with its production connection options (logs go to caplog)."""
    settings = settings_from_dict(
        {
            "providers": [datapacket_config(upstream)],
            "tokens": TOKENS,
            "server": server,
            "limits": {"max_body_bytes": MAX_BODY},
        },
        source="<test>",
    )
    app = create_app(settings)
    return EmulatorServer(app, log_config=None, **connection_options(settings)).start()


@pytest.fixture(scope="module")
def hostile(upstream) -> Iterator[EmulatorServer]:
    """A gateway whose header, body and keep-alive timeouts are half a second."""
    server = serve(upstream, header_timeout=SHORT, body_timeout=SHORT, keepalive_timeout=SHORT)
    yield server
    server.stop()


def connect(server: EmulatorServer) -> socket.socket:
    return socket.create_connection((server.host, server.port), timeout=PATIENCE)


def read_until_closed(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection (or resets it: a server
    closing with unread bytes from the client sends a reset after its last response)."""
    received = b""
    try:
        while chunk := sock.recv(65536):
            received += chunk
    except ConnectionResetError:
        pass
    return received


def exchange(server: EmulatorServer, data: bytes) -> bytes:
    """Send ``data`` on a new connection and read until the server closes it."""
    with connect(server) as sock:
        sock.sendall(data)
        return read_until_closed(sock)


def responses(raw: bytes) -> list[tuple[int, dict[str, str], bytes]]:
    """The HTTP/1.1 responses in ``raw`` (each framed by its Content-Length)."""
    parsed = []
    while raw:
        head, _, raw = raw.partition(b"\r\n\r\n")
        status_line, *lines = head.decode("latin-1").split("\r\n")
        headers = {
            name.strip().lower(): value.strip()
            for name, _, value in (line.partition(":") for line in lines)
        }
        length = int(headers["content-length"])
        parsed.append((int(status_line.split()[1]), headers, raw[:length]))
        raw = raw[length:]
    return parsed


def only_response(raw: bytes) -> tuple[int, dict[str, str], dict[str, Any]]:
    """The one response in ``raw``, its body decoded as JSON."""
    [(status, headers, body)] = responses(raw)
    assert headers["content-type"] == "application/json", headers
    return status, headers, json.loads(body)


def no_traceback_logged(caplog: pytest.LogCaptureFixture) -> None:
    records = [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    assert records == [], [r.getMessage() for r in records]


# --- Bodies --------------------------------------------------------------------------------


def test_a_chunked_body_is_refused_once_past_the_limit_and_never_read_to_its_end(hostile):
    flood = 256 * 2**20
    chunk = b"x" * 65536
    framed = b"%x\r\n%s\r\n" % (len(chunk), chunk)
    answer: list[bytes] = []
    sent = 0
    with connect(hostile) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 256 * 1024)
        reader = threading.Thread(target=lambda: answer.append(read_until_closed(sock)))
        sock.sendall(JSON_POST + b"Transfer-Encoding: chunked\r\n\r\n")
        reader.start()
        try:
            while sent < flood:
                sock.sendall(framed)
                sent += len(chunk)
        except OSError:  # the server closed the connection: the rest is never sent
            pass
        reader.join(PATIENCE)
    status, headers, body = only_response(answer[0])
    assert status == 413 and headers["connection"] == "close"
    assert error_codes(body) == ["BAD_REQUEST"]
    assert body["errors"][0]["extensions"]["limit"] == "max_body_bytes"
    # The server stopped reading: what left this socket is what the kernels buffered.
    assert sent < flood / 4


class Body:
    """An ASGI ``receive`` delivering ``chunks`` chunks of ``size`` bytes, counting pulls."""

    def __init__(self, chunks: int, size: int) -> None:
        self.chunks, self.size, self.pulled = chunks, size, 0

    async def __call__(self) -> dict[str, Any]:
        self.pulled += 1
        more = self.pulled < self.chunks
        return {"type": "http.request", "body": b" " * self.size, "more_body": more}


async def call_app(
    app: Any, receive: Body, content_length: str | None
) -> tuple[int, dict[str, str], Any]:
    """One POST /graphql straight through the gateway's ASGI app (no server in between)."""
    headers = [
        (b"content-type", b"application/json"),
        (b"authorization", b"Bearer " + FULL.encode()),
    ]
    if content_length is not None:
        headers.append((b"content-length", content_length.encode()))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/graphql",
        "raw_path": b"/graphql",
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    response_headers = {k.decode(): v.decode() for k, v in sent[0]["headers"]}
    return sent[0]["status"], response_headers, orjson.loads(sent[1]["body"])


@pytest.fixture(scope="module")
def app(upstream) -> Any:
    settings = settings_from_dict(
        {
            "providers": [datapacket_config(upstream)],
            "tokens": TOKENS,
            "limits": {"max_body_bytes": 1000},
        }
    )
    return create_app(settings)


@pytest.mark.parametrize("content_length", [None, "10", "1000"], ids=["absent", "10", "1000"])
async def test_the_body_is_counted_as_it_arrives_whatever_content_length_says(app, content_length):
    body = Body(chunks=1000, size=300)  # 300 kB in all, past the 1000-byte limit at chunk 4
    status, headers, answer = await call_app(app, body, content_length)
    assert status == 413 and headers["connection"] == "close"
    assert answer["errors"][0]["extensions"] == {"code": "BAD_REQUEST", "limit": "max_body_bytes"}
    assert body.pulled == 4  # and not one chunk more


async def test_a_declared_length_over_the_limit_is_refused_before_reading(app):
    body = Body(chunks=1, size=10)
    status, _, answer = await call_app(app, body, "1001")
    assert status == 413 and error_codes(answer) == ["BAD_REQUEST"]
    assert body.pulled == 0


@pytest.mark.parametrize("content_length", ["-5", "abc", "1e3", "١٠"])
async def test_a_content_length_that_is_not_a_number_reaching_the_app_is_a_bad_request(
    app, content_length
):
    status, _, answer = await call_app(app, Body(chunks=1, size=10), content_length)
    assert status == 400 and error_codes(answer) == ["BAD_REQUEST"]


@pytest.mark.parametrize("content_length", [b"-5", b"abc", b"1e3", b"10, 11"])
def test_a_content_length_uvicorn_refuses_gets_a_json_400(hostile, caplog, content_length):
    raw = exchange(hostile, JSON_POST + b"Content-Length: " + content_length + b"\r\n\r\n{}")
    status, _, body = only_response(raw)
    assert status == 400 and error_codes(body) == ["BAD_REQUEST"]
    no_traceback_logged(caplog)


def test_a_request_head_over_16_kib_gets_a_json_400(hostile):
    # Never completed: h11 refuses once it buffers more than the cap of an incomplete head.
    raw = exchange(hostile, JSON_POST + b"X-Padding: " + b"a" * 20000)
    status, _, body = only_response(raw)
    assert status == 400 and error_codes(body) == ["BAD_REQUEST"]


def test_a_client_leaving_mid_body_logs_no_traceback(hostile, caplog):
    caplog.set_level(logging.DEBUG)
    with connect(hostile) as sock:
        sock.sendall(JSON_POST + b"X-Request-ID: left-mid-body\r\nContent-Length: 100\r\n\r\n{")
    assert request_logged(caplog, "left-mid-body")["status"] == 400
    no_traceback_logged(caplog)


def request_logged(caplog: pytest.LogCaptureFixture, request_id: str) -> dict[str, Any]:
    """The fields of the gateway's log line for ``request_id``, once the server wrote it."""
    deadline = time.monotonic() + PATIENCE
    while time.monotonic() < deadline:
        for record in caplog.records:
            fields = getattr(record, "fields", {})
            if fields.get("request_id") == request_id:
                return fields
        time.sleep(0.01)
    raise AssertionError(f"no log line for request {request_id}")


# --- Nested JSON ---------------------------------------------------------------------------


def nested(levels: int) -> str:
    return "[" * levels + "]" * levels


def post(server: EmulatorServer, body: str) -> tuple[int, dict[str, Any]]:
    data = body.encode()
    raw = exchange(
        server,
        JSON_POST + b"Connection: close\r\nContent-Length: %d\r\n\r\n%s" % (len(data), data),
    )
    status, _, answer = only_response(raw)
    return status, answer


def get(server: EmulatorServer, query: str, variables: str) -> tuple[int, dict[str, Any]]:
    connection = http.client.HTTPConnection(server.host, server.port, timeout=PATIENCE)
    target = "/graphql?" + urlencode({"query": query, "variables": variables})
    connection.request("GET", target, headers={"Authorization": f"Bearer {FULL}"})
    response = connection.getresponse()
    answer = json.loads(response.read())
    connection.close()
    return response.status, answer


def test_json_nested_5000_deep_is_a_bad_request_without_a_traceback(hostile, caplog):
    caplog.set_level(logging.DEBUG)
    body_status, body_answer = post(hostile, '{"query":"{ __typename }","x":' + nested(5000) + "}")
    get_status, get_answer = get(hostile, "{ __typename }", '{"v":' + nested(5000) + "}")
    assert (body_status, get_status) == (400, 400)
    assert body_answer["errors"][0] == {
        "message": "The request body is nested too deeply.",
        "extensions": {"code": "BAD_REQUEST"},
    }
    assert get_answer["errors"][0]["message"] == "The 'variables' parameter is nested too deeply."
    no_traceback_logged(caplog)


DEEP_LIST = nested(1000)
DEEP_OBJECT = '{"a":' * 999 + "{}" + "}" * 999
SERVERS = "query($v: PaginatedServersInput) { servers(input: $v) { entriesTotalCount } }"
NAMES = "query($v: [String!]) { servers(input: {filter: {name_in: $v}}) { entriesTotalCount } }"


@pytest.mark.parametrize(
    ("query", "variables"),
    [
        ("{ __typename }", '{"undeclared":' + DEEP_LIST + "}"),
        ("query($v: String!) { server(input: {name: $v}) { name } }", '{"v":' + DEEP_LIST + "}"),
        (NAMES, '{"v":' + DEEP_LIST + "}"),
        (SERVERS, '{"v":{"filter":{"name_in":' + DEEP_LIST + "}}}"),
        (SERVERS, '{"v":{"filter":' + DEEP_OBJECT + "}}"),
    ],
    ids=["undeclared", "string", "list", "list-in-input", "input-object"],
)
def test_deep_but_accepted_variables_get_a_clean_answer(hostile, caplog, query, variables):
    caplog.set_level(logging.DEBUG)
    status, answer = post(hostile, f'{{"query":{json.dumps(query)},"variables":{variables}}}')
    # A variable refused is a malformed request (400, no data); one accepted runs (200).
    assert status == (200 if "data" in answer else 400)
    assert set(error_codes(answer)) <= {"GRAPHQL_VALIDATION_FAILED"}
    assert "data" in answer or answer["errors"]
    no_traceback_logged(caplog)


# --- Slow and idle clients -----------------------------------------------------------------


def test_a_request_head_sent_too_slowly_is_cut_off(hostile):
    assert exchange(hostile, b"POST /graphql HTTP/1.1\r\nHost: fleetql\r\n") == b""


def test_a_connection_that_sends_nothing_is_closed(hostile):
    with connect(hostile) as sock:
        assert read_until_closed(sock) == b""


def test_after_a_response_the_next_head_has_its_own_deadline(hostile):
    with connect(hostile) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: fleetql\r\n\r\n")
        first = b""
        while b'{"status":"ok"}' not in first:
            first += sock.recv(65536)
        sock.sendall(b"GET /healthz HTTP/1.1\r\n")  # then nothing
        assert read_until_closed(sock) == b""
    assert first.startswith(b"HTTP/1.1 200 ")


def test_an_idle_keep_alive_connection_is_closed(hostile):
    with connect(hostile) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: fleetql\r\n\r\n")
        [(status, headers, _)] = responses(read_until_closed(sock))
    assert status == 200 and "close" not in headers.get("connection", "")


def test_a_body_trickling_past_the_body_timeout_is_refused(hostile):
    raw = exchange(hostile, JSON_POST + b'Content-Length: 100\r\n\r\n{"query":')
    status, headers, body = only_response(raw)
    assert status == 408 and headers["connection"] == "close"
    assert body["errors"][0]["extensions"] == {"code": "BAD_REQUEST", "limit": "body_timeout"}


def test_connections_beyond_max_connections_get_a_json_503(upstream):
    server = serve(upstream, max_connections=2)
    connections = [
        http.client.HTTPConnection(server.host, server.port, timeout=PATIENCE) for _ in range(3)
    ]
    try:
        answers = []
        for connection in connections:  # the first two stay open (keep-alive)
            connection.request("GET", "/healthz")
            response = connection.getresponse()
            answers.append((response.status, response.getheader("retry-after"), response.read()))
    finally:
        for connection in connections:
            connection.close()
        server.stop()
    assert [status for status, _, _ in answers] == [200, 200, 503]
    _, retry_after, body = answers[2]
    refusal = json.loads(body)["errors"][0]
    assert refusal["extensions"] == {
        "code": "RATE_LIMITED",
        "limit": "max_connections",
        "retryAfter": 1,
    }
    assert retry_after == "1"


def test_server_keys_become_uvicorn_options(upstream):
    settings = settings_from_dict(
        {
            "providers": [datapacket_config(upstream)],
            "tokens": TOKENS,
            "server": {"header_timeout": 3, "keepalive_timeout": 2, "max_connections": 50},
        }
    )
    options = uvicorn_options(settings)
    assert options["http"].func is GatewayProtocol
    assert options["http"].keywords == {"header_timeout": 3.0}
    assert (options["timeout_keep_alive"], options["limit_concurrency"]) == (2.0, 50)
    assert options["h11_max_incomplete_event_size"] == 16 * 1024
    defaults = settings_from_dict({"providers": [datapacket_config(upstream)], "tokens": TOKENS})
    assert (defaults.header_timeout, defaults.body_timeout) == (10.0, 30.0)
    assert (defaults.keepalive_timeout, defaults.max_connections) == (5.0, 1000)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("header_timeout", 0),
        ("body_timeout", -1),
        ("keepalive_timeout", "5"),
        ("max_connections", 0),
    ],
)
def test_server_keys_are_validated(upstream, key, value):
    with pytest.raises(ConfigError, match=f"server.{key}"):
        settings_from_dict(
            {"providers": [datapacket_config(upstream)], "tokens": TOKENS, "server": {key: value}}
        )


# --- Operator endpoints --------------------------------------------------------------------

OPS = "ops-token-for-tests"


@pytest.fixture(scope="module")
def guarded(upstream) -> Iterator[EmulatorServer]:
    server = serve(upstream, ops_token=OPS)
    yield server
    server.stop()


def ops_get(server: EmulatorServer, path: str, token: str | None) -> http.client.HTTPResponse:
    connection = http.client.HTTPConnection(server.host, server.port, timeout=PATIENCE)
    connection.request("GET", path, headers={"Authorization": f"Bearer {token}"} if token else {})
    response = connection.getresponse()
    response.body = response.read()
    connection.close()
    return response


@pytest.mark.parametrize("path", ["/readyz", "/metrics"])
@pytest.mark.parametrize("token", [None, FULL, OPS + "x"], ids=["none", "client", "wrong"])
def test_the_ops_token_guards_readiness_and_metrics(guarded, upstream, path, token):
    log = upstream.app.state.emulator.request_log
    before = log.count()
    response = ops_get(guarded, path, token)
    assert response.status == 401
    assert response.getheader("www-authenticate") == "Bearer"
    assert error_codes(json.loads(response.body)) == ["NOT_AUTHORIZED"]
    assert log.count() == before  # a refused readiness probe pings no provider


def test_the_ops_token_opens_them_and_healthz_stays_open(guarded):
    assert ops_get(guarded, "/readyz", OPS).status == 200
    metrics = ops_get(guarded, "/metrics", OPS)
    assert metrics.status == 200 and b"fleetql_graphql_requests_total" in metrics.body
    assert ops_get(guarded, "/healthz", None).status == 200


def test_the_ops_token_may_come_from_the_environment(upstream, monkeypatch):
    config = {"providers": [datapacket_config(upstream)], "tokens": TOKENS}
    monkeypatch.setenv("FLEETQL_OPS_TOKEN", OPS)
    settings = settings_from_dict({**config, "server": {"ops_token_env": "FLEETQL_OPS_TOKEN"}})
    assert settings.ops_token == OPS and OPS not in repr(settings)
    assert settings_from_dict(config).ops_token is None
    monkeypatch.delenv("FLEETQL_OPS_TOKEN")
    with pytest.raises(ConfigError, match="server.ops_token_env"):
        settings_from_dict({**config, "server": {"ops_token_env": "FLEETQL_OPS_TOKEN"}})
