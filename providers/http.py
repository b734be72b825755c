"""One pooled HTTP client per provider instance, and the translation of transport failures.

Adapters call ``send`` and get an ``httpx.Response`` or a ``GatewayError`` naming the
provider. Writes are never retried; a write whose request may have reached the upstream
before the connection failed is reported with ``outcome="unknown"``.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import httpx

from providers.base import ProviderConfig
from providers.cache import ReadCache, request_key
from schema.errors import ProviderUnavailable

__all__ = ["UpstreamClient"]

log = logging.getLogger("fleetql.upstream")


class UpstreamClient:
    """A keep-alive ``httpx.AsyncClient`` bound to one provider instance."""

    def __init__(self, config: ProviderConfig, *, headers: dict[str, str] | None = None) -> None:
        self.provider_id = config.id
        self.cache = ReadCache(config.cache_ttls)
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
        self, method: str, url: str, *, write: bool, resource: str = "servers", **kwargs: Any
    ) -> httpx.Response:
        """Send one request; transport failures become ``PROVIDER_UNAVAILABLE``.

        A read (``write=False``) is served from the cache for ``resource``'s TTL and shares an
        identical read in flight; a successful write clears this instance's cache.
        """
        request = self._client.build_request(method, url, **kwargs)
        if write:
            response = await self._transmit(request, write=True)
            if response.status_code < 400:
                self.cache.clear()
            return response
        if self.cache.ttl(resource) <= 0:
            return await self._transmit(request, write=False)
        return await self.cache.read(
            request_key(request), resource, lambda: self._transmit(request, write=False)
        )

    async def _transmit(self, request: httpx.Request, *, write: bool) -> httpx.Response:
        try:
            return await self._client.send(request)
        except httpx.ConnectError as exc:
            # Nothing reached the upstream: safe to report as a plain failure, even for writes.
            raise self._unavailable("could not connect", exc) from None
        except httpx.TimeoutException as exc:
            outcome = "unknown" if write and not isinstance(exc, httpx.ConnectTimeout) else None
            raise self._unavailable("timed out", exc, outcome=outcome) from None
        except httpx.HTTPError as exc:
            raise self._unavailable("failed", exc, outcome="unknown" if write else None) from None

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
