"""Keeping a struggling upstream safe: retries for reads, a circuit breaker, outbound limits.

One ``UpstreamGuard`` per provider instance (``Provider.guard``), used by its
``UpstreamClient``:

* Reads that fail with a connection error, a timeout, 429, 502, 503 or 504 (or an answer the
  adapter names, ``Provider.retry_when``) are retried up to ``retries`` times by the
  transport's one retry loop (``providers.http``), with exponential backoff and equal jitter
  (half the backoff, plus up to as much again at random: a rate-limited or waking upstream is
  never asked again at once); ``Retry-After`` is honoured when the upstream sends it. Retries
  draw on a budget (``retry_budget`` × recent requests, at least a few) so a struggling upstream
  is not hammered, and none starts that could not end by the request's deadline. Writes are
  never retried.
* The breaker opens after ``breaker_failures`` consecutive failures, fails fast with
  ``PROVIDER_UNAVAILABLE`` while open, and after ``breaker_cooldown`` seconds lets one probe
  through (half-open). Every call holds an ``Admission`` and ends with one verdict:

  - success (an answer below 500, not 429; for a probe, a 2xx body that is JSON) closes the
    circuit and resets the count of failures;
  - failure (connection error, timeout, 5xx, a probe's unreadable 2xx body) counts towards
    opening, and a failed probe reopens the circuit for a fresh cooldown;
  - no verdict (429: the upstream is up but asks us to wait; the request's own deadline; a
    cancellation) counts nothing, and a probe left so is released: the circuit stays
    half-open and the next call probes. A 429 does not reopen the circuit: the retry loop
    already waits for ``Retry-After``, and half-open lets one call through at a time.

  While the circuit is open or half-open only the probe's verdict counts; calls admitted
  before it opened may still end, and say nothing newer than the failures that opened it.
* At most ``max_concurrency`` calls are in flight and at most ``rate_per_second`` start per
  second (a token bucket), so a burst of client queries queues in the gateway instead of
  tripping the upstream's own rate limit.

With ``[cluster]`` (``share``) the replicas share two of these through Redis, each falling
back to this replica's own state while Redis does not answer:

* the rate is one budget per provider account (``SharedRate``): at most ``rate_per_second``
  calls start in any window of ``RATE_WINDOW`` seconds across every replica, counted in one
  Lua script on Redis's clock. The window is a little longer than a second so that the
  upstream, which counts arrivals, sees at most that many in any second although deliveries
  jitter (by up to a tenth of a second). ``max_concurrency`` stays per replica (a slot is
  held for a whole call: a replica that died holding one would leak it).
* an open circuit is seen by every replica (``SharedCircuit``): opening writes an "open
  until" key that expires with the cooldown; each replica reads it at most every
  ``CIRCUIT_REFRESH`` seconds, in the background of a call (never a Redis round trip per
  call), and opens its own circuit for what is left of that cooldown. Each replica then
  sends its own half-open probe.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections import deque
from dataclasses import dataclass

from providers.cluster import SharedStore, StoreUnavailable

__all__ = [
    "CLOSED",
    "HALF_OPEN",
    "OPEN",
    "Admission",
    "ResiliencePolicy",
    "SharedCircuit",
    "SharedRate",
    "UpstreamGuard",
]

CLOSED, OPEN, HALF_OPEN = "CLOSED", "OPEN", "HALF_OPEN"
RETRYABLE_STATUS = frozenset({429, 502, 503, 504})
#: Seconds of calls the retry budget (``retry_budget``, a share of them) is counted over.
RETRY_WINDOW = 10.0
#: Seconds over which the shared outbound rate is counted (see the module's docstring).
RATE_WINDOW = 1.1
#: Seconds between two reads of another replica's "open until" key, per replica.
CIRCUIT_REFRESH = 0.5

# A sliding window of admissions (a sorted set scored by Redis's clock in microseconds):
# one more if fewer than ARGV[1] started in the last ARGV[2] microseconds, else how many
# microseconds until the oldest leaves the window.
_WINDOW_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], math.ceil(window / 1000) + 1000)
  return 0
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return math.max(1, tonumber(oldest[2]) + window - now)
"""


@dataclass(frozen=True)
class ResiliencePolicy:
    """Per provider instance; every field is a ``[[providers]]`` key of the same name."""

    retries: int = 2
    retry_backoff: float = 0.2
    max_backoff: float = 5.0
    retry_budget: float = 0.2
    breaker_failures: int = 5
    breaker_cooldown: float = 10.0
    max_concurrency: int = 16
    rate_per_second: float = 50.0


