"""Prometheus metrics of one gateway, served at ``/metrics``.

Each gateway owns its registry (tests start many gateways in one process). Every label
value is bounded: operation names are capped per process, upstream endpoints are templates
(``/servers/{id}``) capped per provider, and the rest come from closed sets (outcomes,
error codes, provider ids, HTTP statuses).

Example:
    metrics = GatewayMetrics(providers)
    metrics.graphql_requests.labels(operation="account", outcome="ok").inc()
    body = metrics.exposition()
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from providers.cluster import SharedStore
from providers.registry import ProviderSet
from providers.resilience import CLOSED, HALF_OPEN, OPEN

__all__ = ["CONTENT_TYPE_LATEST", "BoundedLabel", "GatewayMetrics"]

OTHER = "other"
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
BATCH_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500)


class BoundedLabel:
    """Passes the first ``limit`` distinct values through, then answers ``other``."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._seen: set[str] = set()

    def __call__(self, value: str) -> str:
        """``value`` if it is one of the first ``limit`` distinct values seen, else ``other``."""
        if value in self._seen:
            return value
        if len(self._seen) >= self.limit:
            return OTHER
        self._seen.add(value)
        return value


class GatewayMetrics:
    """Every FleetQL series, in a registry of this gateway's own."""

    def __init__(
        self,
        providers: ProviderSet,
        *,
        max_operations: int = 100,
        cluster: SharedStore | None = None,
    ) -> None:
        self.registry = CollectorRegistry()
        self.operation_label = BoundedLabel(max_operations)
        self._endpoint_labels = {provider.id: BoundedLabel(64) for provider in providers.all}
        registry = self.registry
        self.graphql_requests = Counter(
            "fleetql_graphql_requests",
            "GraphQL requests by operation name and outcome (ok, partial, error).",
            ["operation", "outcome"],
            registry=registry,
        )
        self.graphql_latency = Histogram(
            "fleetql_graphql_request_duration_seconds",
            "Time to answer a GraphQL request.",
            ["operation"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.graphql_errors = Counter(
            "fleetql_graphql_errors",
            "Errors returned to clients, by extensions.code.",
            ["code"],
            registry=registry,
        )
        self.in_flight = Gauge(
            "fleetql_graphql_requests_in_flight",
            "GraphQL requests being answered now.",
            registry=registry,
        )
        self.upstream_requests = Counter(
            "fleetql_upstream_requests",
            "Upstream HTTP exchanges by provider, endpoint template and status.",
            ["provider", "method", "endpoint", "status"],
            registry=registry,
        )
        self.upstream_latency = Histogram(
            "fleetql_upstream_request_duration_seconds",
            "Time of one upstream HTTP exchange (queueing for a slot excluded).",
            ["provider", "method", "endpoint"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.cache_hits = Counter(
            "fleetql_cache_hits",
            "Upstream reads answered by the cache or by an identical read in flight.",
            ["provider"],
            registry=registry,
        )
        self.cache_misses = Counter(
            "fleetql_cache_misses",
            "Cacheable upstream reads that went upstream.",
            ["provider"],
            registry=registry,
        )
        self.response_cache_hits = Counter(
            "fleetql_response_cache_hits",
            "GraphQL requests answered from the whole-response cache, without running.",
            registry=registry,
        )
        self.persisted_queries = Counter(
            "fleetql_persisted_queries",
            "Documents named by their hash alone and found, by where (manifest, registered), "
            "and documents registered by automatic persisted queries (registration).",
            ["outcome"],
            registry=registry,
        )
        self.cache_evictions = Counter(
            "fleetql_cache_evictions",
            "Successful writes that emptied a provider's cache.",
            ["provider"],
            registry=registry,
        )
        self.loader_batch_size = Histogram(
            "fleetql_loader_batch_size",
            "Server names per batched lookup (servers_by_name), per provider.",
            ["provider"],
            buckets=BATCH_BUCKETS,
            registry=registry,
        )
        registry.register(_CircuitStates(providers))
        if cluster is not None:
            registry.register(_ClusterFallbacks(cluster))

    def endpoint_label(self, provider: str, endpoint: str) -> str:
        """The endpoint template, or ``other`` past the provider's cap."""
        bound = self._endpoint_labels.get(provider)
        return bound(endpoint) if bound is not None else OTHER

    def exposition(self) -> bytes:
        """The registry in Prometheus' text format (``CONTENT_TYPE_LATEST``)."""
        return generate_latest(self.registry)


class _CircuitStates:
    """``fleetql_circuit_state``: 1 for each provider's current breaker state, read at scrape."""

    def __init__(self, providers: ProviderSet) -> None:
        self._providers = providers

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(
            "fleetql_circuit_state",
            "Circuit-breaker state per provider: 1 for the current state (closed, open, "
            "half_open), 0 for the others.",
            labels=["provider", "state"],
        )
        for provider in self._providers.all:
            for state in (CLOSED, OPEN, HALF_OPEN):
                current = 1.0 if provider.guard.state == state else 0.0
                family.add_metric([provider.id, state.lower()], current)
        yield family


class _ClusterFallbacks:
    """``fleetql_cluster_fallbacks_total``: Redis operations that fell back to in-process
    state, per operation, read at scrape from the store's counts (they happen in requests,
    at start-up and in background work alike)."""

    def __init__(self, store: SharedStore) -> None:
        self._store = store

    def collect(self) -> Iterator[Metric]:
        family = CounterMetricFamily(
            "fleetql_cluster_fallbacks",
            "Shared-store (Redis) operations that failed or were skipped while degraded, so "
            "the replica used its in-process state instead, by operation.",
            labels=["operation"],
        )
        for operation, count in sorted(self._store.fallbacks.items()):
            family.add_metric([operation], count)
        yield family
