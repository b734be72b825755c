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
seen by every replica's next lookup, with no window. The bodies are kept in Redis too
(``SharedResponses``), with the counters they were built at and their TTL: a replica that
misses in process looks there (one round trip), checks the counters as for its own entries,
and serves and keeps the body, so a query answered by one replica is answered from the cache
by all. An entry built while Redis was unreachable (its counters are the outage's) is not
shared; Redis failing, a lookup there is a miss.

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
from providers.cluster import SharedStore, StoreUnavailable

__all__ = [
    "MAX_RESPONSES",
    "MAX_RESPONSE_BYTES",
    "MAX_SHARED_BYTES",
    "CachedResponse",
    "ResponseCache",
    "SharedResponses",
]

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

#: The largest body kept in Redis (bigger ones stay in their replica's process).
MAX_SHARED_BYTES = 1024 * 1024


def _shared_counter(generation: Hashable) -> bytes | None:
    """The shared write counter of a generation (``(counter, local)``), if Redis gave it."""
    if isinstance(generation, tuple) and isinstance(generation[0], bytes):
        counter = generation[0]
        return counter if counter.isdigit() else None  # not an outage's, nor a missing one
    return None


class SharedResponses:
    """Whole responses kept in Redis (``<prefix>resp:<key>``), for every replica.

    The value is one JSON line (the operation label and each provider's shared counter) and
    the body; its expiry is the entry's TTL.
    """

    def __init__(self, store: SharedStore, max_bytes: int = MAX_SHARED_BYTES) -> None:
        self.store = store
        self.max_bytes = max_bytes

    def _key(self, key: bytes) -> str:
        return self.store.key("resp", key.hex())

    async def get(self, key: bytes) -> tuple[bytes, str, float, list[tuple[str, bytes]]] | None:
        """(body, operation, fresh until on this process's clock, counters), or ``None``."""
        name = self._key(key)

        async def read(redis: Any) -> list[Any]:
            return await redis.pipeline(transaction=False).get(name).pttl(name).execute()

        try:
            value, left_ms = await self.store.attempt("response_read", read)
        except StoreUnavailable:
            return None
        if value is None or left_ms is None or left_ms <= 0:
            return None
        header, _, body = value.partition(b"\n")
        try:
            meta = orjson.loads(header)
            counters = [(str(provider), str(counter).encode()) for provider, counter in meta["g"]]
            operation = str(meta["op"])
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            return None
        return body, operation, time.monotonic() + left_ms / 1000, counters

    async def put(self, key: bytes, entry: CachedResponse) -> None:
        """Keep ``entry`` in Redis, if every counter it was built at came from Redis."""
        counters = []
        for provider, generation in entry.generations:
            counter = _shared_counter(generation)
            if counter is None:
                return
            counters.append([provider, counter.decode()])
        left_ms = int((entry.fresh_until - time.monotonic()) * 1000)
        if left_ms <= 0 or len(entry.body) > self.max_bytes:
            return
        value = orjson.dumps({"op": entry.operation, "g": counters}) + b"\n" + entry.body
        name = self._key(key)
        try:
            await self.store.attempt(
                "response_write", lambda redis: redis.set(name, value, px=left_ms)
            )
        except StoreUnavailable:
            pass  # counted by the store; the entry stays in this process


class ResponseCache:
    """The gateway's whole-response cache; ``generations_of`` reads providers' generations
    (``providers.cache.current_generations``: with ``[cluster]``, one MGET of the shared
    counters per hit, so a write on any replica is seen by the next lookup)."""

    def __init__(
        self,
        generations_of: Generations,
        maxsize: int = MAX_RESPONSES,
        max_bytes: int = MAX_RESPONSE_BYTES,
        shared: SharedResponses | None = None,
    ) -> None:
        self._generations_of = generations_of
        self._shared = shared
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
            return await self._from_shared(key) if self._shared is not None else None
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
        entry = CachedResponse(body, operation, record.fresh_until, generations)
        self._keep(key, entry)
        if self._shared is not None:
            await self._shared.put(key, entry)
        return True

    async def _from_shared(self, key: bytes) -> CachedResponse | None:
        """Another replica's entry from Redis, if its counters still hold; kept here too."""
        found = await self._shared.get(key)
        if found is None:
            return None
        body, operation, fresh_until, counters = found
        providers = [provider for provider, _ in counters]
        try:
            now = await self._generations_of(providers)
        except KeyError:
            return None  # a provider this replica is not configured with
        if any(
            _shared_counter(current) != seen
            for current, (_, seen) in zip(now, counters, strict=True)
        ):
            return None
        entry = CachedResponse(
            body, operation, fresh_until, tuple(zip(providers, now, strict=True))
        )
        # Not over an entry this replica's own request kept meanwhile, nor a body too big.
        if key not in self._entries and len(body) <= self._max_bytes // 8:
            self._keep(key, entry)
        return entry

    def _keep(self, key: bytes, entry: CachedResponse) -> None:
        self._drop(key)
        self._entries[key] = entry
        self.size += len(entry.body)
        while len(self._entries) > self._maxsize or self.size > self._max_bytes:
            self._drop(next(iter(self._entries)))

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
