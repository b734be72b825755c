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

Identical reads in flight on several replicas share one upstream call: a miss takes a flight
lock (``<key_prefix>flight:<provider id>:<request_key>``, ``SET NX PX`` in the lookup script,
valued with the generation, so a lock of an older one is free), and the other replicas look
for the entry again with a growing pause for at most ``FLIGHT_WAIT``, then call upstream
themselves rather than fail. A holder with nothing to share marks its lock given up, which
sends its waiters upstream at once.

A generation starts (when its key is missing: never written, or Redis restarted empty) at
Redis' clock in microseconds, so it never repeats a value an older entry carries. When Redis
is unreachable, reads use the in-process cache alone (entries read meanwhile carry the
outage's number rather than a generation, so they are served neither once Redis is back nor
in a later outage); a write made meanwhile is pushed to
Redis (the increment) by the next read that reaches it. Until then, another replica can
serve entries older than that write: the one window, bounded by the entries' TTL, and
reported by ``/readyz``'s ``degraded``.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import re
import secrets
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


#: A read cache's generation: its local write count, paired with the shared one when the
#: cache is shared (``SharedReads.unreachable()`` while Redis is).
Generation = Hashable


def _reachable(generation: bytes) -> bool:
    """Whether a shared generation was read from Redis (not ``SharedReads.unreachable``)."""
    return not generation.startswith(b"!")


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
#: KEYS: generation, entry, flight lock; ARGV: the generation of the in-process entry ("" if
#: none), this flight's token ("": only look), the lock's lifetime (ms). A lock is held by
#: "<generation>:<token>"; one of an older generation is free, "<generation>:!" says its
#: flight gave up. -> {generation} when the in-process entry is current, {generation, entry,
#: its milliseconds left} when the shared one is, else {generation, LOOKED | HOLDING |
#: WAIT | ABANDONED}.
_LOOKUP = (
    _START_GENERATION
    + """
local current = generation(KEYS[1])
if ARGV[1] == current then return {current} end
local mine = current .. ':'
local entry = redis.call('GET', KEYS[2])
if entry and string.sub(entry, 1, #mine) == mine then
  return {current, entry, redis.call('PTTL', KEYS[2])}
end
if ARGV[2] == '' then return {current, 0} end
local holder = redis.call('GET', KEYS[3])
if holder and string.sub(holder, 1, #mine) == mine then
  if holder == mine .. ARGV[2] then return {current, 1} end
  if holder == mine .. '!' then return {current, 3} end
  return {current, 2}
end
redis.call('SET', KEYS[3], mine .. ARGV[2], 'PX', ARGV[3])
return {current, 1}
"""
)
LOOKED, HOLDING, WAIT, ABANDONED = 0, 1, 2, 3
#: KEYS: generation, entry, flight lock; ARGV: the generation the read began at, the entry,
#: its TTL (ms), the lock's value if this flight holds it. Releases the lock, then stores.
_STORE = """
if ARGV[4] ~= '' and redis.call('GET', KEYS[3]) == ARGV[4] then redis.call('DEL', KEYS[3]) end
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
return 1
"""
#: KEYS: flight lock; ARGV: its value, the generation, how long (ms) to say it gave up.
_ABANDON = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2] .. ':!', 'PX', ARGV[3])
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


#: Seconds a replica waits for an identical read in flight on another replica before making
#: its own call; the flight lock lives as long (a replica that died holding it frees it so).
FLIGHT_WAIT = 2.0
#: Seconds between looks for that read's entry: the first pause, doubled up to the cap.
POLL_FIRST = 0.005
POLL_MOST = 0.05
#: Seconds a flight that got no shareable answer marks its lock abandoned: readers arriving
#: meanwhile call upstream at once rather than queue behind one another.
ABANDONED_FOR = 1.0


@dataclass
class Flight:
    """One replica's turn at a shared read: its token, and whether it holds the lock."""

    token: str
    generation: bytes
    holding: bool = False

    @property
    def lock_value(self) -> bytes:
        """The flight lock's value while this flight holds it."""
        return self.generation + b":" + self.token.encode()


