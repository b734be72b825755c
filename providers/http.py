"""One pooled HTTP client per provider instance, and the translation of transport failures.

Adapters call ``send`` and get an ``httpx.Response`` or a ``GatewayError`` naming the
provider. Writes are never retried; a write whose request may have reached the upstream
before the connection failed is reported with ``outcome="unknown"``.

Every exchange, cache read and eviction is reported to the ``upstream_observer`` of the
current request (metrics, logs and traces live in the gateway; none is set: nothing is
reported). Observers see an endpoint template, never a URL: ids, query strings and bodies
stay out of labels and log lines.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from contextlib import AbstractContextManager, nullcontext
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Protocol

import httpx
import orjson

from errors import ProviderUnavailable
from providers.base import ProviderConfig
from providers.cache import ReadCache, request_key
from providers.resilience import OPEN, RETRYABLE_STATUS, UpstreamGuard

__all__ = ["UpstreamCall", "UpstreamClient", "UpstreamObserver", "endpoint_template"]

log = logging.getLogger("fleetql.upstream")
_WRITE = "fleetql.write"
#: A response's decoded body, kept on it so that cache hits are not decoded again.
_DECODED = "fleetql.decoded"
_NOT_DECODED = object()

# A path segment that names one thing rather than a collection: it holds a digit (numeric
# ids, UUIDs, DP-12345, IPs; API versions such as v1 excepted), a character outside
# [A-Za-z0-9_-], or is too long to be a word of the API.
_VERSION = re.compile(r"^v\d+(\.\d+)?$")
_WORD = re.compile(r"^[A-Za-z_-]{1,40}$")


def _remaining() -> float | None:
    """Seconds left before the current request's deadline (``None``: no deadline)."""
    deadline = request_deadline.get()
    return None if deadline is None else max(0.0, deadline - asyncio.get_running_loop().time())


def _readable(response: httpx.Response) -> bool:
    """Whether a 2xx answer's body is JSON or empty (any other status: not judged here)."""
    if not 200 <= response.status_code < 300 or not response.content:
        return True
    try:
        orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return False
    return True


def endpoint_template(path: str) -> str:
    """The path with every id-like segment replaced by ``{id}``: a bounded metric label.

    Example:
        ``endpoint_template("/metal/v1/devices/8f1c…/actions") == "/metal/v1/devices/{id}/actions"``
    """
    segments = path.split("/")
    return "/".join(
        segment if not segment or _VERSION.match(segment) or _WORD.match(segment) else "{id}"
        for segment in segments
    )


@dataclass
class UpstreamCall:
    """One upstream exchange as an observer sees it; ``status`` is set when it ends."""

    provider: str
    method: str
    endpoint: str
    retry: bool
    #: The HTTP status as text, or how the exchange ended without one: connect_error,
    #: timeout, deadline (the GraphQL request's), cancelled, error.
    status: str = "error"


class UpstreamObserver(Protocol):
    """Receives what the upstream clients do on behalf of the current request."""

    def upstream_call(self, call: UpstreamCall) -> AbstractContextManager[object]:
        """Wraps one exchange; ``call.status`` is final when the context exits."""

    def cache_read(self, provider: str, hit: bool) -> None:
        """A read was served from the cache (or a shared read in flight), or went upstream."""

    def cache_evicted(self, provider: str) -> None:
        """A successful write emptied the provider's cache."""


#: The observer of the request being served; the gateway sets it per request.
#: The current GraphQL request's deadline, on the event loop's clock; ``None``: no deadline.
#: Upstream calls, their queueing for a slot and their retries all end by it.
request_deadline: ContextVar[float | None] = ContextVar("request_deadline", default=None)

