"""Across-request caching of upstream reads, with single-flight, per provider instance.

Each ``UpstreamClient`` owns one ``ReadCache``, so entries are partitioned by provider
instance; the key also holds a digest of the request's credential headers, so a new session
or token never reads another's entries. Concurrent identical reads share one in-flight call.
A successful write evicts the whole instance's cache: every entry it might have changed
(the server, the lists holding it) goes, at the price of some entries that did not change.
Upstream ``Cache-Control: no-store`` is never stored, and ``max-age`` shortens the TTL.

A read names its resource kind (a key of ``DEFAULT_TTLS``) or ``None``: never cached, for
health pings, logins and reads that must see the upstream as it is now.

**Shared by several replicas** (``[cluster]``, ``SharedReads``): the entries also live in
Redis, under ``<key_prefix>read:<provider id>:<request_key>`` (the credential only as the
digest ``request_key`` holds), for their TTL, in a compact binary form (``pack``: status,
``content-type``, body). Invalidation is a generation counter per provider instance in Redis
(``<key_prefix>gen:<provider id>``), incremented by every successful write on any replica
(besides the local clear). Every cached read makes one Redis round trip, a Lua script that
reads the generation and, unless the in-process entry is already of that generation, the
shared entry; an entry (in Redis or in process) is served only if it was stored at the
current generation, and a read stores its answer in Redis only if the generation is still
the one it began at (atomically, in a second script). So a write on any replica makes every
replica's next read fresh, and a read in flight across a write is never stored, exactly as
in process. The small in-process layer in front keeps decoded bodies (no decoding per hit);
it is exact because its entries carry the generation they were read at.

A generation starts (when its key is missing: never written, or Redis restarted empty) at
Redis' clock in microseconds, so it never repeats a value an older entry carries. When Redis
is unreachable, reads use the in-process cache alone (entries read meanwhile carry no
generation, and are not served once Redis is back); a write made meanwhile is pushed to
Redis (the increment) by the next read that reaches it. Until then, another replica can
serve entries older than that write: the one window, bounded by the entries' TTL, and
reported by ``/readyz``'s ``degraded``.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import re
import struct
import time
from collections.abc import Awaitable, Callable, Hashable, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field

import httpx
from cachetools import TLRUCache

from providers.cluster import SharedStore, StoreUnavailable

__all__ = [
    "DEFAULT_TTLS",
    "FRESH_UNTIL",
    "ReadCache",
    "ReadRecord",
    "SharedReads",
    "current_generations",
    "pack",
    "read_record",
    "request_key",
    "unpack",
]

#: Seconds an upstream read stays fresh, per resource kind (configurable under [cache]).
DEFAULT_TTLS: dict[str, float] = {
    "servers": 5.0,  # power and status move: keep short
    "billing": 60.0,  # invoices, subscriptions, account
    "support": 30.0,
    "traffic": 60.0,
    "catalog": 600.0,  # plans, sizes, regions, locations, stock
}

#: A stored response's extension: until when (``time.monotonic()``) it is fresh.
FRESH_UNTIL = "fleetql.fresh_until"

_CREDENTIAL_HEADERS = ("authorization", "x-auth-token", "cookie", "x-xsrf-token")
_MAX_AGE = re.compile(r"max-age=(\d+)")


def request_key(request: httpx.Request) -> str:
    """A digest of what makes two reads the same: method, URL, body and credentials."""
    digest = hashlib.sha256()
    digest.update(request.method.encode())
    digest.update(str(request.url).encode())
    digest.update(request.content)
    for header in _CREDENTIAL_HEADERS:
        digest.update(b"\0" + request.headers.get(header, "").encode())
    return digest.hexdigest()


def _lifetime(response: httpx.Response, ttl: float) -> float:
    """The TTL to store ``response`` for, honouring the upstream's Cache-Control."""
    control = response.headers.get("cache-control", "").lower()
    if "no-store" in control or "private" in control and "max-age" not in control:
        return 0.0
    max_age = _MAX_AGE.search(control)
    return min(ttl, float(max_age.group(1))) if max_age else ttl


