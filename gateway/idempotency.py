"""``Idempotency-Key`` on mutations: a retried mutation answers its first response, once run.

A service that sends a mutation and loses the connection cannot know whether it ran. With an
``Idempotency-Key`` header (1-255 visible ASCII characters, the convention payment APIs use)
the first response of a mutation that ran is kept 24 h, keyed by (client token name, key):

* a retry with the same key and the same ``query``, ``variables`` and ``operationName`` is
  answered that response (``Idempotent-Replayed: true``) with no upstream call;
* the same key with another request is refused: HTTP 422 ``VALIDATION_FAILED``;
* a duplicate arriving while the first still runs waits for its response, at most the
  request deadline and a second; past it, HTTP 409 ``IDEMPOTENCY_CONFLICT``, never a second run;
* a first run that ends without a response (cancelled, or failed unexpectedly) is kept as an
  ``outcome: "unknown"`` error, like a write whose connection was cut.

Only a response with ``data`` (the mutation ran) is kept: a request refused before running
(its document, limits, rate limit) claims nothing, and may be sent again with the same key.
The header on a query is ignored. ``IdempotencyStore`` is what the endpoint uses;
``LocalIdempotencyStore`` keeps the records in this process, ``SharedIdempotencyStore`` in
Redis (``[cluster]``), so that a retry reaching another replica is answered as well.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson

from errors import BadRequest, IdempotencyConflict, ProviderUnavailable, ValidationFailed
from providers.cluster import SharedStore, StoreUnavailable

__all__ = [
    "HEADER",
    "IdempotencyStore",
    "LocalIdempotencyStore",
    "SharedIdempotencyStore",
    "StoredResponse",
    "abandoned_response",
    "fingerprint",
    "idempotency_key",
    "mismatch",
    "scope_of",
    "still_running",
    "too_large_response",
]

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255
#: How long a first response is kept (the convention payment APIs follow).
TTL = 24 * 3600.0
#: A duplicate waits the request deadline plus this for the first run's response: the first
#: run's upstream calls end by its deadline, which passes before the duplicate's, and it
#: then needs a moment to answer.
WAIT_MARGIN = 1.0


@dataclass(frozen=True)
class StoredResponse:
    """The first response of a mutation sent with a key: its HTTP status and JSON body."""

    status: int
    body: bytes

    def to_bytes(self) -> bytes:
        """The record as stored outside the process (status, then the body)."""
        return b"%d\n" % self.status + self.body

    @classmethod
    def from_bytes(cls, stored: bytes) -> StoredResponse:
        """The record ``to_bytes`` wrote."""
        status, _, body = stored.partition(b"\n")
        return cls(int(status), body)


def idempotency_key(value: str | None) -> str | None:
    """The header's key, ``None`` without one; ``BAD_REQUEST`` when it is empty or too long."""
    if value is None:
        return None
    key = value.strip()
    if not key or len(key) > MAX_KEY_LENGTH or not all(" " <= c <= "~" for c in key):
        raise BadRequest(
            f"The {HEADER} header must be 1 to {MAX_KEY_LENGTH} visible ASCII characters.",
            header=HEADER,
        )
    return key


