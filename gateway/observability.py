"""What the gateway reports about its work: metrics, JSON log lines and spans.

``Observability`` belongs to one gateway. It observes upstream calls made outside a GraphQL
request (readiness pings); ``graphql_request()`` opens a ``RequestObservation`` that also
counts the calls made for that request and, when it ends, writes the request's log line
and its metrics. Both are found by the upstream clients through
``providers.http.upstream_observer``. Every other HTTP request gets its line from
``gateway.middleware.RequestIdMiddleware`` (``log_http_request``); ``REQUEST_LINE`` tells
it when the GraphQL line was written, so that no request is logged twice.

Example:
    with gateway.observability.graphql_request(request_id, request.headers) as observation:
        observation.operation = "account"
        ...
        observation.responded(200, body)
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from gateway.metrics import GatewayMetrics
from gateway.tracing import Tracing
from providers.http import UpstreamCall, upstream_observer

__all__ = ["REQUEST_LINE", "Observability", "RequestLine", "RequestObservation", "log_http_request"]

request_log = logging.getLogger("fleetql.request")
http_log = logging.getLogger("fleetql.http")
upstream_log = logging.getLogger("fleetql.upstream")

#: Operation names are client-chosen: long ones are cut before they reach a label or a log.
MAX_OPERATION_NAME = 64
#: Paths are client-chosen too (an unknown one answers 404): a long one is cut in the log.
MAX_LOGGED_PATH = 200


class RequestLine:
    """Whether the HTTP request being served has had its log line."""

    __slots__ = ("written",)

    def __init__(self) -> None:
        self.written = False


#: The line of the HTTP request being served (set by ``RequestIdMiddleware``).
REQUEST_LINE: ContextVar[RequestLine | None] = ContextVar("fleetql_request_line", default=None)


def log_http_request(method: str, path: str, status: int, seconds: float) -> None:
    """The line of an HTTP request that is not a GraphQL request (health, metrics, GraphiQL, a
    404, a CORS preflight): debug when it succeeded, info for a 4xx, warning for a 5xx.

    The path is logged without its query string; headers and bodies never are.
    """
    level = logging.DEBUG if status < 400 else logging.INFO if status < 500 else logging.WARNING
    if http_log.isEnabledFor(level):
        fields = {
            "method": method,
            "path": path[:MAX_LOGGED_PATH],
            "status": status,
            "duration_ms": round(seconds * 1000, 1),
        }
        http_log.log(level, "http request", extra={"fields": fields})


class Observability:
    """The metrics and tracing of one gateway, and the observer of its upstream calls."""

    def __init__(self, metrics: GatewayMetrics, tracing: Tracing) -> None:
        self.metrics = metrics
        self.tracing = tracing

    @contextmanager
    def graphql_request(
        self, request_id: str, headers: Mapping[str, str], path: str = "/graphql"
    ) -> Iterator[RequestObservation]:
        """Observe one GraphQL request at ``path``: in-flight gauge, span, then metrics and a
        log line."""
        observation = RequestObservation(self, request_id, path)
        self.metrics.in_flight.inc()
        reset = upstream_observer.set(observation)
        try:
            with self.tracing.span("graphql", {"url.path": path}, carrier=headers) as span:
                observation.span = span
                try:
                    yield observation
                finally:
                    observation.finish()
        finally:
            upstream_observer.reset(reset)
            self.metrics.in_flight.dec()

    @contextmanager
    def upstream_call(self, call: UpstreamCall) -> Iterator[Any]:
        """Time one upstream exchange; record it when ``call.status`` is final."""
        attributes = {
            "fleetql.provider": call.provider,
            "http.request.method": call.method,
            "url.template": call.endpoint,
            "fleetql.retry": call.retry,
        }
        started = time.perf_counter()
        with self.tracing.span(f"{call.method} {call.endpoint}", attributes, client=True) as span:
            try:
                yield span
            finally:
                seconds = time.perf_counter() - started
                if call.status.isdigit():
                    span.set_attribute("http.response.status_code", int(call.status))
                else:
                    span.set_attribute("error.type", call.status)
                self._record_upstream(call, seconds)

    def cache_read(self, provider: str, hit: bool) -> None:
        """Count a cache hit or miss for ``provider``."""
        counter = self.metrics.cache_hits if hit else self.metrics.cache_misses
        counter.labels(provider=provider).inc()

    def cache_evicted(self, provider: str) -> None:
        """Count a write that emptied ``provider``'s cache."""
        self.metrics.cache_evictions.labels(provider=provider).inc()

    @contextmanager
    def loader_batch(self, provider: str, size: int) -> Iterator[Any]:
        """Observe one batched lookup of ``size`` server names at ``provider``."""
        self.metrics.loader_batch_size.labels(provider=provider).observe(size)
        attributes = {"fleetql.provider": provider, "fleetql.batch_size": size}
        with self.tracing.span("loader servers_by_name", attributes) as span:
            yield span

    def _record_upstream(self, call: UpstreamCall, seconds: float) -> None:
        endpoint = self.metrics.endpoint_label(call.provider, call.endpoint)
        labels = {"provider": call.provider, "method": call.method, "endpoint": endpoint}
        self.metrics.upstream_requests.labels(**labels, status=call.status).inc()
        self.metrics.upstream_latency.labels(**labels).observe(seconds)
        if upstream_log.isEnabledFor(logging.DEBUG):
            fields = {
                "provider": call.provider,
                "method": call.method,
                "endpoint": call.endpoint,
                "status": call.status,
                "retry": call.retry,
                "duration_ms": round(seconds * 1000, 1),
            }
            upstream_log.debug("upstream call", extra={"fields": fields})


