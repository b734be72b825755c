"""A thread-safe record of the requests an emulator received, for tests to assert on.

Example:
    log = RequestLog()
    app = RequestLogMiddleware(app, log)
    ...
    assert log.count(path="/v0/graphql", operation="servers") == 1

Credentials never reach the log: the values of ``Authorization``, ``X-Auth-Token``, cookies and
similar headers, and of credential-like query or form fields, are replaced by ``<redacted>``.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from emulators.kit.control import CONTROL_PREFIX

REDACTED = "<redacted>"
SENSITIVE_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "x-auth-token",
        "x-api-key",
        "x-xsrf-token",
        "cookie",
        "set-cookie",
    }
)
# Providers that authenticate through the URL or a form (e.g. ISPsystem's ``authinfo=user:pass``).
SENSITIVE_FIELDS = frozenset(
    {"authinfo", "auth", "token", "access_token", "api_key", "apikey", "password", "passwd"}
)
_SCOPE_KEY = "fleetql.emulator.logged_request"


@dataclass
class LoggedRequest:
    """One request as the emulator saw it; the app and middleware fill in the last four fields."""

    method: str
    path: str
    query: dict[str, str | list[str]]
    body: Any
    headers: dict[str, str]
    at: float
    operation: str | None = None
    fault: str | None = None
    status: int | None = None
    duration_ms: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """The entry as a JSON-ready dict."""
        return asdict(self)


class RequestLog:
    """Thread-safe, append-only list of ``LoggedRequest`` (until ``clear()``)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: list[LoggedRequest] = []

    def append(self, entry: LoggedRequest) -> None:
        """Record one request."""
        with self._lock:
            self._entries.append(entry)

    def entries(self) -> list[LoggedRequest]:
        """A snapshot of the entries, oldest first."""
        with self._lock:
            return list(self._entries)

    def clear(self) -> None:
        """Forget every entry."""
        with self._lock:
            self._entries.clear()

    def count(
        self, path: str | None = None, method: str | None = None, operation: str | None = None
    ) -> int:
        """Number of entries matching every given criterion exactly (method case-insensitive)."""
        return sum(
            1
            for e in self.entries()
            if (path is None or e.path == path)
            and (method is None or e.method == method.upper())
            and (operation is None or e.operation == operation)
        )


def logged_request(scope: Scope) -> LoggedRequest | None:
    """The log entry of the request in ``scope``, so an app can set ``operation`` on it."""
    return scope.get(_SCOPE_KEY)


class RequestLogMiddleware:
    """Pure-ASGI middleware that logs every HTTP request outside ``/_emulator/``.

    It reads the whole body up front (emulators receive small bodies) and replays it to the app.
    """

    def __init__(self, app: ASGIApp, log: RequestLog) -> None:
        self.app = app
        self.log = log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(CONTROL_PREFIX):
            await self.app(scope, receive, send)
            return
        started = time.monotonic()
        body, receive = await _buffer_body(receive)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        entry = LoggedRequest(
            method=scope["method"],
            path=scope["path"],
            query=_fields(scope["query_string"].decode("latin-1")),
            body=_parse_body(body, headers.get("content-type", "")),
            headers={k: REDACTED if k in SENSITIVE_HEADERS else v for k, v in headers.items()},
            at=time.time(),
        )
        self.log.append(entry)
        scope = {**scope, _SCOPE_KEY: entry}

        async def send_and_note(message: Message) -> None:
            if message["type"] == "http.response.start":
                entry.status = message["status"]
                entry.duration_ms = (time.monotonic() - started) * 1000
            await send(message)

        await self.app(scope, receive, send_and_note)


async def _buffer_body(receive: Receive) -> tuple[bytes, Receive]:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if replayed:
            return await receive()
        replayed = True
        return {"type": "http.request", "body": body, "more_body": False}

    return body, replay


def _fields(encoded: str) -> dict[str, str | list[str]]:
    """Decode a query string or form; a repeated name becomes a list; credentials are redacted."""
    result: dict[str, str | list[str]] = {}
    for name, value in parse_qsl(encoded, keep_blank_values=True):
        value = REDACTED if name.lower() in SENSITIVE_FIELDS else value
        if name not in result:
            result[name] = value
        elif isinstance(existing := result[name], list):
            existing.append(value)
        else:
            result[name] = [existing, value]
    return result


def _parse_body(body: bytes, content_type: str) -> Any:
    if not body:
        return None
    text = body.decode("utf-8", errors="replace")
    if "json" in content_type:
        try:
            return _redact(json.loads(text))
        except ValueError:
            return text
    if "application/x-www-form-urlencoded" in content_type:
        return _fields(text)
    return text


def _redact(value: Any) -> Any:
    """A JSON body with the values of credential-named keys replaced, at any depth."""
    if isinstance(value, dict):
        return {
            key: REDACTED if key.lower() in SENSITIVE_FIELDS else _redact(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_redact(item) for item in value]
    return value


__all__ = ["LoggedRequest", "RequestLog", "RequestLogMiddleware", "logged_request"]
