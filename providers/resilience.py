"""Keeping a struggling upstream safe: retries for reads, a circuit breaker, outbound limits.

One ``UpstreamGuard`` per provider instance (``Provider.guard``), used by its
``UpstreamClient``:

* Reads that fail with a connection error, a timeout, 429, 502, 503 or 504 are retried up
  to ``retries`` times with exponential backoff and full jitter; ``Retry-After`` is honoured
  when the upstream sends it. Retries draw on a budget (``retry_budget`` × recent requests,
  at least a few) so a struggling upstream is not hammered. Writes are never retried.
* The breaker opens after ``breaker_failures`` consecutive failures, fails fast with
  ``PROVIDER_UNAVAILABLE`` while open, and after ``breaker_cooldown`` seconds lets one probe
  through (half-open): success closes it, failure opens it again.
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

__all__ = ["CLOSED", "HALF_OPEN", "OPEN", "ResiliencePolicy", "UpstreamGuard"]

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
        self._opened_at = 0.0
        self._probing = False
        self._slots = asyncio.Semaphore(policy.max_concurrency)
        self._tokens = policy.rate_per_second
        self._refilled = time.monotonic()
        self._recent: deque[tuple[float, bool]] = deque()  # (time, was a retry), last 10 s

    # --- circuit breaker ----------------------------------------------------------------

    def admit(self) -> bool:
        """Whether a call may go upstream now (false: the circuit is open)."""
        if self.state == OPEN:
            if time.monotonic() - self._opened_at < self.policy.breaker_cooldown:
                return False
            self.state = HALF_OPEN
        if self.state == HALF_OPEN:
            if self._probing:
                return False
            self._probing = True
        return True

    def succeeded(self) -> None:
        """Record an answer from the upstream (any status below 500 but 429)."""
        self._failures = 0
        self._probing = False
        self.state = CLOSED

    def failed(self) -> None:
        """Record a failure; open the circuit after enough of them in a row."""
        self._failures += 1
        self._probing = False
        if self.state == HALF_OPEN or self._failures >= self.policy.breaker_failures:
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
        return random.uniform(0, ceiling)

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


class _Slot:
    def __init__(self, slots: asyncio.Semaphore) -> None:
        self._slots = slots

    async def __aenter__(self) -> None:
        return None

    async def __aexit__(self, *_exc: object) -> None:
        self._slots.release()
