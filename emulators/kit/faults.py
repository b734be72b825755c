"""Fault injection for emulators: latency, errors, rate limiting, hangs and malformed bodies.

Example:
    faults = FaultSettings(error_rate=0.5, seed=3)
    app = FaultInjectionMiddleware(app, faults)
    faults.latency_ms = 200  # settings are read on every request, so tests can flip them live
"""

from __future__ import annotations

import asyncio
import json
import math
import random
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from fnmatch import fnmatchcase

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from emulators.kit.control import CONTROL_PREFIX
from emulators.kit.request_log import logged_request

# A hang sleeps far past any sane client timeout; it ends early when the client disconnects.
HANG_SECONDS = 3600.0

FaultBody = Callable[[int], tuple[bytes, str]]
"""Produces ``(body, content_type)`` for an injected error answered with the given HTTP status."""


def json_fault_body(status: int) -> tuple[bytes, str]:
    """Default injected error body: ``{"error": "injected fault"}``."""
    return json.dumps({"error": "injected fault"}).encode(), "application/json"


@dataclass
class FaultSettings:
    """Knobs applied to every non-control request (or those ``paths`` matches); mutate them
    at any time.

    Precedence: latency first, then ``hang``, then ``retry_after`` (429 to every request), then
    ``error_rate`` (``error_status`` to that fraction of requests), then ``malformed``.
    """

    latency_ms: float = 0
    latency_jitter_ms: float = 0
    error_rate: float = 0.0
    error_status: int = 503
    retry_after: float | None = None
    hang: bool = False
    malformed: bool = False
    seed: int = 0
    #: When set, sent as the ``Cache-Control`` header of every normal answer.
    cache_control: str | None = None
    #: Path patterns (``fnmatch``, e.g. ``"/v2/data_usages/*"``) the faults apply to; ``None``:
    #: every request. Lets a test fail one upstream call of a query and not the others.
    paths: list[str] | None = None

    def to_dict(self) -> dict[str, object]:
        """The settings as a JSON-ready dict."""
        return asdict(self)

    def update(self, changes: dict[str, object]) -> None:
        """Apply a partial update atomically; raise ValueError/TypeError naming the bad key."""
        if not isinstance(changes, dict):
            raise TypeError("fault settings must be a JSON object")
        known = {f.name for f in fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise ValueError(f"unknown fault setting(s): {', '.join(unknown)}")
        for key, value in changes.items():
            _check(key, value)
        for key, value in changes.items():
            setattr(self, key, value)


def _check(key: str, value: object) -> None:
    is_number = isinstance(value, int | float) and not isinstance(value, bool)
    if key in ("hang", "malformed"):
        ok = isinstance(value, bool)
    elif key in ("seed", "error_status"):
        ok = isinstance(value, int) and not isinstance(value, bool)
        ok = ok and (key == "seed" or 100 <= value <= 599)
    elif key == "error_rate":
        ok = is_number and 0 <= value <= 1
    elif key == "cache_control":
        ok = value is None or isinstance(value, str)
    elif key == "paths":
        ok = value is None or isinstance(value, list) and all(isinstance(p, str) for p in value)
    elif key == "retry_after":
        ok = value is None or (is_number and value >= 0)
    else:
        ok = is_number and value >= 0
    if not ok:
        raise ValueError(f"invalid value for fault setting {key}: {value!r}")


class FaultInjectionMiddleware:
    """Pure-ASGI middleware applying a live ``FaultSettings`` to every HTTP request.

    Requests under ``/_emulator/`` pass untouched. ``fault_body`` lets each emulator answer
    injected errors in its provider's own error format.
    """

    def __init__(
        self, app: ASGIApp, faults: FaultSettings, fault_body: FaultBody = json_fault_body
    ) -> None:
        self.app = app
        self.faults = faults
        self.fault_body = fault_body
        self._rng = random.Random(faults.seed)
        self._rng_seed = faults.seed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        faults = self.faults
        if (
            scope["type"] != "http"
            or scope["path"].startswith(CONTROL_PREFIX)
            or faults.paths is not None
            and not any(fnmatchcase(scope["path"], pattern) for pattern in faults.paths)
        ):
            await self.app(scope, receive, send)
            return
        jitter, roll = self._draw()
        delay = faults.latency_ms + jitter * faults.latency_jitter_ms
        if delay > 0:
            await asyncio.sleep(delay / 1000)
        fault = self._pick(faults, roll)
        entry = logged_request(scope)
        if entry is not None and fault is not None:
            entry.fault = fault
        if fault == "hang":
            if not await _hang(receive):
                await self._error(send, 504)
        elif fault == "rate_limited":
            wait = str(math.ceil(faults.retry_after or 0))
            await self._error(send, 429, [(b"retry-after", wait.encode())])
        elif fault == "error":
            await self._error(send, faults.error_status)
        elif fault == "malformed":
            await self.app(scope, receive, _truncating(send))
        elif faults.cache_control is not None:
            await self.app(
                scope, receive, _with_header(send, b"cache-control", faults.cache_control)
            )
        else:
            await self.app(scope, receive, send)

    def _draw(self) -> tuple[float, float]:
        # Re-seed when a test changes the seed, so the sequence after the change is reproducible.
        if self.faults.seed != self._rng_seed:
            self._rng = random.Random(self.faults.seed)
            self._rng_seed = self.faults.seed
        return self._rng.random(), self._rng.random()

    @staticmethod
    def _pick(faults: FaultSettings, roll: float) -> str | None:
        if faults.hang:
            return "hang"
        if faults.retry_after is not None:
            return "rate_limited"
        if roll < faults.error_rate:
            return "error"
        if faults.malformed:
            return "malformed"
        return None

    async def _error(
        self, send: Send, status: int, extra: list[tuple[bytes, bytes]] | None = None
    ) -> None:
        body, content_type = self.fault_body(status)
        headers = [
            (b"content-type", content_type.encode()),
            (b"content-length", str(len(body)).encode()),
            *(extra or []),
        ]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


async def _hang(receive: Receive) -> bool:
    """Wait until the client disconnects (True) or HANG_SECONDS pass (False)."""

    async def until_disconnect() -> None:
        while (await receive())["type"] != "http.disconnect":
            pass

    try:
        await asyncio.wait_for(until_disconnect(), HANG_SECONDS)
    except TimeoutError:
        return False
    return True


def _with_header(send: Send, name: bytes, value: str) -> Send:
    """Wrap ``send`` so the response start carries one more header."""

    async def send_with_header(message: Message) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", []), (name, value.encode())]}
        await send(message)

    return send_with_header


def _truncating(send: Send) -> Send:
    """Wrap ``send`` so the app's response goes out as 200 with only the first half of its body."""
    chunks: list[bytes] = []

    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            full = b"".join(chunks)
            # Half of a JSON document never closes its outermost bracket, so it cannot parse.
            body = full[: len(full) // 2] if len(full) > 1 else b"{"
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})

    return wrapped


__all__ = ["FaultBody", "FaultInjectionMiddleware", "FaultSettings", "json_fault_body"]