class RequestObservation:
    """One GraphQL request as it is observed: what it asked, what it cost, how it ended."""

    def __init__(
        self, observability: Observability, request_id: str, path: str = "/graphql"
    ) -> None:
        self.request_id = request_id
        #: The GraphQL path served: ``/graphql``, or DataPacket's ``/v0/graphql``.
        self.path = path
        self.span: Any = None
        #: The operation name(s) of the parsed document; None until it is parsed.
        self.operation: str | None = None
        #: The client token's configured name (never the token).
        self.client: str | None = None
        self.upstream_calls = 0
        self.cache_hits = 0
        #: Answered from the whole-response cache (``gateway/response_cache.py``).
        self.response_cached = False
        self._observability = observability
        self._status = 200
        self._codes: list[str] = []
        self._has_data = False
        self._started = time.perf_counter()

    def upstream_call(self, call: UpstreamCall) -> Any:
        """Count the exchange for this request's log line, and observe it."""
        self.upstream_calls += 1
        return self._observability.upstream_call(call)

    def cache_read(self, provider: str, hit: bool) -> None:
        """Count a read served without an upstream call of its own."""
        if hit:
            self.cache_hits += 1
        self._observability.cache_read(provider, hit)

    def served_from_cache(self, operation: str) -> None:
        """The request was answered by the whole-response cache, for ``operation``."""
        self.operation = operation
        self.response_cached = True
        self._observability.metrics.response_cache_hits.inc()

    def cache_evicted(self, provider: str) -> None:
        """Observe an eviction."""
        self._observability.cache_evicted(provider)

    def persisted_query(self, outcome: str) -> None:
        """A document found by its hash (``manifest``, ``registered``) or registered
        (``registration``)."""
        self._observability.metrics.persisted_queries.labels(outcome=outcome).inc()

    def loader_batch(self, provider: str, size: int) -> Any:
        """Observe a loader batch (hand this to ``Loaders``)."""
        return self._observability.loader_batch(provider, size)

    def responded(self, status: int, body: Mapping[str, Any]) -> None:
        """Note the HTTP status and the body about to be sent."""
        self._status = status
        self._codes = [
            str(error.get("extensions", {}).get("code")) for error in body.get("errors", [])
        ]
        self._has_data = body.get("data") is not None

    @property
    def outcome(self) -> str:
        """``ok`` (no errors), ``partial`` (data and errors) or ``error`` (no data)."""
        if not self._codes and self._status < 400:
            return "ok"
        return "partial" if self._has_data else "error"

    def finish(self) -> None:
        """Record the request's metrics, span attributes and its one log line."""
        seconds = time.perf_counter() - self._started
        metrics = self._observability.metrics
        operation = (self.operation or "none")[:MAX_OPERATION_NAME]
        label = metrics.operation_label(operation)
        metrics.graphql_requests.labels(operation=label, outcome=self.outcome).inc()
        metrics.graphql_latency.labels(operation=label).observe(seconds)
        for code in self._codes:
            metrics.graphql_errors.labels(code=code).inc()
        self.span.update_name(f"graphql {operation}")
        self.span.set_attribute("graphql.operation.name", operation)
        self.span.set_attribute("http.response.status_code", self._status)
        self.span.set_attribute("fleetql.upstream_calls", self.upstream_calls)
        fields = {
            "request_id": self.request_id,
            "path": self.path,
            "operation": operation,
            "client": self.client,
            "status": self._status,
            "outcome": self.outcome,
            "duration_ms": round(seconds * 1000, 1),
            "upstream_calls": self.upstream_calls,
            "cache_hits": self.cache_hits,
            "response_cached": self.response_cached,
            "error_codes": self._codes,
        }
        request_log.info("graphql request", extra={"fields": fields})
        line = REQUEST_LINE.get()
        if line is not None:
            line.written = True