@dataclass
class ReadRecord:
    """What one GraphQL request read upstream, for the whole-response cache.

    A response built from these reads stays valid until the freshest-ending read expires, and
    only while no provider it read from has had a write since the read began (each provider's
    ``ReadCache.generation`` then). One read that is never cached (cache off, ``no-store``,
    ``resource=None``, a write) makes the response one that must not be stored either.
    """

    fresh_until: float = math.inf
    #: Provider id -> its read cache's generation when the request's first read of it began.
    generations: dict[str, Hashable] = field(default_factory=dict)
    storable: bool = True

    def read(self, provider: str, generation: Hashable, fresh_until: float | None) -> None:
        """Note one read of ``provider`` begun at ``generation``, fresh until ``fresh_until``
        (``None``: not stored by the read cache)."""
        if fresh_until is None:
            self.storable = False
            return
        self.fresh_until = min(self.fresh_until, fresh_until)
        self.generations.setdefault(provider, generation)
        if self.generations[provider] != generation:
            self.storable = False  # a write landed between two of the request's reads


#: The current GraphQL request's record of upstream reads; ``None`` outside a request.
read_record: ContextVar[ReadRecord | None] = ContextVar("read_record", default=None)


#: A read cache's generation: its local write count, paired with the shared one (``None``:
#: Redis unreachable) when the cache is shared.
Generation = Hashable

#: The headers a cached entry keeps: the adapters read only the status and the body.
_KEPT_HEADERS = ("content-type",)
_HEAD = struct.Struct(">HB")
_HEADER = struct.Struct(">BH")


def pack(response: httpx.Response) -> bytes:
    """A response's status, kept headers and body in a compact binary form (``unpack``)."""
    headers = [
        (name.encode(), response.headers[name].encode())
        for name in _KEPT_HEADERS
        if name in response.headers
    ]
    parts = [_HEAD.pack(response.status_code, len(headers))]
    for name, value in headers:
        parts += [_HEADER.pack(len(name), len(value)), name, value]
    parts.append(response.content)
    return b"".join(parts)


def unpack(blob: bytes) -> httpx.Response:
    """The response ``pack`` wrote."""
    status, count = _HEAD.unpack_from(blob)
    offset, headers = _HEAD.size, []
    for _ in range(count):
        name_length, value_length = _HEADER.unpack_from(blob, offset)
        offset += _HEADER.size
        name = blob[offset : offset + name_length]
        offset += name_length
        headers.append((name, blob[offset : offset + value_length]))
        offset += value_length
    return httpx.Response(status, headers=headers, content=blob[offset:])


# A generation key missing (never written, or Redis restarted empty) starts at Redis' clock
# in microseconds: later than any value an older entry can carry. Lua's numbers would print
# 16 digits in exponent form, hence the string concatenation.
_START_GENERATION = """
local function generation(key)
  local value = redis.call('GET', key)
  if value then return value end
  local now = redis.call('TIME')
  redis.call('SET', key, now[1] .. string.format('%06d', tonumber(now[2])), 'NX')
  return redis.call('GET', key)
end
"""
#: KEYS: generation, entry; ARGV: the generation of the in-process entry ("" if none).
#: -> {generation} or {generation, entry, its milliseconds left} when the entry is current.
_LOOKUP = (
    _START_GENERATION
    + """
local current = generation(KEYS[1])
if ARGV[1] == current then return {current} end
local entry = redis.call('GET', KEYS[2])
if not entry or string.sub(entry, 1, #current + 1) ~= current .. ':' then
  return {current}
end
return {current, entry, redis.call('PTTL', KEYS[2])}
"""
)
#: KEYS: generation, entry; ARGV: the generation the read began at, the entry, its TTL (ms).
_STORE = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
return 1
"""
#: KEYS: generation. -> the new generation.
_BUMP = (
    _START_GENERATION
    + """