class UpstreamGuard:
    """The breaker, retry budget and outbound limits of one provider instance."""

    def __init__(self, policy: ResiliencePolicy) -> None:
        self.policy = policy
        self.state = CLOSED
        self._failures = 0
        self._unreadable = 0  # bodies in a row that did not decode (see ``unreadable``)
        self._opened_at = 0.0
        self._probing = False  # whether the half-open probe is out
        self._slots = asyncio.Semaphore(policy.max_concurrency)
        self._tokens = policy.rate_per_second
        self._refilled = time.monotonic()
        self._recent: deque[tuple[float, bool]] = deque()  # (time, was a retry)
        self._shared_rate: SharedRate | None = None
        self._shared_circuit: SharedCircuit | None = None

    def share(self, store: SharedStore, account: str) -> None:
        """Share the rate budget and the open circuit with every replica of ``account`` (a
        digest naming the provider account, never a credential)."""
        self._shared_rate = SharedRate(store, account, self.policy.rate_per_second)
        self._shared_circuit = SharedCircuit(store, account)

    # --- circuit breaker ----------------------------------------------------------------

    def admit(self) -> Admission | None:
        """A pass for one call, or ``None``: the circuit is open, or half-open with a probe out.

        Use it as a context manager around the call (see ``Admission``).
        """
        if self._shared_circuit is not None and self.state == CLOSED:
            self._shared_circuit.refresh(self)
        if self.state == OPEN:
            if time.monotonic() - self._opened_at < self.policy.breaker_cooldown:
                return None
            self.state = HALF_OPEN
        if self.state == HALF_OPEN:
            if self._probing:
                return None
            self._probing = True
            return Admission(self, probe=True)
        return Admission(self, probe=False)

    def unreadable(self) -> None:
        """A body found unreadable after its call's verdict (a 200 with garbage).

        Each such call's status already counted as a success, which resets the count of
        failures, so these count in a row of their own: ``breaker_failures`` unreadable
        bodies in a row open the circuit like as many errors.
        """
        self._unreadable += 1
        if self.state == CLOSED and self._unreadable >= self.policy.breaker_failures:
            self._open()

    def readable(self) -> None:
        """A body decoded: a row of unreadable ones is broken."""
        self._unreadable = 0

    def _record(self, *, probe: bool, verdict: bool | None) -> None:
        if probe:
            self._probing = False
            if verdict is True:
                self.state = CLOSED
                self._failures = 0
            elif verdict is False:
                self._open()
        elif self.state == CLOSED and verdict is not None:
            self._failures = 0 if verdict else self._failures + 1
            if self._failures >= self.policy.breaker_failures:
                self._open()

    def _open(self) -> None:
        self.state = OPEN
        self._opened_at = time.monotonic()
        if self._shared_circuit is not None:
            self._shared_circuit.publish(self.policy.breaker_cooldown)

    def opened_elsewhere(self, remaining: float) -> None:
        """Another replica opened this account's circuit, open ``remaining`` s more: open
        this one until then too (a closed circuit only; a probe's verdict stays its own)."""
        if self.state == CLOSED and remaining > 0:
            self.state = OPEN
            self._opened_at = time.monotonic() - max(0.0, self.policy.breaker_cooldown - remaining)

    # --- retries ----------------------------------------------------------------------

    def may_retry(self) -> bool:
        """Whether the retry budget allows one more retry now."""
        self._forget_old_calls(time.monotonic())
        retries = sum(1 for _, retry in self._recent if retry)
        allowed = max(3, int(self.policy.retry_budget * len(self._recent)))
        return retries < allowed

    def delay(self, attempt: int, retry_after: str | None) -> float:
        """Seconds to wait before retry ``attempt`` (1-based): Retry-After, else jittered."""
        if retry_after is not None and retry_after.strip().isdigit():
            return min(float(retry_after), self.policy.max_backoff)
        ceiling = min(self.policy.max_backoff, self.policy.retry_backoff * 2 ** (attempt - 1))
        return random.uniform(ceiling / 2, ceiling)

    # --- outbound limits --------------------------------------------------------------

    async def slot(self, retry: bool) -> _Slot:
        """Wait for a concurrency slot and a rate token (the caller's deadline applies)."""
        await self._slots.acquire()
        try:
            await self._take_token()
        except BaseException:
            self._slots.release()
            raise
        now = time.monotonic()
        self._forget_old_calls(now)
        self._recent.append((now, retry))
        return _Slot(self._slots)

    def _forget_old_calls(self, now: float) -> None:
        """Keep only the calls of the last ``RETRY_WINDOW`` seconds, which the budget counts
        (on every call, not only when a retry is weighed: a healthy provider never retries)."""
        while self._recent and now - self._recent[0][0] > RETRY_WINDOW:
            self._recent.popleft()

    async def _take_token(self) -> None:
        if self._shared_rate is not None:
            try:
                await self._shared_rate.take()
                return
            except StoreUnavailable:
                pass  # this replica's own bucket, as without a cluster
        rate = self.policy.rate_per_second
        while True:
            now = time.monotonic()
            self._tokens = min(rate, self._tokens + (now - self._refilled) * rate)
            self._refilled = now
            if self._tokens >= 1:
                self._tokens -= 1
                return
            await asyncio.sleep((1 - self._tokens) / rate)


