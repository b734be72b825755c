"""Across-request caching of upstream reads, with single-flight, per provider instance.

Each ``UpstreamClient`` owns one ``ReadCache``, so entries are partitioned by provider
instance; the key also holds a digest of the request's credential headers, so a new session
or token never reads another's entries. Concurrent identical reads share one in-flight call.
A successful write evicts the whole instance's cache: every entry it might have changed
(the server, the lists holding it) goes, at the price of some entries that did not change.
Upstream ``Cache-Control: no-store`` is never stored, and ``max-age`` shortens the TTL.

A read names its resource kind (a key of ``DEFAULT_TTLS``) or ``None``: never cached, for
health pings, logins and reads that must see the upstream as it is now.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field

import httpx
from cachetools import TLRUCache

__all__ = ["DEFAULT_TTLS", "FRESH_UNTIL", "ReadCache", "ReadRecord", "read_record", "request_key"]

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
    generations: dict[str, int] = field(default_factory=dict)
    storable: bool = True

    def read(self, provider: str, generation: int, fresh_until: float | None) -> None:
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


class ReadCache:
    """Entries with a lifetime per resource kind, plus the reads in flight."""

    def __init__(self, ttls: Mapping[str, float], maxsize: int = 4096) -> None:
        self.ttls = dict(ttls)
        # Each value is (response, lifetime): cachetools expires it ``lifetime`` after insertion.
        self._entries: TLRUCache = TLRUCache(
            maxsize=maxsize, ttu=lambda _key, value, now: now + value[1], timer=time.monotonic
        )
        self._in_flight: dict[str, asyncio.Future[httpx.Response]] = {}
        self._generation = 0

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
    ) -> httpx.Response:
        """A fresh cached response, the shared in-flight one, or a new upstream read."""
        cached = self._entries.get(key)
        if cached is not None:
            return cached[0]
        flight = self._in_flight.get(key)
        if flight is None:
            flight = self._in_flight[key] = asyncio.ensure_future(fetch())
            generation = self._generation
            flight.add_done_callback(lambda done: self._landed(key, resource, generation, done))
        return await asyncio.shield(flight)

    @property
    def generation(self) -> int:
        """How many times a write has cleared this cache."""
        return self._generation

    def clear(self) -> None:
        """Forget every entry; reads in flight now may predate the write and are not stored."""
        self._entries.clear()
        self._in_flight.clear()
        self._generation += 1

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
            response.extensions = {**response.extensions, FRESH_UNTIL: time.monotonic() + lifetime}
            self._entries[key] = (response, lifetime)