upstream_observer: ContextVar[UpstreamObserver | None] = ContextVar(
    "upstream_observer", default=None
)


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
            # Idle connections are dropped before common 5 s server-side keep-alive timeouts,
            # so a request is not sent on a connection the upstream is closing.
            limits=httpx.Limits(
                max_connections=32, max_keepalive_connections=16, keepalive_expiry=4.0
            ),
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
        resource: str | None = "servers",
        retry: bool = True,
        **kwargs: Any,
    ) -> httpx.Response:
        """Send one request; transport failures become ``PROVIDER_UNAVAILABLE``.

        A read (``write=False``) is served from the cache for the TTL of its ``resource``
        kind (``servers``, ``billing``, ``support``, ``traffic``, ``catalog``; see
        ``providers.cache.DEFAULT_TTLS``) and shares an identical read in flight;
        ``resource=None`` is never cached nor shared: health pings, logins, and reads that
        must see the upstream as it is now. Reads are retried per the instance's policy
        (``retry=False`` for adapters that apply an upstream-specific retry rule themselves).
        A write is sent exactly once; a successful one clears this instance's cache.
        """
        request = self._client.build_request(method, url, **kwargs)
        observer = upstream_observer.get()
        if write:
            response = await self._transmit(request, write=True, retry=False)
            # Remembered so that an unreadable answer to a write is reported as such.
            response.extensions = {**response.extensions, _WRITE: True}
            if response.status_code < 400:
                self.cache.clear()
                if observer is not None:
                    observer.cache_evicted(self.provider_id)
            return response
        if self.cache.ttl(resource) <= 0:
            return await self._transmit(request, write=False, retry=retry)
        fetched = False

        def fetch() -> Awaitable[httpx.Response]:
            nonlocal fetched
            fetched = True
            return self._transmit(request, write=False, retry=retry)

        response = await self.cache.read(request_key(request), resource, fetch)
        if observer is not None:
            observer.cache_read(self.provider_id, hit=not fetched)
        return response

    async def _transmit(
        self, request: httpx.Request, *, write: bool, retry: bool
    ) -> httpx.Response:
        attempt = 0
        while True:
            failure, response = await self._attempt(request, write=write, retried=attempt > 0)
            retryable = failure is not None or response.status_code in RETRYABLE_STATUS
            retries_left = retry and attempt < self.guard.policy.retries
            if retryable and retries_left and self.guard.may_retry():
                retry_after = response.headers.get("retry-after") if response else None
                pause = self.guard.delay(attempt + 1, retry_after)
                remaining = _remaining()
                if remaining is None or pause < remaining:
                    attempt += 1
                    await asyncio.sleep(pause)
                    continue
            if failure is not None:
                raise failure
            return response

    async def _attempt(
        self, request: httpx.Request, *, write: bool, retried: bool
    ) -> tuple[ProviderUnavailable | None, httpx.Response | None]:
        """One upstream exchange through the breaker and the outbound limits.

        The admission is released however the exchange ends (``Admission``): a deadline or a
        cancellation, while queued for a slot or in flight, leaves no probe waiting forever.
        """
        admission = self.guard.admit()
        if admission is None:
            failure = ProviderUnavailable(
                f"Provider {self.provider_id!r} is failing; calls are paused for a few seconds.",
                provider=self.provider_id,
                circuit=OPEN,
            )
            return failure, None
        call = UpstreamCall(
            self.provider_id, request.method, endpoint_template(request.url.path), retried
        )
        with admission:
            try:
                async with asyncio.timeout(_remaining()):
                    slot = await self.guard.slot(retry=retried)
            except TimeoutError:
                return self._past_deadline(outcome=None), None  # still queued: nothing was sent
            async with slot:
                with self._observed(call):
                    try:
                        async with asyncio.timeout(_remaining()):
                            response = await self._client.send(request)
                    except TimeoutError:
                        call.status = "deadline"
                        return self._past_deadline(outcome="unknown" if write else None), None
                    except asyncio.CancelledError:
                        call.status = "cancelled"
                        raise
                    except httpx.ConnectError as exc:
                        # Nothing reached the upstream: a plain failure, even for writes.
                        admission.failed()
                        call.status = "connect_error"
                        return self._unavailable("could not connect", exc), None
                    except httpx.TimeoutException as exc:
                        admission.failed()
                        call.status = "timeout"
                        connect = isinstance(exc, httpx.ConnectTimeout)
                        outcome = "unknown" if write and not connect else None
                        return self._unavailable("timed out", exc, outcome=outcome), None
                    except httpx.HTTPError as exc:
                        admission.failed()
                        outcome = "unknown" if write else None
                        return self._unavailable("failed", exc, outcome=outcome), None
                    call.status = str(response.status_code)
            status = response.status_code
            # A probe is judged on its body as well: a 200 with garbage must reopen the
            # circuit, not close it (other calls' bodies are judged by decode_json). A 429 gives
            # no verdict: the upstream is up but asks us to wait.
            if status >= 500 or admission.probe and not _readable(response):
                admission.failed()
            elif status != 429:
                admission.succeeded()
        return None, response

    def _past_deadline(self, *, outcome: str | None) -> ProviderUnavailable:
        return ProviderUnavailable.failed(
            self.provider_id,
            "did not answer before the request's deadline",
            outcome_unknown=outcome == "unknown",
        )

    @staticmethod
    def _observed(call: UpstreamCall) -> AbstractContextManager[object]:
        observer = upstream_observer.get()
        return nullcontext() if observer is None else observer.upstream_call(call)

    def decode_json(
        self, response: httpx.Response, compact: Callable[[Any], Any] | None = None
    ) -> Any:
        """The JSON body, or ``PROVIDER_UNAVAILABLE`` when it is not JSON.

        Garbage counts against the breaker like an error status (``UpstreamGuard.unreadable``;
        a half-open probe's body was judged before its verdict, so a garbage probe has
        already reopened the circuit), is
        never served again from the cache, and after a write it means the change may have been
        applied.

        The body is decoded once per response: a cached response hands every reader the same
        objects, so callers must treat them as read-only (copy before changing). For large
        bodies of which a caller reads little (traffic samples), ``compact`` (a module-level
        function that never raises) trims the decoded body once, and the trimmed body is what
        the cache keeps and every reader passing the same ``compact`` gets.
        """
        key = _DECODED if compact is None else (_DECODED, compact)
        decoded = response.extensions.get(key, _NOT_DECODED)
        if decoded is not _NOT_DECODED:
            return decoded
        try:
            decoded = orjson.loads(response.content)
        except orjson.JSONDecodeError as exc:
            self.guard.unreadable()
            self.cache.clear()
            written = response.extensions.get(_WRITE, False)
            outcome = "unknown" if written else None
            raise self._unavailable(
                "answered with a malformed body", exc, outcome=outcome
            ) from None
        self.guard.readable()
        if compact is not None:
            decoded = compact(decoded)
        response.extensions[key] = decoded
        return decoded

    def _unavailable(
        self, what: str, exc: Exception, *, outcome: str | None = None
    ) -> ProviderUnavailable:
        # Log the exception type only: httpx messages can carry URLs with credentials.
        log.warning("upstream %s %s (%s)", self.provider_id, what, type(exc).__name__)
        message = f"Provider {self.provider_id!r} {what}."
        if outcome == "unknown":
            message += " The change may or may not have been applied; check before repeating it."
        return ProviderUnavailable(message, provider=self.provider_id, outcome=outcome)