generation(KEYS[1])
return redis.call('INCR', KEYS[1])
"""
)


class SharedReads:
    """One provider instance's read cache entries and generation, in the shared store."""

    def __init__(self, store: SharedStore, provider_id: str) -> None:
        self.store = store
        self.generation_key = store.key("gen", provider_id)
        self._entry_prefix = store.key("read", provider_id, "")
        self._lookup = store.register_script(_LOOKUP)
        self._store = store.register_script(_STORE)
        self._bump = store.register_script(_BUMP)
        #: A write succeeded while Redis was unreachable: the increment is still owed.
        self.bump_owed = False

    async def lookup(
        self, key: str, held: bytes | None
    ) -> tuple[bytes, tuple[httpx.Response, float] | None]:
        """The current generation, and the shared entry with its seconds left if it is of
        that generation and ``held`` (the in-process entry's generation) is not."""
        if self.bump_owed:
            await self.bump()

        async def run(redis) -> list:
            keys = [self.generation_key, self._entry_prefix + key]
            return await self._lookup(keys=keys, args=[held or b""], client=redis)

        answer = await self.store.attempt("cache_read", run)
        generation = answer[0]
        if len(answer) == 1:
            return generation, None
        blob, milliseconds = answer[1], answer[2]
        seconds = milliseconds / 1000 if milliseconds > 0 else 0.0
        return generation, (unpack(blob[len(generation) + 1 :]), seconds)

    async def keep(
        self, key: str, generation: bytes, response: httpx.Response, lifetime: float
    ) -> None:
        """Store ``response`` for ``lifetime`` seconds if ``generation`` is still current."""
        entry = generation + b":" + pack(response)
        milliseconds = max(1, int(lifetime * 1000))

        async def run(redis) -> int:
            keys = [self.generation_key, self._entry_prefix + key]
            return await self._store(
                keys=keys, args=[generation, entry, milliseconds], client=redis
            )

        await self.store.attempt("cache_store", run)

    async def bump(self) -> None:
        """Increment the generation: every replica's entries of this instance are stale."""

        async def run(redis) -> int:
            return await self._bump(keys=[self.generation_key], client=redis)

        try:
            await self.store.attempt("cache_invalidate", run)
        except StoreUnavailable:
            self.bump_owed = True
            raise
        self.bump_owed = False


