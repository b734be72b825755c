"""Optional OpenTelemetry tracing: a span per GraphQL request, loader batch and upstream call.

Off unless ``[observability] otlp_endpoint`` is set. Off, ``NO_TRACING`` hands out one
shared do-nothing span and OpenTelemetry is never imported. On, the SDK and the OTLP/HTTP
exporter are imported then (the ``fleetql[tracing]`` extra); when they are missing,
start-up fails with a ``ConfigError`` saying what to install. The SDK's own environment
variables (``OTEL_TRACES_SAMPLER``, ``OTEL_RESOURCE_ATTRIBUTES``, …) apply.

Example:
    tracing = tracing_from_settings(settings)
    with tracing.span("graphql", {"graphql.operation.name": "account"}) as span:
        span.set_attribute("http.response.status_code", 200)
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any

from gateway.settings import ConfigError, Settings

__all__ = ["NO_TRACING", "OpenTelemetryTracing", "Tracing", "tracing_from_settings"]

Attributes = Mapping[str, str | int | float | bool]


class _NoSpan:
    """Stands in for a span when tracing is off: every method does nothing."""

    def set_attribute(self, key: str, value: Any) -> None:
        """Ignore the attribute."""

    def update_name(self, name: str) -> None:
        """Ignore the name."""


class Tracing:
    """Tracing switched off: spans cost one shared no-op object."""

    _span = _NoSpan()

    def span(
        self,
        name: str,
        attributes: Attributes,
        *,
        client: bool = False,
        carrier: Mapping[str, str] | None = None,
    ) -> AbstractContextManager[Any]:
        """A span named ``name``; ``client`` for outgoing calls, ``carrier`` for incoming ones."""
        return nullcontext(self._span)

    def shutdown(self) -> None:
        """Flush and stop exporting (nothing to do when off)."""


NO_TRACING = Tracing()


class OpenTelemetryTracing(Tracing):
    """Spans exported by an OpenTelemetry SDK ``TracerProvider`` (one per gateway)."""

    def __init__(self, provider: Any) -> None:
        from opentelemetry.trace import SpanKind
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

        self._provider = provider
        self._tracer = provider.get_tracer("fleetql")
        self._kinds = {True: SpanKind.CLIENT, False: SpanKind.INTERNAL}
        self._server_kind = SpanKind.SERVER
        self._propagator = TraceContextTextMapPropagator()

    @contextmanager
    def span(
        self,
        name: str,
        attributes: Attributes,
        *,
        client: bool = False,
        carrier: Mapping[str, str] | None = None,
    ) -> Iterator[Any]:
        """A span; with ``carrier`` (incoming headers) it continues the caller's trace."""
        if carrier is not None:
            context = self._propagator.extract(carrier=dict(carrier))
            kind = self._server_kind
        else:
            context, kind = None, self._kinds[client]
        with self._tracer.start_as_current_span(
            name, context=context, kind=kind, attributes=dict(attributes)
        ) as span:
            yield span

    def shutdown(self) -> None:
        """Export what is buffered and stop."""
        self._provider.shutdown()


def tracing_from_settings(settings: Settings) -> Tracing:
    """``NO_TRACING`` unless an OTLP endpoint is configured; then an exporting tracer."""
    observability = settings.observability
    if observability.otlp_endpoint is None:
        return NO_TRACING
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError:
        raise ConfigError(
            f"{settings.source}: observability.otlp_endpoint: tracing needs the OpenTelemetry "
            "packages; install them with: pip install 'fleetql[tracing]'"
        ) from None
    resource = Resource.create({"service.name": observability.service_name})
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(
        BatchSpanProcessor(OTLPSpanExporter(endpoint=observability.otlp_endpoint))
    )
    return OpenTelemetryTracing(provider)
