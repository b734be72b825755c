"""The connections under ``providers.http``: an httpx transport over aiohttp's connection pool.

Why not httpx's own pool. Per upstream call, httpcore's pool and its anyio and h11 layers
cost the gateway about 0.5 ms of CPU (profiled in process under ``bench.anchors`` S2, 52
upstream calls per request: httpx, httpcore, anyio and h11 took 48 % of the gateway's time,
FleetQL's own code 6 %), and its bookkeeping grows with the square of the pool's size.
aiohttp's pool and parser spend about an eighth of that on the same exchange (a GET on
loopback, client CPU: 0.08-0.12 ms against 0.73-0.87 ms; docs/performance.md). httpx stays
the interface (requests, responses, error classes, timeouts), so the rest of the transport in
``providers.http`` does not change; this module only carries the bytes.

Errors keep httpx's meaning, which ``providers.http`` relies on to tell a write that cannot
have reached the upstream from one whose outcome is unknown: ``ConnectError`` and
``ConnectTimeout`` only when no connection was made; anything after (a reset, a close before
the answer, an unreadable answer) is a ``ReadError``, ``RemoteProtocolError`` or
``ReadTimeout``. aiohttp's own resend of an idempotent request on a dropped connection is
switched off: the one retry loop is ``providers.http``'s, and a write is sent once.
"""

from __future__ import annotations

import ssl

import aiohttp
import httpx

__all__ = ["KEEPALIVE_EXPIRY", "AiohttpTransport"]

#: Idle connections are dropped before common 5 s server-side keep-alive timeouts, so a
#: request is not sent on a connection the upstream is closing.
KEEPALIVE_EXPIRY = 4.0


class AiohttpTransport(httpx.AsyncBaseTransport):
    """Up to ``size`` keep-alive connections (one per call the guard lets be in flight)."""

    def __init__(self, size: int, *, verify: ssl.SSLContext) -> None:
        self._size = size
        self._verify = verify
        # Made on first use: aiohttp binds a session to the running event loop.
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(
            limit=self._size, limit_per_host=0, keepalive_timeout=KEEPALIVE_EXPIRY, ssl=self._verify
        )
        session = aiohttp.ClientSession(
            connector=connector,
            auto_decompress=False,  # httpx decodes Content-Encoding, as with its own pool
            # httpx's client keeps and sends the cookies (DCImanager's session): not twice.
            cookie_jar=aiohttp.DummyCookieJar(),
        )
        # aiohttp resends an idempotent request (PUT and DELETE included) once when a reused
        # connection drops; a write must be sent once, and reads are retried by
        # providers.http's loop, within its budget and the request's deadline.
        session._retry_connection = False
        return session

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self._session is None:
            self._session = self._open()
        timeout = request.extensions.get("timeout", {})
        try:
            response = await self._session.request(
                request.method,
                str(request.url),
                headers=request.headers.multi_items(),
                data=request.content or None,
                allow_redirects=False,
                timeout=aiohttp.ClientTimeout(
                    total=None,
                    connect=timeout.get("pool"),
                    sock_connect=timeout.get("connect"),
                    sock_read=timeout.get("read"),
                ),
            )
        except aiohttp.ClientError as exc:
            raise _httpx_error(exc, request) from exc
        # The whole body, read here: the adapters decode whole bodies anyway, and httpx then
        # has it without a stream to iterate.
        try:
            body = await response.read()
        except aiohttp.ClientError as exc:
            raise _httpx_error(exc, request) from exc
        finally:
            response.release()
        return httpx.Response(
            status_code=response.status,
            headers=response.raw_headers,
            content=body,
            request=request,
            extensions={"http_version": b"HTTP/1.1"},
        )

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()


def _httpx_error(exc: aiohttp.ClientError, request: httpx.Request) -> httpx.TransportError:
    """The httpx error meaning what ``exc`` means (see the module's docstring)."""
    message = type(exc).__name__  # aiohttp's messages can carry URLs; the type says enough
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return httpx.ConnectTimeout(message, request=request)
    if isinstance(exc, aiohttp.ServerTimeoutError):  # sock_read: the answer is late
        return httpx.ReadTimeout(message, request=request)
    if isinstance(exc, aiohttp.ClientConnectorError):  # includes TLS failures while connecting
        return httpx.ConnectError(message, request=request)
    if isinstance(exc, aiohttp.ClientResponseError | aiohttp.ClientPayloadError):
        return httpx.RemoteProtocolError(message, request=request)
    return httpx.ReadError(message, request=request)  # reset or closed after sending
