"""Per-token request budgets: a token bucket per (token, queries | mutations).

With ``[cluster]`` the buckets live in Redis (one Lua script, on Redis's clock), so a token's
budget is one for every replica together; while Redis does not answer, each replica falls
back to its own buckets (and a token may then spend its budget once per replica).
"""

from __future__ import annotations

import hashlib
import math
import time

from errors import RateLimited
from providers.cluster import SharedStore, StoreUnavailable

__all__ = ["TokenRateLimiter"]

#: Spend one of ARGV[1] requests a minute from the bucket KEYS[1] (refilled continuously,
#: full at first): "0", or the seconds until one is back.
_BUCKET_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local rate = tonumber(ARGV[1])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'stamp')
local tokens = tonumber(state[1]) or rate
local stamp = tonumber(state[2]) or now
tokens = math.min(rate, tokens + math.max(0, now - stamp) * rate / 60)
if tokens < 1 then
  return string.format('%.6f', (1 - tokens) * 60 / rate)
end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.6f', tokens - 1),
  'stamp', string.format('%.6f', now))
redis.call('EXPIRE', KEYS[1], 120)
return '0'
"""


class TokenRateLimiter:
    """Allows ``per_minute`` requests of a kind per token, with bursts up to that many."""

    def __init__(
        self,
        queries_per_minute: int,
        mutations_per_minute: int,
        shared: SharedStore | None = None,
    ) -> None:
        self._rates = {"query": queries_per_minute, "mutation": mutations_per_minute}
        self._buckets: dict[tuple[str, str], tuple[float, float]] = {}
        self._shared = shared
        self._script = shared.register_script(_BUCKET_SCRIPT) if shared is not None else None

    async def take(self, token_name: str, kind: str) -> None:
        """Spend one request of ``kind``; raise ``RATE_LIMITED`` with ``retryAfter`` if none."""
        per_minute = self._rates[kind]
        if per_minute <= 0:
            return
        if self._shared is not None and self._script is not None:
            script, store = self._script, self._shared
            # The token's name, hashed: a key never holds what a client sent.
            key = store.key("inbound", kind, hashlib.sha256(token_name.encode()).hexdigest())
            try:
                wait = await store.attempt(
                    "inbound_rate", lambda redis: script(keys=[key], args=[per_minute])
                )
            except StoreUnavailable:
                pass  # this replica's own bucket, below
            else:
                if float(wait) > 0:
                    raise self._limited(kind, per_minute, float(wait))
                return
        now = time.monotonic()
        tokens, stamp = self._buckets.get((token_name, kind), (float(per_minute), now))
        tokens = min(float(per_minute), tokens + (now - stamp) * per_minute / 60)
        if tokens < 1:
            raise self._limited(kind, per_minute, (1 - tokens) * 60 / per_minute)
        self._buckets[(token_name, kind)] = (tokens - 1, now)

    @staticmethod
    def _limited(kind: str, per_minute: int, wait: float) -> RateLimited:
        return RateLimited(
            f"Too many {kind} requests for this token: at most {per_minute} per minute.",
            retryAfter=max(1, math.ceil(wait)),
        )