def fingerprint(query: str, variables: dict[str, Any] | None, operation_name: str | None) -> str:
    """What makes two requests the same one: SHA-256 of the document, variables (keys in
    order) and operation name."""
    canonical = orjson.dumps([query, variables, operation_name], option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(canonical).hexdigest()


def scope_of(token_name: str, key: str) -> str:
    """One record's name: a SHA-256 of (token name, key), so no client value is stored."""
    return hashlib.sha256(f"{token_name}\0{key}".encode()).hexdigest()


def mismatch() -> ValidationFailed:
    """The key was first used with another request."""
    return ValidationFailed(
        f"This {HEADER} was already used with a different request (query, variables or "
        "operationName); send a new key for a new request.",
        header=HEADER,
    )


def still_running(waited: float) -> IdempotencyConflict:
    """A duplicate waited ``waited`` s for the first request, which has no response yet."""
    return IdempotencyConflict(
        f"The first request with this {HEADER} has not answered after {waited:g} s: it is "
        "still running, or its replica stopped; it is not run again. Retry later with the "
        "same key, or read the resource to see whether the change was applied.",
        header=HEADER,
        retryAfter=max(1, round(waited)),
    )


def abandoned_response(request_id: str) -> StoredResponse:
    """What is kept for a first run that ended without a response: its outcome is unknown."""
    error = ProviderUnavailable(
        f"The request with this {HEADER} ended before its answer was known (request id "
        f"{request_id}). The change may or may not have been applied; check before repeating "
        "it with a new key.",
        outcome="unknown",
    )
    body = {"errors": [{"message": error.message, "extensions": error.extensions}], "data": None}
    return StoredResponse(200, orjson.dumps(body))


def too_large_response(size: int) -> StoredResponse:
    """What is kept instead of a first response too large to keep whole: it ran, and says so."""
    error = IdempotencyConflict(
        f"The request with this {HEADER} already ran; its response ({size} bytes) was too "
        "large to keep, so it cannot be repeated. Read the resource to see the result.",
        header=HEADER,
    )
    body = {"errors": [{"message": error.message, "extensions": error.extensions}], "data": None}
    return StoredResponse(200, orjson.dumps(body))


class IdempotencyStore(Protocol):
    """Where first responses are kept; ``begin`` and ``finish`` bracket one keyed run."""

    async def begin(self, scope: str, request: str, wait: float) -> StoredResponse | None:
        """Claim ``scope`` for ``request`` (a ``fingerprint``) and return ``None``: the caller
        runs it and calls ``finish``. Or return the first response of the same request (after
        waiting up to ``wait`` s for it); raise ``mismatch()`` for another request under the
        same scope, ``still_running()`` when the wait ran out."""
        ...

    async def finish(self, scope: str, request: str, response: StoredResponse) -> None:
        """Keep the response of the run that ``begin`` let through, for ``TTL`` s."""
        ...

    async def release(self, scope: str, request: str) -> None:
        """Forget the claim of a run refused before it ran (nothing to keep)."""
        ...


@dataclass
class _Record:
    request: str
    expires: float
    response: StoredResponse | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def size(self) -> int:
        return len(self.request) + (len(self.response.body) if self.response else 0) + 128


class LocalIdempotencyStore:
    """First responses in this process: at most ``max_entries`` records and ``max_bytes`` of
    them, the oldest finished ones evicted first (running ones are never evicted: each is one
    request in flight, and its ``finish`` always comes)."""

    def __init__(
        self, max_entries: int = 10_000, max_bytes: int = 16 * 2**20, ttl: float = TTL
    ) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.ttl = ttl
        self._records: OrderedDict[str, _Record] = OrderedDict()
        self._bytes = 0

    def __len__(self) -> int:
        return len(self._records)

    def holds(self, scope: str) -> bool:
        """Whether a live record of ``scope`` is kept here, running or finished."""
        record = self._records.get(scope)
        if record is None:
            return False
        return not record.done.is_set() or record.expires > time.monotonic()

    @property
    def bytes(self) -> int:
        """What the records held take, counted as their bodies plus a fixed overhead each."""
        return self._bytes

    async def begin(self, scope: str, request: str, wait: float) -> StoredResponse | None:
        """See ``IdempotencyStore.begin``."""
        deadline = time.monotonic() + wait
        while True:
            record = self._records.get(scope)
            if record is not None and record.done.is_set() and record.expires <= time.monotonic():
                self._drop(scope)
                record = None
            if record is None:
                record = _Record(request, time.monotonic() + self.ttl)
                self._records[scope] = record
                self._bytes += record.size
                self._evict(keep=scope)
                return None
            if record.request != request:
                raise mismatch()
            if not record.done.is_set():
                try:
                    await asyncio.wait_for(record.done.wait(), deadline - time.monotonic())
                except TimeoutError:
                    raise still_running(wait) from None
            if record.response is not None:
                return record.response
            # Released: the first run was refused before running; claim the key again.

    async def finish(self, scope: str, request: str, response: StoredResponse) -> None:
        """See ``IdempotencyStore.finish``."""
        record = self._records.get(scope)
        if record is None or record.request != request or record.done.is_set():
            return
        if len(response.body) > self.max_bytes // 8:
            response = too_large_response(len(response.body))
        self._bytes -= record.size
        record.response = response
        record.expires = time.monotonic() + self.ttl
        self._bytes += record.size
        record.done.set()
        self._evict(keep=scope)

    async def release(self, scope: str, request: str) -> None:
        """See ``IdempotencyStore.release``."""
        record = self._records.get(scope)
        if record is not None and record.request == request and not record.done.is_set():
            self._drop(scope)
            record.done.set()  # its waiters claim the key again

    def _evict(self, keep: str | None = None) -> None:
        """Drop the oldest finished records (never ``keep``) until both bounds hold."""
        if len(self._records) <= self.max_entries and self._bytes <= self.max_bytes:
            return
        for scope in [s for s, r in self._records.items() if r.done.is_set() and s != keep]:
            self._drop(scope)
            if len(self._records) <= self.max_entries and self._bytes <= self.max_bytes:
                return

    def _drop(self, scope: str) -> None:
        record = self._records.pop(scope)
        self._bytes -= record.size


#: Claim KEYS[1] for the request ARGV[1] (``R<fingerprint>``, kept ARGV[2] s) unless it is
#: held: nil when claimed, else what it holds.
_CLAIM_SCRIPT = """
local held = redis.call('GET', KEYS[1])
if held then return held end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
return false
"""
#: Delete KEYS[1] if it still holds the claim ARGV[1] (a run refused before it ran).
_RELEASE_SCRIPT = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
#: Seconds between two reads of a claim still running, while a duplicate waits for it.
POLL = 0.05


class SharedIdempotencyStore:
    """First responses in Redis, one key per (token, key) scope: ``R<fingerprint>`` while the
    first run is in flight (claimed atomically, so two replicas never both run it), then
    ``D<fingerprint>``, a newline, the status, a newline and the body; both kept ``TTL`` s.

    While Redis does not answer, ``local`` serves: a claim made there stays there. A claim
    made in Redis whose response cannot be written back is kept in ``local`` as well, and
    a duplicate reaching another replica meanwhile gets ``IDEMPOTENCY_CONFLICT`` once its
    wait runs out, never a second run. A duplicate on a replica that cannot read Redis any
    more gets the same.
    """

    def __init__(
        self, store: SharedStore, local: LocalIdempotencyStore | None = None, ttl: float = TTL
    ) -> None:
        self._store = store
        self.local = local or LocalIdempotencyStore(ttl=ttl)
        self._ttl = int(ttl)
        self._claim = store.register_script(_CLAIM_SCRIPT)
        self._release = store.register_script(_RELEASE_SCRIPT)
        self._claimed_locally: set[str] = set()

    def _key(self, scope: str) -> str:
        return self._store.key("idempotency", scope)

    async def begin(self, scope: str, request: str, wait: float) -> StoredResponse | None:
        """See ``IdempotencyStore.begin``."""
        if self.local.holds(scope):  # claimed here while Redis was away: it stays here
            return await self._begin_locally(scope, request, wait)
        key, claim = self._key(scope), b"R" + request.encode()
        deadline = time.monotonic() + wait
        try:
            held = await self._store.attempt(
                "idempotency_claim", lambda redis: self._claim(keys=[key], args=[claim, self._ttl])
            )
        except StoreUnavailable:
            return await self._begin_locally(scope, request, wait)
        while held is not None:
            state, held_request, response = _parse(held)
            if held_request != request:
                raise mismatch()
            if state == b"D":
                return response
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise still_running(wait)
            await asyncio.sleep(min(POLL, remaining))
            try:
                held = await self._store.attempt(
                    "idempotency_read",
                    lambda redis: self._claim(keys=[key], args=[claim, self._ttl]),
                )
            except StoreUnavailable:
                raise still_running(wait) from None
        return None

    async def _begin_locally(self, scope: str, request: str, wait: float) -> StoredResponse | None:
        response = await self.local.begin(scope, request, wait)
        if response is None:
            self._claimed_locally.add(scope)
        return response

    async def finish(self, scope: str, request: str, response: StoredResponse) -> None:
        """See ``IdempotencyStore.finish``."""
        if scope in self._claimed_locally:
            self._claimed_locally.discard(scope)
            await self.local.finish(scope, request, response)
            return
        if len(response.body) > self.local.max_bytes // 8:
            response = too_large_response(len(response.body))
        done = b"D" + request.encode() + b"\n" + response.to_bytes()
        key = self._key(scope)
        try:
            await self._store.attempt(
                "idempotency_store", lambda redis: redis.set(key, done, ex=self._ttl)
            )
        except StoreUnavailable:
            # Kept here at least: a retry reaching this replica is answered.
            await self.local.begin(scope, request, 0)
            await self.local.finish(scope, request, response)

    async def release(self, scope: str, request: str) -> None:
        """See ``IdempotencyStore.release``."""
        if scope in self._claimed_locally:
            self._claimed_locally.discard(scope)
            await self.local.release(scope, request)
            return
        key, claim = self._key(scope), b"R" + request.encode()
        with contextlib.suppress(StoreUnavailable):  # the claim then expires with its TTL
            await self._store.attempt(
                "idempotency_release", lambda redis: self._release(keys=[key], args=[claim])
            )


def _parse(held: bytes) -> tuple[bytes, str, StoredResponse | None]:
    """(state, fingerprint, response) of a record ``SharedIdempotencyStore`` wrote."""
    state, rest = held[:1], held[1:]
    if state == b"R":
        return state, rest.decode(), None
    request, _, stored = rest.partition(b"\n")
    return state, request.decode(), StoredResponse.from_bytes(stored)
