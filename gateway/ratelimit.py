"""Per-token request budgets: a token bucket per (token, queries | mutations)."""

from __future__ import annotations

import math
import time

from errors import RateLimited

__all__ = ["TokenRateLimiter"]


class TokenRateLimiter:
    """Allows ``per_minute`` requests of a kind per token, with bursts up to that many."""

    def __init__(self, queries_per_minute: int, mutations_per_minute: int) -> None:
        self._rates = {"query": queries_per_minute, "mutation": mutations_per_minute}
        self._buckets: dict[tuple[str, str], tuple[float, float]] = {}

    def take(self, token_name: str, kind: str) -> None:
        """Spend one request of ``kind``; raise ``RATE_LIMITED`` with ``retryAfter`` if none."""
        per_minute = self._rates[kind]
        if per_minute <= 0:
            return
        now = time.monotonic()
        tokens, stamp = self._buckets.get((token_name, kind), (float(per_minute), now))
        tokens = min(float(per_minute), tokens + (now - stamp) * per_minute / 60)
        if tokens < 1:
            retry_after = math.ceil((1 - tokens) * 60 / per_minute)
            raise RateLimited(
                f"Too many {kind} requests for this token: at most {per_minute} per minute.",
                retryAfter=retry_after,
            )
        self._buckets[(token_name, kind)] = (tokens - 1, now)
