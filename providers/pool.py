"""The connection pool under ``providers.http``: several small httpcore pools behind one transport.

httpcore's pool re-examines every connection, for every queued request, whenever a request
starts or ends (``AsyncConnectionPool._assign_requests_to_connections``), with a socket
readability check per idle connection and a count of the idle ones per idle connection: its
CPU per request grows with the square of the pool's size. Profiled under the fan-out
benchmark (``bench.anchors`` S2: 52 upstream calls per request, ``max_concurrency`` 64, one
pool of 64 connections), that scan took 68 % of the gateway's CPU (cProfile, in process).
Pools of at most ``POOL_SIZE`` connections keep each scan short. Their sizes add up to the
configured size, and each request goes to the pool with the fewest requests in flight, so no
request waits while any pool has a free connection.
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Callable

import httpx

__all__ = ["POOL_SIZE", "SpreadPool"]

#: Connections per httpcore pool. S2 in process, gateway CPU per request by connections per
#: pool (64 in all): 1, 2 or 4: 36-37 ms; 8: 48 ms; 16: 67 ms; one pool of 64: 195 ms.
POOL_SIZE = 4
#: Idle connections are dropped before common 5 s server-side keep-alive timeouts, so a
#: request is not sent on a connection the upstream is closing.
KEEPALIVE_EXPIRY = 4.0


class SpreadPool(httpx.AsyncBaseTransport):
    """``size`` keep-alive connections in pools of at most ``POOL_SIZE``, least busy first."""

    def __init__(self, size: int, *, verify: ssl.SSLContext) -> None:
        count = -(-size // POOL_SIZE)  # ceil
        shares = [size // count + (1 if i < size % count else 0) for i in range(count)]
        self._pools = [
            httpx.AsyncHTTPTransport(
                verify=verify,
                limits=httpx.Limits(
                    max_connections=share,
                    max_keepalive_connections=share,
                    keepalive_expiry=KEEPALIVE_EXPIRY,
                ),
            )
            for share in shares
        ]
        #: Connections each pool may hold.
        self.sizes = shares
        self._in_flight = [0] * count

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        index = min(range(len(self._pools)), key=self._in_flight.__getitem__)
        self._in_flight[index] += 1
        try:
            response = await self._pools[index].handle_async_request(request)
        except BaseException:
            self._in_flight[index] -= 1
            raise
        response.stream = _Released(response.stream, lambda: self._release(index))
        return response

    def _release(self, index: int) -> None:
        self._in_flight[index] -= 1

    async def aclose(self) -> None:
        for pool in self._pools:
            await pool.aclose()


class _Released(httpx.AsyncByteStream):
    """A response body that gives its pool's place back once, when it is closed."""

    def __init__(self, stream: httpx.AsyncByteStream, release: Callable[[], None]) -> None:
        self._stream = stream
        self._release: Callable[[], None] | None = release

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._stream:
            yield chunk

    async def aclose(self) -> None:
        try:
            await self._stream.aclose()
        finally:
            if self._release is not None:
                self._release, release = None, self._release
                release()
