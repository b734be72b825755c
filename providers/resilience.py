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
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import deque
from dataclasses import dataclass

__all__ = ["CLOSED", "HALF_OPEN", "OPEN", "Admission", "ResiliencePolicy", "UpstreamGuard"]

CLOSED, OPEN, HALF_OPEN = "CLOSED", "OPEN", "HALF_OPEN"
RETRYABLE_STATUS = frozenset({429, 502, 503, 504})


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
        self._recent: deque[tuple[float, bool]] = deque()  # (time, was a retry), last 10 s

    # --- circuit breaker ----------------------------------------------------------------

    def admit(self) -> Admission | None:
        """A pass for one call, or ``None``: the circuit is open, or half-open with a probe out.

        Use it as a context manager around the call (see ``Admission``).
        """
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

    # --- retries ----------------------------------------------------------------------

    def may_retry(self) -> bool:
        """Whether the retry budget allows one more retry now."""
        now = time.monotonic()
        while self._recent and now - self._recent[0][0] > 10:
            self._recent.popleft()
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
        self._recent.append((time.monotonic(), retry))
        return _Slot(self._slots)

    async def _take_token(self) -> None:
        rate = self.policy.rate_per_second
        while True:
            now = time.monotonic()
            self._tokens = min(rate, self._tokens + (now - self._refilled) * rate)
            self._refilled = now
            if self._tokens >= 1:
                self._tokens -= 1
                return
            await asyncio.sleep((1 - self._tokens) / rate)


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
