"""One pooled HTTP client per provider instance, and the translation of transport failures.

Adapters call ``send`` and get an ``httpx.Response`` or a ``GatewayError`` naming the
provider. Writes are never retried; a write whose request may have reached the upstream
before the connection failed is reported with ``outcome="unknown"``.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import httpx

from providers.base import ProviderConfig
from providers.cache import ReadCache, request_key
from providers.resilience import OPEN, RETRYABLE_STATUS, UpstreamGuard
from schema.errors import ProviderUnavailable

__all__ = ["UpstreamClient"]

log = logging.getLogger("fleetql.upstream")


class UpstreamClient:
    """A keep-alive ``httpx.AsyncClient`` bound to one provider instance."""

    def __init__(
        self,
        config: ProviderConfig,
        *,
        headers: dict[str, str] | None = None,
        guard: UpstreamGuard | None = None,
    ) -> None:
        self.provider_id = config.id
        self.cache = ReadCache(config.cache_ttls)
        self.guard = guard or UpstreamGuard(config.resilience)
        self._client = httpx.AsyncClient(
            base_url=config.base_url,
            headers=headers or {},
            timeout=httpx.Timeout(config.read_timeout, connect=config.connect_timeout),
            limits=httpx.Limits(max_connections=32, max_keepalive_connections=16),
            follow_redirects=False,
        )

    async def close(self) -> None:
        """Close pooled connections."""
        await self._client.aclose()

    async def send(
        self,
        method: str,
        url: str,
        *,
        write: bool,
        resource: str = "servers",
        retry: bool = True,
        **kwargs: Any,
    ) -> httpx.Response:
        """Send one request; transport failures become ``PROVIDER_UNAVAILABLE``.

        A read (``write=False``) is served from the cache for ``resource``'s TTL, shares an
        identical read in flight, and is retried per the instance's policy (``retry=False``
        for adapters that apply an upstream-specific retry rule themselves). A write is sent
        exactly once; a successful one clears this instance's cache.
        """
        request = self._client.build_request(method, url, **kwargs)
        if write:
            response = await self._transmit(request, write=True, retry=False)
            if response.status_code < 400:
                self.cache.clear()
            return response
        if self.cache.ttl(resource) <= 0:
            return await self._transmit(request, write=False, retry=retry)
        return await self.cache.read(
            request_key(request),
            resource,
            lambda: self._transmit(request, write=False, retry=retry),
        )

    async def _transmit(
        self, request: httpx.Request, *, write: bool, retry: bool
    ) -> httpx.Response:
        attempt = 0
        while True:
            failure, response = await self._attempt(request, write=write, retried=attempt > 0)
            retryable = failure is not None or response.status_code in RETRYABLE_STATUS
            retries_left = retry and attempt < self.guard.policy.retries
            if retryable and retries_left and self.guard.may_retry():
                attempt += 1
                retry_after = response.headers.get("retry-after") if response else None
                await asyncio.sleep(self.guard.delay(attempt, retry_after))
                continue
            if failure is not None:
                raise failure
            return response

    async def _attempt(
        self, request: httpx.Request, *, write: bool, retried: bool
    ) -> tuple[ProviderUnavailable | None, httpx.Response | None]:
        """One upstream exchange through the breaker and the outbound limits."""
        if not self.guard.admit():
            failure = ProviderUnavailable(
                f"Provider {self.provider_id!r} is failing; calls are paused for a few seconds.",
                provider=self.provider_id,
                circuit=OPEN,
            )
            return failure, None
        async with await self.guard.slot(retry=retried):
            try:
                response = await self._client.send(request)
            except httpx.ConnectError as exc:
                # Nothing reached the upstream: a plain failure, even for writes.
                self.guard.failed()
                return self._unavailable("could not connect", exc), None
            except httpx.TimeoutException as exc:
                self.guard.failed()
                connect = isinstance(exc, httpx.ConnectTimeout)
                outcome = "unknown" if write and not connect else None
                return self._unavailable("timed out", exc, outcome=outcome), None
            except httpx.HTTPError as exc:
                self.guard.failed()
                outcome = "unknown" if write else None
                return self._unavailable("failed", exc, outcome=outcome), None
        if response.status_code >= 500:
            self.guard.failed()
        elif response.status_code != 429:
            self.guard.succeeded()
        return None, response

    def decode_json(self, response: httpx.Response) -> Any:
        """The JSON body, or ``PROVIDER_UNAVAILABLE`` when it is not JSON."""
        try:
            return response.json()
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise self._unavailable("answered with a malformed body", exc) from None

    def _unavailable(
        self, what: str, exc: Exception, *, outcome: str | None = None
    ) -> ProviderUnavailable:
        # Log the exception type only: httpx messages can carry URLs with credentials.
        log.warning("upstream %s %s (%s)", self.provider_id, what, type(exc).__name__)
        message = f"Provider {self.provider_id!r} {what}."
        if outcome == "unknown":
            message += " The change may or may not have been applied; check before repeating it."
        return ProviderUnavailable(message, provider=self.provider_id, outcome=outcome)