class SharedRate:
    """One provider account's outbound rate, shared by every replica through Redis."""

    def __init__(self, store: SharedStore, account: str, rate_per_second: float) -> None:
        self._store = store
        self._key = store.key("rate", account)
        # Whole calls per window: a rate below one a second is counted over a longer one.
        self._limit = max(1, int(rate_per_second))
        self._window_us = int(self._limit / rate_per_second * RATE_WINDOW * 1_000_000)
        self._script = store.register_script(_WINDOW_SCRIPT)

    async def take(self) -> None:
        """Wait until the account's window has room, then take a place in it; raise
        ``StoreUnavailable`` when Redis does not answer (the caller falls back)."""
        member = uuid.uuid4().hex
        args = [self._limit, self._window_us, member]
        while True:
            wait_us = await self._store.attempt(
                "outbound_rate", lambda redis: self._script(keys=[self._key], args=args)
            )
            if int(wait_us) == 0:
                return
            await asyncio.sleep(int(wait_us) / 1_000_000)


class SharedCircuit:
    """An account's open circuit as an "open until" key that every replica reads, at most
    every ``CIRCUIT_REFRESH`` s and never in a call's way."""

    def __init__(self, store: SharedStore, account: str) -> None:
        self._store = store
        self._key = store.key("circuit", account)
        self._read_at = -CIRCUIT_REFRESH
        self._task: asyncio.Task[None] | None = None
        self._writes: set[asyncio.Task[None]] = set()  # referenced until done

    def refresh(self, guard: UpstreamGuard) -> None:
        """Read the key in the background if it was not read lately; open ``guard`` if set."""
        now = time.monotonic()
        if now - self._read_at < CIRCUIT_REFRESH or self._task is not None:
            return
        self._read_at = now
        self._task = asyncio.get_running_loop().create_task(self._read(guard))

    async def _read(self, guard: UpstreamGuard) -> None:
        try:
            remaining_ms = await self._store.attempt(
                "circuit_read", lambda redis: redis.pttl(self._key)
            )
        except StoreUnavailable:
            return  # this replica's own circuit, as without a cluster
        finally:
            self._task = None
        if remaining_ms > 0:
            guard.opened_elsewhere(remaining_ms / 1000)

    def publish(self, cooldown: float) -> None:
        """Tell every replica this circuit opened for ``cooldown`` s (in the background)."""

        async def write() -> None:
            try:
                await self._store.attempt(
                    "circuit_open",
                    lambda redis: redis.set(self._key, b"1", px=max(1, int(cooldown * 1000))),
                )
            except StoreUnavailable:
                pass  # the other replicas count their own failures

        self._read_at = time.monotonic()  # what the key says now is what this replica wrote
        task = asyncio.get_running_loop().create_task(write())
        self._writes.add(task)
        task.add_done_callback(self._writes.discard)


class Admission:
    """One call let through the breaker, with at most one verdict.

    ``succeeded`` or ``failed`` records what the upstream did; leaving the ``with`` block
    without either (a 429, the request's deadline, a cancellation) records nothing and
    releases a probe, so no outcome can leave the circuit waiting for a verdict forever.

    Example:
        admission = guard.admit()
        if admission is not None:
            with admission:
                response = await send()
                admission.succeeded()
    """

    __slots__ = ("_guard", "_settled", "probe")

    def __init__(self, guard: UpstreamGuard, *, probe: bool) -> None:
        self._guard = guard
        self._settled = False
        #: Whether this is the half-open probe whose verdict closes or reopens the circuit.
        self.probe = probe

    def __enter__(self) -> Admission:
        return self

    def __exit__(self, *_exc: object) -> None:
        self._settle(None)

    def succeeded(self) -> None:
        """The upstream answered (below 500, not 429)."""
        self._settle(True)

    def failed(self) -> None:
        """The upstream failed: no connection, a timeout, a 5xx or an unreadable body."""
        self._settle(False)

    def _settle(self, verdict: bool | None) -> None:
        if not self._settled:
            self._settled = True
            self._guard._record(probe=self.probe, verdict=verdict)


class _Slot:
    def __init__(self, slots: asyncio.Semaphore) -> None:
        self._slots = slots

    async def __aenter__(self) -> None:
        return None

    async def __aexit__(self, *_exc: object) -> None:
        self._slots.release()
