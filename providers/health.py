"""Provider reachability: each provider's cheapest call, remembered for a short while."""

from __future__ import annotations

import asyncio
import time

from providers.registry import ProviderSet

__all__ = ["ProviderHealth"]


class ProviderHealth:
    """Pings providers at most once per ``ttl`` seconds; used by ``/readyz`` and ``providers``."""

    def __init__(self, ttl: float = 10.0, timeout: float = 5.0) -> None:
        self.ttl = ttl
        self.timeout = timeout
        self._checked: dict[str, tuple[float, bool]] = {}
        self._lock = asyncio.Lock()

    async def check(self, providers: ProviderSet) -> dict[str, bool]:
        """Whether each provider answered its ping recently (pinging the stale ones now)."""
        async with self._lock:
            now = time.monotonic()
            stale = [
                provider
                for provider in providers.all
                if now - self._checked.get(provider.id, (-self.ttl - 1, False))[0] > self.ttl
            ]
            results = await asyncio.gather(*(self._ping(provider) for provider in stale))
            for provider, reachable in zip(stale, results, strict=True):
                self._checked[provider.id] = (now, reachable)
        return {provider.id: self._checked[provider.id][1] for provider in providers.all}

    def record_failure(self, provider_id: str) -> None:
        """A real call just failed: report the provider unreachable until the next check."""
        self._checked[provider_id] = (time.monotonic(), False)

    async def _ping(self, provider) -> bool:
        try:
            await asyncio.wait_for(provider.ping(), self.timeout)
        except Exception:  # noqa: BLE001 - any failure means "not reachable"
            return False
        return True
