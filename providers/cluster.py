"""The state several replicas share: one Redis (or Valkey) connection pool per process.

``[cluster] redis_url`` turns it on; without it the app builds no ``SharedStore`` and every
piece of state stays in process, exactly as with one replica. With it, whatever a replica
shares goes through ``SharedStore.attempt``: it runs one operation against Redis within
``timeout`` seconds and returns its result, or raises ``StoreUnavailable`` (refused
connection, timeout, any Redis error), and the caller then falls back to its in-process
behaviour. So Redis down or slow costs sharing, never an answer.

A failure is counted per operation (``fallbacks``, exposed as
``fleetql_cluster_fallbacks_total{operation}``) and marks the store degraded with a
one-line reason (``degraded_reason``, which ``/readyz`` reports). While degraded every
``attempt`` fails at once, without waiting for a timeout per request; a background ping,
with a doubling pause between tries, restores the store when Redis answers again.

Keys are always under ``key_prefix`` (``key``); a key never holds a credential or a token,
only its SHA-256 digest (``providers.cache.request_key`` already is one). Lua scripts are
registered with ``register_script`` and called inside ``attempt``.

Example:
    store = SharedStore(ClusterSettings(url="redis://127.0.0.1:6379/0"))
    await store.start()
    try:
        generation = await store.attempt("generation", lambda redis: redis.get(key))
    except StoreUnavailable:
        generation = local_generation
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from redis import asyncio as aioredis
from redis.asyncio.client import PubSub
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.commands.core import AsyncScript
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

__all__ = [
    "POOL_SIZE",
    "ClusterSettings",
    "SharedStore",
    "StoreUnavailable",
    "parses_as_redis_url",
]

log = logging.getLogger("fleetql.cluster")
T = TypeVar("T")

#: Connections to Redis per process. More commands at once wait for one (within ``timeout``)
#: rather than fail: a request that fans out makes dozens of cached reads at once, and with
#: redis-py's default pool (which refuses the 101st) sixteen such requests degraded the store
#: though Redis was up (``bench.replicas``).
POOL_SIZE = 64
#: Pauses between reconnect pings while degraded: the first, then doubled up to the cap.
RECONNECT_FIRST = 0.05
RECONNECT_MOST = 2.0


@dataclass(frozen=True)
class ClusterSettings:
    """``[cluster]``, validated: where Redis is and how long a command may take."""

    url: str = field(repr=False)  # may hold a password
    key_prefix: str = "fleetql:"
    #: Seconds one operation (a command, a pipeline, a script) may take, connecting included.
    timeout: float = 0.25
    #: Seconds the background reconnect ping may spend opening a connection.
    connect_timeout: float = 0.5


def parses_as_redis_url(url: str) -> bool:
    """Whether redis-py accepts ``url`` (host, port, database, options); nothing connects."""
    try:
        aioredis.ConnectionPool.from_url(url)
    except (ValueError, TypeError):
        return False
    return True


class StoreUnavailable(Exception):
    """Redis did not serve the operation; the caller falls back to its in-process state."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class SharedStore:
    """One process's pooled Redis client, its health and its fallback counts."""

    def __init__(
        self,
        settings: ClusterSettings,
        *,
        reconnect_first: float = RECONNECT_FIRST,
        reconnect_most: float = RECONNECT_MOST,
    ) -> None:
        self.settings = settings
        self.key_prefix = settings.key_prefix
        self.timeout = settings.timeout
        #: Operation name -> failures that made a caller fall back.
        self.fallbacks: Counter[str] = Counter()
        #: How many times the store has become degraded (state read meanwhile is tagged
        #: with it, so that one outage's state never passes for another's).
        self.outages = 0
        self._reconnect_first = reconnect_first
        self._reconnect_most = reconnect_most
        self._degraded_reason: str | None = None
        self._reconnecting: asyncio.Task[None] | None = None
        self._closed = False
        # No retries inside redis-py: a failed command falls back at once, and the reconnect
        # ping is the only retry. The pool connects lazily, on the loop that first uses it.
        pool = aioredis.BlockingConnectionPool.from_url(
            settings.url,
            max_connections=POOL_SIZE,
            timeout=settings.timeout,
            socket_timeout=settings.timeout,
            socket_connect_timeout=settings.connect_timeout,
            retry=Retry(NoBackoff(), 0),
            retry_on_timeout=False,
        )
        self._client: aioredis.Redis = aioredis.Redis.from_pool(pool)  # closed with it

    @property
    def degraded_reason(self) -> str | None:
        """Why the store is not serving (one line, never the URL); ``None`` when healthy."""
        return self._degraded_reason

    def readiness(self) -> dict[str, Any]:
        """``/readyz``'s ``cluster`` entry: ``up``, or ``degraded`` with the reason."""
        if self._degraded_reason is None:
            return {"status": "up"}
        return {"status": "degraded", "reason": self._degraded_reason}

    def key(self, *parts: str) -> str:
        """A key under ``key_prefix``: the parts joined by ``:``. Never pass a credential."""
        return self.key_prefix + ":".join(parts)

    def register_script(self, source: str) -> AsyncScript:
        """A Lua script bound to this store's client; call it inside ``attempt``."""
        return self._client.register_script(source)

    def pubsub(self) -> PubSub:
        """A pub/sub connection from the pool; subscribe inside ``attempt``."""
        return self._client.pubsub()

    async def start(self) -> None:
        """Ping once; an unreachable Redis degrades the store (start-up goes on without it)."""
        try:
            await self.attempt("ping", lambda redis: redis.ping())
        except StoreUnavailable as unavailable:
            log.warning("cluster store unavailable at start-up: %s", unavailable.reason)

    async def close(self) -> None:
        """Stop reconnecting and close the pool's connections."""
        self._closed = True
        if self._reconnecting is not None:
            self._reconnecting.cancel()
            try:
                await self._reconnecting
            except asyncio.CancelledError:
                pass
            self._reconnecting = None
        await self._client.aclose()

    async def ping(self) -> float:
        """Seconds one PING took; ``StoreUnavailable`` when Redis did not answer in time."""
        started = time.perf_counter()
        await self.attempt("ping", lambda redis: redis.ping())
        return time.perf_counter() - started

    async def attempt(self, operation: str, run: Callable[[aioredis.Redis], Awaitable[T]]) -> T:
        """``run(client)``'s result within ``timeout``, or ``StoreUnavailable``.

        ``operation`` names what is attempted, for the fallback metric and the degraded
        reason (a fixed word such as ``cache_read``, never data). While the store is
        degraded this raises at once.
        """
        if self._degraded_reason is not None:
            self.fallbacks[operation] += 1
            raise StoreUnavailable(self._degraded_reason)
        try:
            async with asyncio.timeout(self.timeout):
                return await run(self._client)
        except (RedisError, OSError, TimeoutError) as error:
            raise self._failed(operation, error) from None

    def _failed(self, operation: str, error: BaseException) -> StoreUnavailable:
        self.fallbacks[operation] += 1
        reason = f"redis {operation} failed: {self._describe(error)}"
        if self._degraded_reason is None:
            self.outages += 1
            self._degraded_reason = reason
            log.warning("cluster store degraded: %s", reason)
            if not self._closed and self._reconnecting is None:
                self._reconnecting = asyncio.get_running_loop().create_task(self._reconnect())
        return StoreUnavailable(reason)

    def _describe(self, error: BaseException) -> str:
        """The failure in a few words: redis-py's messages may quote the URL; these never do."""
        if isinstance(error, TimeoutError | RedisTimeoutError):
            return f"no answer within {self.timeout:g} s"
        if isinstance(error, RedisConnectionError | OSError):
            return f"could not connect ({type(error).__name__})"
        return type(error).__name__

    async def _reconnect(self) -> None:
        """Ping until Redis answers, pausing longer each time; then serve again."""
        pause = self._reconnect_first
        try:
            while True:
                await asyncio.sleep(pause)
                try:
                    # The one operation that may take a whole connection set-up: no request
                    # waits on it.
                    async with asyncio.timeout(self.settings.connect_timeout + self.timeout):
                        await self._client.ping()
                except (RedisError, OSError, TimeoutError):
                    pause = min(pause * 2, self._reconnect_most)
                    continue
                log.warning("cluster store restored after: %s", self._degraded_reason)
                self._degraded_reason = None
                return
        finally:
            self._reconnecting = None