class SharedReads:
    """One provider instance's read cache entries, generation and flight locks in Redis."""

    def __init__(
        self, store: SharedStore, provider_id: str, *, flight_wait: float = FLIGHT_WAIT
    ) -> None:
        self.store = store
        self.flight_wait = flight_wait
        self.generation_key = store.key("gen", provider_id)
        self._entry_prefix = store.key("read", provider_id, "")
        self._flight_prefix = store.key("flight", provider_id, "")
        self._lookup = store.register_script(_LOOKUP)
        self._store = store.register_script(_STORE)
        self._abandon = store.register_script(_ABANDON)
        self._bump = store.register_script(_BUMP)
        #: A write succeeded while Redis was unreachable: the increment is still owed.
        self.bump_owed = False

    def unreachable(self) -> bytes:
        """The generation of what is read while Redis is unreachable: equal only within one
        outage, never to a generation Redis gives (digits) nor to a missing one (``b""``)."""
        return b"!%d" % self.store.outages

    async def lookup(
        self, key: str, held: bytes | None
    ) -> tuple[bytes, tuple[httpx.Response, float] | None]:
        """The current generation, and the shared entry with its seconds left if it is of
        that generation and ``held`` (the in-process entry's generation) is not."""
        generation, found, _ = await self._look(key, held, "")
        return generation, found

    async def claim(
        self, key: str, flight: Flight
    ) -> tuple[bytes, tuple[httpx.Response, float] | None, int]:
        """Like ``lookup``, and without a current entry take the flight lock if it is free:
        the generation, the entry, and ``HOLDING``, ``WAIT`` or ``ABANDONED``."""
        generation, found, state = await self._look(key, None, flight.token)
        flight.holding = state == HOLDING and generation == flight.generation
        return generation, found, state

    async def _look(
        self, key: str, held: bytes | None, token: str
    ) -> tuple[bytes, tuple[httpx.Response, float] | None, int]:
        if self.bump_owed:
            await self.bump()
        keys = [self.generation_key, self._entry_prefix + key, self._flight_prefix + key]
        args = [held or b"", token, max(1, int(self.flight_wait * 1000))]
        answer = await self.store.attempt(
            "cache_read", lambda redis: self._lookup(keys=keys, args=args, client=redis)
        )
        generation = answer[0]
        if len(answer) == 1:
            return generation, None, LOOKED
        if len(answer) == 2:
            return generation, None, int(answer[1])
        blob, milliseconds = answer[1], answer[2]
        seconds = milliseconds / 1000 if milliseconds > 0 else 0.0
        return generation, (unpack(blob[len(generation) + 1 :]), seconds), LOOKED

    async def keep(
        self, key: str, flight: Flight, response: httpx.Response, lifetime: float
    ) -> None:
        """Store ``response`` for ``lifetime`` seconds if the flight's generation is still
        current, releasing its lock."""
        entry = flight.generation + b":" + pack(response)
        keys = [self.generation_key, self._entry_prefix + key, self._flight_prefix + key]
        args = [
            flight.generation,
            entry,
            max(1, int(lifetime * 1000)),
            flight.lock_value if flight.holding else b"",
        ]
        await self.store.attempt(
            "cache_store", lambda redis: self._store(keys=keys, args=args, client=redis)
        )
        flight.holding = False

    async def abandon(self, key: str, flight: Flight) -> None:
        """The flight has nothing to share: tell its waiters to call upstream themselves."""
        if not flight.holding:
            return
        keys = [self._flight_prefix + key]
        args = [flight.lock_value, flight.generation, int(ABANDONED_FOR * 1000)]
        flight.holding = False
        await self.store.attempt(
            "cache_store", lambda redis: self._abandon(keys=keys, args=args, client=redis)
        )

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
            flight.add_done_callback(lambda done: self._landed(key, resource, generation, done))
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
            shared_generation, found = self.shared.unreachable(), None
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
                self._shared_flight(key, resource, fetch, shared_generation, local_generation)
            )
            flight.add_done_callback(lambda done: self._flown(flight_key, done))
        return await asyncio.shield(flight), generation

    async def _shared_flight(
        self,
        key: str,
        resource: str,
        fetch: Callable[[], Awaitable[httpx.Response]],
        shared_generation: bytes,
        local_generation: int,
    ) -> httpx.Response:
        """This replica's one read of ``key``: another replica's answer if one is in flight
        (waiting at most ``flight_wait``), else an upstream call, stored in Redis before it
        is returned so that the waiting replicas find it."""
        shared = self.shared
        flight = None
        if shared is not None and _reachable(shared_generation):
            flight = Flight(secrets.token_hex(8), shared_generation)
            found = await self._wait_for_flight(shared, key, flight)
            if found is not None:
                response, lifetime = found
                if lifetime > 0 and local_generation == self._generation:
                    self._keep(key, response, lifetime, shared_generation)
                return response
        try:
            response = await fetch()
        except BaseException:
            if shared is not None and flight is not None:
                await _quietly(shared.abandon(key, flight))
            raise
        lifetime = _lifetime(response, self.ttl(resource)) if response.status_code == 200 else 0
        current = local_generation == self._generation
        if shared is not None and flight is not None:
            if lifetime > 0 and current and self._shareable(response):
                # Kept in process only when Redis fails; the others then read upstream.
                await _quietly(shared.keep(key, flight, response, lifetime))
            else:
                await _quietly(shared.abandon(key, flight))
        if lifetime > 0 and current:
            self._keep(key, response, lifetime, shared_generation)
        return response

    async def _wait_for_flight(
        self, shared: SharedReads, key: str, flight: Flight
    ) -> tuple[httpx.Response, float] | None:
        """Another replica's fresh answer, or ``None`` once this replica should call upstream
        itself: it holds the lock, the holder gave up, a write moved the generation, Redis
        failed, or ``flight_wait`` has passed."""
        loop = asyncio.get_running_loop()
        give_up = loop.time() + shared.flight_wait
        pause = POLL_FIRST
        while True:
            try:
                generation, found, state = await shared.claim(key, flight)
            except StoreUnavailable:
                return None
            if generation != flight.generation:
                return None  # a write landed: nothing shared is of this read's generation
            if found is not None:
                return found
            if state != WAIT or loop.time() + pause > give_up:
                return None
            await asyncio.sleep(pause)
            pause = min(pause * 2, POLL_MOST)

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

    def _keep(
        self, key: str, response: httpx.Response, lifetime: float, shared: bytes | None
    ) -> None:
        """Keep ``response`` in process, tagged with the shared generation it was read at."""
        response.extensions = {**response.extensions, FRESH_UNTIL: time.monotonic() + lifetime}
        self._entries[key] = (response, lifetime, shared)

    def _flown(self, flight_key: Hashable, done: asyncio.Future[httpx.Response]) -> None:
        """A shared flight ended (it kept its own answer): forget it."""
        if self._in_flight.get(flight_key) is done:
            del self._in_flight[flight_key]

    def _landed(
        self, key: str, resource: str, generation: int, done: asyncio.Future[httpx.Response]
    ) -> None:
        if self._in_flight.get(key) is done:
            del self._in_flight[key]
        if generation != self._generation or done.cancelled() or done.exception() is not None:
            return
        response = done.result()
        lifetime = _lifetime(response, self.ttl(resource)) if response.status_code == 200 else 0
        if lifetime > 0:
            self._keep(key, response, lifetime, None)


async def _quietly(operation: Awaitable[None]) -> None:
    """Run a best-effort Redis operation: unavailable, it is simply not done."""
    try:
        await operation
    except StoreUnavailable:
        pass


async def current_generations(caches: Sequence[ReadCache]) -> list[Generation]:
    """Each cache's current generation: for shared caches, one MGET of their counters. A
    missing counter (Redis restarted empty) is ``b""``, which no read records; Redis
    unreachable, each is ``SharedReads.unreachable()``, which only reads of this outage
    recorded."""
    shared = [cache.shared for cache in caches if cache.shared is not None]
    if not shared:
        return [cache.generation for cache in caches]
    store = shared[0].store
    keys = [reads.generation_key for reads in shared]
    try:
        answer = await store.attempt("generations", lambda redis: redis.mget(keys))
        values = iter([value if value is not None else b"" for value in answer])
    except StoreUnavailable:
        values = iter([reads.unreachable() for reads in shared])
    return [
        (next(values), cache.generation) if cache.shared is not None else cache.generation
        for cache in caches
    ]
