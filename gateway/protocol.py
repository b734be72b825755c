"""The gateway's HTTP/1.1 connections: uvicorn's h11 protocol with three small additions.

Why it exists. uvicorn (0.54) answers a request it cannot parse (a malformed Content-Length,
a request head over ``h11_max_incomplete_event_size``) and a request over
``limit_concurrency`` with plain text, where every other error of the gateway is a JSON
GraphQL error; and it bounds only the idle time after a response (``timeout_keep_alive``,
cancelled by the first byte of the next request), so a client that opens a connection and
sends its request head a byte at a time holds the connection for as long as it likes.

This subclass answers both refusals with a JSON body, and closes a connection whose request
head has not fully arrived ``header_timeout`` seconds after the connection opened or after
its previous response ended. It also turns Nagle's algorithm off on every connection: asyncio
does so only for sockets created with ``IPPROTO_TCP``, which uvicorn's own bind (its
``--workers`` mode) does not pass, and a keep-alive response written in two parts then waits
for the client's delayed ACK (44 ms per request with 2 workers against 1 ms with one).
Everything else is uvicorn's.
"""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import h11
import orjson
from uvicorn.config import Config
from uvicorn.protocols.http.h11_impl import STATUS_PHRASES, H11Protocol
from uvicorn.server import ServerState

from errors import BadRequest, RateLimited

__all__ = ["GatewayProtocol"]

#: Seconds a client refused for ``max_connections`` is asked to wait (``Retry-After``).
RETRY_AFTER_SECONDS = 1


class GatewayProtocol(H11Protocol):
    """uvicorn's h11 protocol with JSON refusals and a deadline for each request head.

    ``config.limit_concurrency`` is the number of connections served at once: a connection
    opened beyond it answers each request with 503 ``RATE_LIMITED`` and is closed.
    """

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
        *,
        header_timeout: float,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.header_timeout = header_timeout
        self._header_timer: asyncio.TimerHandle | None = None
        # uvicorn checks its limit per request and answers in plain text; the check moves to
        # connection_made, where a connection over the cap is given the JSON refusal instead.
        self.max_connections = self.limit_concurrency
        self.limit_concurrency = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """No Nagle; start the head deadline; a connection over the cap is only ever refused."""
        super().connection_made(transport)
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.max_connections is not None and len(self.connections) > self.max_connections:
            self.app = self._refuse_over_capacity
        self._start_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        """Forget the head deadline with the connection."""
        self._cancel_header_timer()
        super().connection_lost(exc)

    def handle_events(self) -> None:
        """uvicorn's event loop over the received bytes; a new request head stops the timer."""
        cycle = self.cycle
        super().handle_events()
        if self.cycle is not cycle:  # a complete request head arrived and is being served
            self._cancel_header_timer()

    def on_response_complete(self) -> None:
        """After each response the next request head has ``header_timeout`` seconds again."""
        if not self.transport.is_closing():
            self._start_header_timer()
        super().on_response_complete()  # may serve a pipelined request, stopping the timer

    def send_400_response(self, msg: str) -> None:
        """uvicorn's answer to a request h11 cannot parse, as a JSON ``BAD_REQUEST`` error."""
        # After a response has begun, a second one cannot be sent: then the connection closes.
        if self.conn.our_state in (h11.IDLE, h11.SEND_RESPONSE):
            body = _error_body(msg, BadRequest.code)
            head = h11.Response(
                status_code=400, headers=_json_headers(body), reason=STATUS_PHRASES[400]
            )
            events = (head, h11.Data(data=body), h11.EndOfMessage())
            for event in events:
                self.transport.write(self.conn.send(event))
        self.transport.close()

    async def _refuse_over_capacity(self, scope: Any, receive: Any, send: Any) -> None:
        """The ASGI answer on a connection over ``max_connections``: 503, then close."""
        self.logger.warning(
            "Refused a request over server.max_connections (%d).", self.max_connections
        )
        message = (
            f"The gateway is serving its maximum of {self.max_connections} connections; "
            "retry shortly."
        )
        body = _error_body(
            message, RateLimited.code, limit="max_connections", retryAfter=RETRY_AFTER_SECONDS
        )
        headers = [*_json_headers(body), (b"retry-after", str(RETRY_AFTER_SECONDS).encode())]
        await send({"type": "http.response.start", "status": 503, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    def _start_header_timer(self) -> None:
        self._cancel_header_timer()
        self._header_timer = self.loop.call_later(self.header_timeout, self._header_timed_out)

    def _cancel_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _header_timed_out(self) -> None:
        # No answer: the client has not finished asking anything that could be answered.
        self._header_timer = None
        if not self.transport.is_closing():
            self.transport.close()


def _error_body(message: str, code: str, **extensions: Any) -> bytes:
    error = {"message": message, "extensions": {"code": code, **extensions}}
    return orjson.dumps({"errors": [error]})


def _json_headers(body: bytes) -> list[tuple[bytes, bytes]]:
    return [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]
