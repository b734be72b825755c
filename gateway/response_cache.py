"""Whole responses kept across requests: a hit skips parsing, execution and serialisation.

An entry is the serialised body of a query whose every upstream read came from (or went into)
the read cache (``providers/cache.py`` ``ReadRecord``), and it is served while two things
hold: none of those reads has expired (the entry's TTL is the shortest they had left), and
no provider it read from has had a successful write since the read began (each provider's
read-cache generation is compared on every hit). So a write through this gateway makes the
next read of any response built on that provider fresh, exactly as the read cache does, and a
write that lands while a request is running keeps that request's response out of the cache.
With ``[cluster]`` the generations compared are the shared write counters in Redis, read by
one MGET per hit (``providers.cache.current_generations``): a write through any replica is
seen by every replica's next lookup, with no window; the bodies stay in process.

The key is the document text, the ``operationName``, the variables and the client token's
provider scope: two tokens that see different providers never share an entry, and tokens
that see the same ones do (the data is the same). Only whole successes are kept: a response
with any error, a mutation, or one that read nothing upstream (introspection) is not.

Identical queries that arrive while the first is still running wait for its response instead
of running again (``join``/``landed``): the upstream reads were shared already (the read
cache's single-flight), and now the execution, its memory and its serialisation are too. A
follower gets the leader's body only if it has no error; otherwise, or past its own deadline,
it runs the query itself.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from providers.cache import ReadRecord

__all__ = ["MAX_RESPONSE_BYTES", "MAX_RESPONSES", "CachedResponse", "ResponseCache"]

#: Entries kept, least recently used dropped first.
MAX_RESPONSES = 1024
#: Bytes of bodies kept in all, least recently used dropped first; a body over an eighth of
#: it is not kept at all (it would push out many smaller ones).
MAX_RESPONSE_BYTES = 32 * 1024 * 1024


@dataclass(frozen=True)
class CachedResponse:
    """A serialised body, the operation label it was served under, and when it stops."""

    body: bytes
    operation: str
    fresh_until: float
    generations: tuple[tuple[str, Hashable], ...]


#: The current read-cache generations of some providers, by id, in order.
Generations = Callable[[Sequence[str]], Awaitable[Sequence[Hashable]]]


class ResponseCache:
    """The gateway's whole-response cache; ``generations_of`` reads providers' generations
    (``providers.cache.current_generations``: with ``[cluster]``, one MGET of the shared
    counters per hit, so a write on any replica is seen by the next lookup)."""

    def __init__(
        self,
        generations_of: Generations,
        maxsize: int = MAX_RESPONSES,
        max_bytes: int = MAX_RESPONSE_BYTES,
    ) -> None:
        self._generations_of = generations_of
        self._maxsize = maxsize
        self._max_bytes = max_bytes
        self._entries: OrderedDict[bytes, CachedResponse] = OrderedDict()
        #: Bytes of the bodies kept.
        self.size = 0
        #: Key -> the response its running query will give (``None``: none to share).
        self._in_flight: dict[bytes, asyncio.Future[bytes | None]] = {}

    @staticmethod
    def key(
        query: str,
        operation_name: str | None,
        variables: dict[str, Any] | None,
        providers: frozenset[str] | None,
        *,
        path: str = "/graphql",
    ) -> bytes | None:
        """The entry's key; ``providers`` is the request's scope (``None``: every provider),
        ``path`` the endpoint, whose schema shapes the response (``/graphql``, ``/v0/graphql``).

        ``None`` for variables nested deeper than orjson writes (255 levels; the request
        decoder accepts 1,024): such a request is simply not cached.
        """
        scope = None if providers is None else sorted(providers)
        parts = [query, operation_name, variables or {}, scope, path]
        try:
            text = orjson.dumps(parts, option=orjson.OPT_SORT_KEYS)
        except TypeError:
            return None
        return hashlib.sha256(text).digest()

    async def get(self, key: bytes) -> CachedResponse | None:
        """The entry, if it is still fresh and nothing it read has been written since."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        fresh = time.monotonic() < entry.fresh_until and await self._unwritten(entry.generations)
        # The await let other requests run: the entry may have been replaced or evicted since.
        current = self._entries.get(key)
        if not fresh:
            if current is entry:
                self._drop(key)
            return None
        if current is entry:
            self._entries.move_to_end(key)
        return entry

    async def put(self, key: bytes, body: bytes, operation: str, record: ReadRecord) -> bool:
        """Keep ``body`` if ``record`` allows it (see the module's docstring); whether kept."""
        if not record.storable or not record.generations or len(body) > self._max_bytes // 8:
            return False
        generations = tuple(record.generations.items())
        if not await self._unwritten(generations):
            return False  # a write landed while the request ran
        if record.fresh_until <= time.monotonic():
            return False
        self._drop(key)
        self._entries[key] = CachedResponse(body, operation, record.fresh_until, generations)
        self.size += len(body)
        while len(self._entries) > self._maxsize or self.size > self._max_bytes:
            self._drop(next(iter(self._entries)))
        return True

    async def _unwritten(self, generations: tuple[tuple[str, Hashable], ...]) -> bool:
        """Whether every provider is still at the generation its reads began at."""
        now = await self._generations_of([provider for provider, _ in generations])
        return all(current == seen for current, (_, seen) in zip(now, generations, strict=True))

    def join(self, key: bytes) -> asyncio.Future[bytes | None] | None:
        """The future body of an identical query already running, or ``None``: this request
        runs it, and must call ``landed`` however it ends."""
        flight = self._in_flight.get(key)
        if flight is not None:
            return flight
        self._in_flight[key] = asyncio.get_running_loop().create_future()
        return None

    def landed(self, key: bytes, body: bytes | None) -> None:
        """End the running query ``key``: its followers get ``body`` (``None``: they run it)."""
        flight = self._in_flight.pop(key, None)
        if flight is not None and not flight.done():
            flight.set_result(body)

    def _drop(self, key: bytes) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            self.size -= len(entry.body)
