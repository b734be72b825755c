"""The one upstream transport: a pooled HTTP client per provider instance, its one retry loop
and its one table turning an upstream answer into the errors of ``errors``.

Adapters call ``call`` (the decoded JSON body, or the error of ``status_error``) or ``send``
(the ``httpx.Response``, for the few answers an adapter must read itself) and get a
``GatewayError`` naming the provider for every failure. Each adapter declares only what is its
provider's own: auth headers, where its error body keeps the reason, and a retry predicate
where its API says "try again" in a way the general rule does not know.

Reads are retried (``_transmit``, the only retry loop of the providers) after a transport
failure, a 429, 502, 503 or 504, or an answer the adapter's predicate names, with backoff,
jitter and ``Retry-After``, within the retry budget and never past the request's deadline.
Writes are never retried; a write whose request may have reached the upstream before the
connection failed is reported with ``outcome="unknown"``.

Every exchange, cache read and eviction is reported to the ``upstream_observer`` of the
current request (metrics, logs and traces live in the gateway; none is set: nothing is
reported). Observers see an endpoint template, never a URL: ids, query strings and bodies
stay out of labels and log lines.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
import ssl
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AbstractContextManager, nullcontext
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import httpx
import orjson

from errors import (
    GatewayError,
    NotAuthorized,
    NotFound,
    ProviderUnavailable,
    quoted,
    refused_as_invalid,
    upstream_reason,
)
from providers.cache import FRESH_UNTIL, ReadCache, SharedReads, read_record, request_key
from providers.cluster import SharedStore
from providers.pool import AiohttpTransport
from providers.resilience import OPEN, RETRYABLE_STATUS, UpstreamGuard

if TYPE_CHECKING:
    from providers.base import ProviderConfig

__all__ = [
    "INVALID_STATUS",
    "UpstreamCall",
    "UpstreamClient",
    "UpstreamObserver",
    "endpoint_template",
    "refused",
    "status_error",
]

log = logging.getLogger("fleetql.upstream")
_WRITE = "fleetql.write"
#: A response's decoded body, kept on it so that cache hits are not decoded again.
_DECODED = "fleetql.decoded"
_NOT_DECODED = object()
#: Set once a response's raw bytes are dropped, its decoded body being what readers get.
_BODY_RELEASED = "fleetql.body_released"

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


#: A call given less time than this before the request's deadline is not sent: no upstream
#: answers that fast, and the call would only add to its load (a call queued for a slot
#: behind one the deadline cut short gets the slot with about that much left).
MIN_CALL_SECONDS = 0.01

#: Statuses by which an upstream refuses a request as invalid (``refused_as_invalid``).
INVALID_STATUS = frozenset({400, 409, 412, 422})


def refused(provider: str, detail: str = "") -> NotAuthorized:
    """``NOT_AUTHORIZED``: the upstream refused the configured credentials (``detail`` says
    more, e.g. ``" for this operation"``)."""
    return NotAuthorized(
        f"Provider {quoted(provider)} refused the configured credentials{detail}.",
        provider=provider,
    )


def status_error(
    provider: str,
    response: httpx.Response,
    *,
    write: bool,
    names: str | None = None,
    field: str | None = None,
    reason_paths: tuple[str, ...] = (),
) -> GatewayError:
    """The error an upstream answer of 300 or more means: the one table of every adapter.

    * 401, 403: ``NOT_AUTHORIZED``, the configured credentials were refused;
    * 404: ``NOT_FOUND`` for ``names`` ('Server "X"') when the path names a resource, else
      ``PROVIDER_UNAVAILABLE`` (a wrong ``base_url`` or configured id, not the client's fault);
    * 400, 409, 412, 422: ``refused_as_invalid``, with the reason found at ``reason_paths`` of
      the body and the input ``field`` it concerns;
    * 429, 5xx and any other status: ``PROVIDER_UNAVAILABLE``, with ``outcome: "unknown"`` for
      a write answered 5xx (it may have been applied before the upstream failed).
    """
    status = response.status_code
    if status in (401, 403):
        return refused(provider)
    if status == 404:
        if names is not None:
            return NotFound(f"{names} was not found.", provider=provider)
        return ProviderUnavailable.failed(
            provider, "answered HTTP 404 for a path that names no resource (check base_url)"
        )
    if status in INVALID_STATUS:
        reason = upstream_reason(response.content, *reason_paths)
        return refused_as_invalid(provider, write=write, status=status, reason=reason, field=field)
    return ProviderUnavailable.failed(
        provider, f"answered HTTP {status}", outcome_unknown=write and status >= 500
    )


@functools.cache
def _verified_tls() -> ssl.SSLContext:
    """The TLS context of every https upstream, built once per process (httpx would build one
    per client, loading the CA bundle each time)."""
    return httpx.create_ssl_context()


@functools.cache
def _no_tls() -> ssl.SSLContext:
    """The context httpx requires of an http:// client: no CA bundle is loaded, and it is never
    used (redirects are not followed, so such a client never speaks TLS)."""
    return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)


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


#: Parsed upstream URLs kept (``parsed_url``): the fan-out's per-server paths, many times over.
URLS_KEPT = 4096


@functools.lru_cache(maxsize=URLS_KEPT)
def parsed_url(url: str, params: tuple[tuple[str, Any], ...] | None) -> httpx.URL:
    """``url`` parsed, its query replaced by ``params`` when given, as ``httpx.Request`` does.

    httpx parses every URL it is given, and again when it merges parameters: in the fan-out
    benchmark (S2, 52 calls per request) that was 4 % of the gateway's CPU, for URLs that
    repeat from one request to the next. ``httpx.URL`` is immutable, so one can serve many
    requests.
    """
    if params is None:
        return httpx.URL(url)
    return httpx.URL(url, params={k: list(v) if isinstance(v, tuple) else v for k, v in params})


def _hashable(params: Mapping[str, Any] | None) -> tuple[tuple[str, Any], ...] | None:
    """``params`` as a cache key of ``parsed_url``: its items, a list value as a tuple."""
    if params is None:
        return None
    return tuple((k, tuple(v) if isinstance(v, list) else v) for k, v in params.items())


class UpstreamClient:
    """A keep-alive ``httpx.AsyncClient`` bound to one provider instance.

    ``reason_paths`` say where the provider's error bodies keep their reason
    (``upstream_reason``); ``invalid_field`` names the input field a refusal as invalid is
    about, from the answer; ``retry_when`` says whether an answer the general rule does not
    retry means "try again" (dashserv's ``ratelimit_exceeded`` code), for reads only.
    """

    def __init__(
        self,
        config: ProviderConfig,
        *,
        guard: UpstreamGuard,
        headers: dict[str, str] | None = None,
        reason_paths: tuple[str, ...] = (),
        invalid_field: Callable[[httpx.Response], str | None] | None = None,
        retry_when: Callable[[httpx.Response], bool] | None = None,
    ) -> None:
        self.provider_id = config.id
        self.cache = ReadCache(config.cache_ttls)
        self.guard = guard
        self._reason_paths = reason_paths
        self._invalid_field = invalid_field
        self._retry_when = retry_when
        # One pooled connection per call the guard lets be in flight: a smaller pool would
        # open and drop connections for the calls above it.
        verify = _verified_tls() if config.base_url.startswith("https:") else _no_tls()
        self._transport = AiohttpTransport(guard.policy.max_concurrency, verify=verify)
        # The client holds what requests are built with (its base URL, default headers and
        # timeouts: ``build_request``); they are sent straight to the transport (``_exchange``).
        self._client = httpx.AsyncClient(
            base_url=config.base_url,
            headers=headers or {},
            timeout=httpx.Timeout(config.read_timeout, connect=config.connect_timeout),
            transport=self._transport,
            follow_redirects=False,
        )
        self._base_url = str(self._client.base_url).rstrip("/") + "/"
        self._timeout = self._client.timeout.as_dict()

    async def close(self) -> None:
        """Close pooled connections."""
        await self._client.aclose()

    def share(self, store: SharedStore) -> None:
        """Share this instance's read cache with the other replicas through ``store``."""
        self.cache.share(SharedReads(store, self.provider_id), shareable=_readable)

    async def call(
        self,
        method: str,
        url: str,
        *,
        write: bool = False,
        resource: str | None = "servers",
        names: str | None = None,
        field: str | None = None,
        compact: Callable[[Any], Any] | None = None,
        **kwargs: Any,
    ) -> Any:
        """The decoded JSON body of a 2xx answer (``None`` when empty), or the error
        ``status_error`` gives for any other; ``names`` is what a 404 means ('Server "X"',
        ``None``: the path names no resource), ``field`` the input field a refusal is about,
        ``compact`` as for ``decode_json``; the rest as for ``send``."""
        response = await self.send(method, url, write=write, resource=resource, **kwargs)
        if not response.is_success:
            raise self.error(response, write=write, names=names, field=field)
        if not response.content and _BODY_RELEASED not in response.extensions:
            return None
        return self.decode_json(response, compact)

    def error(
        self,
        response: httpx.Response,
        *,
        write: bool,
        names: str | None = None,
        field: str | None = None,
    ) -> GatewayError:
        """``status_error`` for this provider's answer, with its reason paths and fields."""
        if field is None and self._invalid_field is not None:
            field = self._invalid_field(response)
        return status_error(
            self.provider_id,
            response,
            write=write,
            names=names,
            field=field,
            reason_paths=self._reason_paths,
        )

    async def send(
        self,
        method: str,
        url: str,
        *,
        write: bool,
        resource: str | None = "servers",
        retry: bool | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        """Send one request; transport failures become ``PROVIDER_UNAVAILABLE``.

        A read (``write=False``) is served from the cache for the TTL of its ``resource``
        kind (``servers``, ``billing``, ``support``, ``traffic``, ``catalog``; see
        ``providers.cache.DEFAULT_TTLS``) and shares an identical read in flight;
        ``resource=None`` is never cached nor shared: health pings, logins, and reads that
        must see the upstream as it is now. Reads are retried per the instance's policy.
        A write is sent exactly once, unless the caller decides otherwise with ``retry=True``
        (a request that creates nothing, such as a login); a successful write clears this
        instance's cache.
        """
        retry = not write if retry is None else retry
        request = self.build_request(method, url, **kwargs)
        observer = upstream_observer.get()
        record = read_record.get()
        if write:
            if record is not None:
                record.storable = False
            response = await self._transmit(request, write=True, retry=retry)
            # Remembered so that an unreadable answer to a write is reported as such.
            response.extensions = {**response.extensions, _WRITE: True}
            if response.status_code < 400:
                await self.cache.invalidate()
                if observer is not None:
                    observer.cache_evicted(self.provider_id)
            return response
        if self.cache.ttl(resource) <= 0:
            if record is not None:
                record.storable = False
            return await self._transmit(request, write=False, retry=retry)
        fetched = False

        def fetch() -> Awaitable[httpx.Response]:
            nonlocal fetched
            fetched = True
            return self._transmit(request, write=False, retry=retry)

        response, generation = await self.cache.read(request_key(request), resource, fetch)
        if observer is not None:
            observer.cache_read(self.provider_id, hit=not fetched)
        if record is not None:
            record.read(self.provider_id, generation, response.extensions.get(FRESH_UNTIL))
        return response

    async def _transmit(
        self, request: httpx.Request, *, write: bool, retry: bool
    ) -> httpx.Response:
        attempt = 0
        while True:
            failure, response = await self._attempt(request, write=write, retried=attempt > 0)
            retries_left = retry and attempt < self.guard.policy.retries
            # Once the circuit has opened, a further attempt would only be refused.
            if (
                retries_left
                and self.guard.state != OPEN
                and self._retryable(failure, response)
                and self.guard.may_retry()
            ):
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

    def _retryable(
        self, failure: ProviderUnavailable | None, response: httpx.Response | None
    ) -> bool:
        if failure is not None or response is None:
            return True
        if response.status_code in RETRYABLE_STATUS:
            return True
        return self._retry_when is not None and self._retry_when(response)

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
                f"Provider {quoted(self.provider_id)} is failing; calls are paused for a few "
                "seconds.",
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
                left = _remaining()
                if left is not None and left < MIN_CALL_SECONDS:
                    return self._past_deadline(outcome=None), None  # not sent: it cannot finish
                with self._observed(call):
                    try:
                        async with asyncio.timeout(_remaining()):
                            response = await self._exchange(request)
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

    def build_request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        json: Any = None,
        content: bytes | None = None,
    ) -> httpx.Request:
        """The request ``AsyncClient.build_request`` would build (``url`` relative to the base
        URL, or absolute), parsing the URL once where it parses it three times: a fifth of
        each upstream call's CPU in the fan-out benchmark. The parsed URL (with ``params``) is
        kept for the next request to the same URL (``parsed_url``)."""
        if "://" not in url:
            url = self._base_url + url.lstrip("/")
        merged = self._client.headers
        if headers:
            merged = merged.copy()
            merged.update(headers)
        target: httpx.URL | str
        try:
            target, params = parsed_url(url, _hashable(params)), None
        except TypeError:  # a parameter value that cannot be a key: parse it this once
            target = url
        return httpx.Request(
            method,
            target,
            params=params,
            headers=merged,
            json=json,
            content=content,
            extensions={"timeout": self._timeout},
        )

    async def _exchange(self, request: httpx.Request) -> httpx.Response:
        """One request and its whole answer, through the transport alone.

        Not ``AsyncClient.send``: redirects are never followed, there is no client auth, and
        its cookie jar would keep an upstream's cookies and send them again (the adapters set
        the credentials they mean to send); its machinery cost a fifth of each call's CPU.
        """
        return await self._transport.handle_async_request(request)

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
        the cache keeps and every reader passing the same ``compact`` gets. Once decoded, the
        raw bytes are dropped (a cached list would otherwise be held twice, as bytes and as
        objects), so every reader of one response must pass the same ``compact``.
        """
        key = _DECODED if compact is None else (_DECODED, compact)
        decoded = response.extensions.get(key, _NOT_DECODED)
        if decoded is not _NOT_DECODED:
            return decoded
        if _BODY_RELEASED in response.extensions:
            raise RuntimeError("a response decoded one way is read another way")
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
        response.extensions[_BODY_RELEASED] = True
        # httpx keeps the body in ``_content`` and in the stream it was read from (httpx is
        # pinned exactly).
        response._content = b""
        response.stream = httpx.ByteStream(b"")
        return decoded

    def _unavailable(
        self, what: str, exc: Exception, *, outcome: str | None = None
    ) -> ProviderUnavailable:
        # Log the exception type only: httpx messages can carry URLs with credentials.
        log.warning("upstream %s %s (%s)", self.provider_id, what, type(exc).__name__)
        message = f"Provider {quoted(self.provider_id)} {what}."
        if outcome == "unknown":
            message += " The change may or may not have been applied; check before repeating it."
        return ProviderUnavailable(message, provider=self.provider_id, outcome=outcome)