class ReadCache:
    """Entries with a lifetime per resource kind, plus the reads in flight.

    ``share`` adds the shared layer (``SharedReads``); without it this is the whole cache.
    """

    def __init__(self, ttls: Mapping[str, float], maxsize: int = 4096) -> None:
        self.ttls = dict(ttls)
        # Each value is (response, lifetime, shared generation): cachetools expires it
        # ``lifetime`` after insertion.
        self._entries: TLRUCache = TLRUCache(
            maxsize=maxsize, ttu=lambda _key, value, now: now + value[1], timer=time.monotonic
        )
        self._in_flight: dict[Hashable, asyncio.Future[httpx.Response]] = {}
        self._generation = 0
        self.shared: SharedReads | None = None
        self._shareable: Callable[[httpx.Response], bool] = lambda _response: True

    def share(
        self, shared: SharedReads, shareable: Callable[[httpx.Response], bool] | None = None
    ) -> None:
        """Keep entries in the shared store as well; ``shareable`` says whether an answer may
        go there (a body that will not decode must not reach every replica)."""
        self.shared = shared
        if shareable is not None:
            self._shareable = shareable

    def ttl(self, resource: str | None) -> float:
        """The lifetime of ``resource`` entries; 0 for ``None`` (never cached) or a kind off."""
        if resource is None:
            return 0.0
        if resource not in DEFAULT_TTLS:
            # A misspelt kind must not quietly mean "never cached".
            raise ValueError(f"unknown cache resource kind {resource!r}")
        return self.ttls.get(resource, 0.0)

    async def read(
        self, key: str, resource: str, fetch: Callable[[], Awaitable[httpx.Response]]
    ) -> tuple[httpx.Response, Generation]:
        """A fresh cached response, the shared in-flight one, or a new upstream read; with
        the generation the read began at (for ``ReadRecord``)."""
        if self.shared is not None:
            return await self._read_shared(key, resource, fetch)
        generation = self._generation
        cached = self._entries.get(key)
        if cached is not None:
            return cached[0], generation
        flight = self._in_flight.get(key)
        if flight is None:
            flight = self._in_flight[key] = asyncio.ensure_future(fetch())
            flight.add_done_callback(
                lambda done: self._landed(key, key, resource, generation, None, done)
            )
        return await asyncio.shield(flight), generation

    async def _read_shared(
        self, key: str, resource: str, fetch: Callable[[], Awaitable[httpx.Response]]
    ) -> tuple[httpx.Response, Generation]:
        assert self.shared is not None
        local_generation = self._generation
        cached = self._entries.get(key)
        held = cached[2] if cached is not None else None
        try:
            shared_generation, found = await self.shared.lookup(key, held)
        except StoreUnavailable:
            shared_generation, found = None, None
        generation = (shared_generation, local_generation)
        if cached is not None and held == shared_generation:
            return cached[0], generation
        if found is not None:
            response, lifetime = found
            if lifetime > 0:
                self._keep(key, response, lifetime, shared_generation)
            return response, generation
        # Reads that began at different generations never share a flight: one begun before a
        # write on another replica may carry what the write changed.
        flight_key = (key, shared_generation)
        flight = self._in_flight.get(flight_key)
        if flight is None:
            flight = self._in_flight[flight_key] = asyncio.ensure_future(
                self._fetch_and_share(key, resource, fetch, shared_generation, local_generation)
            )
            flight.add_done_callback(
                lambda done: self._landed(
                    flight_key, key, resource, local_generation, shared_generation, done
                )
            )
        return await asyncio.shield(flight), generation

    async def _fetch_and_share(
        self,
        key: str,
        resource: str,
        fetch: Callable[[], Awaitable[httpx.Response]],
        shared_generation: bytes | None,
        local_generation: int,
    ) -> httpx.Response:
        """The upstream answer, stored in Redis first (if still current) so that the other
        replicas' next lookups find it."""
        response = await fetch()
        lifetime = _lifetime(response, self.ttl(resource)) if response.status_code == 200 else 0
        if (
            self.shared is not None
            and shared_generation is not None
            and lifetime > 0
            and local_generation == self._generation
            and self._shareable(response)
        ):
            try:
                await self.shared.keep(key, shared_generation, response, lifetime)
            except StoreUnavailable:
                pass  # kept in process only; the next replica reads upstream itself
        return response

    @property
    def generation(self) -> int:
        """How many times a write has cleared this cache (on this replica)."""
        return self._generation

    def clear(self) -> None:
        """Forget every entry; reads in flight now may predate the write and are not stored.

        With the shared layer, ``invalidate`` also tells the other replicas.
        """
        self._entries.clear()
        self._in_flight.clear()
        self._generation += 1

    async def invalidate(self) -> None:
        """After a successful write: ``clear``, and increment the shared generation (owed
        until Redis answers, when it is unreachable)."""
        self.clear()
        if self.shared is not None:
            try:
                await self.shared.bump()
            except StoreUnavailable:
                pass  # owed: the next lookup that reaches Redis pays it first

    async def current_generation(self) -> Generation:
        """The generation a read beginning now would record (a Redis round trip if shared)."""
        return (await current_generations([self]))[0]

    def _keep(
        self, key: str, response: httpx.Response, lifetime: float, shared: bytes | None
    ) -> None:
        response.extensions = {**response.extensions, FRESH_UNTIL: time.monotonic() + lifetime}
        self._entries[key] = (response, lifetime, shared)

    def _landed(
        self,
        flight_key: Hashable,
        key: str,
        resource: str,
        generation: int,
        shared: bytes | None,
        done: asyncio.Future[httpx.Response],
    ) -> None:
        if self._in_flight.get(flight_key) is done:
            del self._in_flight[flight_key]
        if generation != self._generation or done.cancelled() or done.exception() is not None:
            return
        response = done.result()
        lifetime = _lifetime(response, self.ttl(resource)) if response.status_code == 200 else 0
        if lifetime > 0:
            self._keep(key, response, lifetime, shared)


async def current_generations(caches: Sequence[ReadCache]) -> list[Generation]:
    """Each cache's current generation: for shared caches, one MGET of their counters (a
    counter Redis cannot give is ``None``, never equal to one a read recorded from Redis)."""
    shared = [cache.shared for cache in caches if cache.shared is not None]
    if not shared:
        return [cache.generation for cache in caches]
    store = shared[0].store
    keys = [reads.generation_key for reads in shared]
    try:
        values = iter(await store.attempt("generations", lambda redis: redis.mget(keys)))
    except StoreUnavailable:
        values = iter([None] * len(keys))
    return [
        (next(values), cache.generation) if cache.shared is not None else cache.generation
        for cache in caches
    ]
