"""The application factory: settings in, a FastAPI app with every route and provider wired."""

from __future__ import annotations

import gc
import hashlib
import hmac
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from fastapi import Depends, FastAPI, Request
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse, Response
from starlette.routing import WebSocketRoute

from errors.wording import NOT_AUTHORIZED
from gateway.auth import TokenStore
from gateway.graphiql import DATAPACKET_PAGE, STATIC_PATH, GraphiQLRoute, graphiql_static
from gateway.graphql_http import GraphQLService, graphql_endpoint
from gateway.idempotency import (
    IdempotencyStore,
    LocalIdempotencyStore,
    SharedIdempotencyStore,
)
from gateway.metrics import CONTENT_TYPE_LATEST, GatewayMetrics
from gateway.middleware import (
    JsonCorsMiddleware,
    RequestIdMiddleware,
    http_error,
    unexpected_error,
)
from gateway.observability import Observability
from gateway.persisted import (
    LocalDocuments,
    PersistedQueries,
    PersistedSettings,
    SharedDocuments,
)
from gateway.ratelimit import TokenRateLimiter
from gateway.response_cache import ResponseCache, SharedResponses
from gateway.settings import Settings
from gateway.subscriptions import SubscriptionEndpoint
from gateway.tracing import Tracing, tracing_from_settings
from providers.cache import current_generations
from providers.cluster import SharedStore
from providers.health import ProviderHealth
from providers.registry import ProviderSet, create_provider
from resolvers.live import StatusFeed
from resolvers.live_shared import SharedPolling
from schema import FleetSchema, fleet_schema
from schema.datapacket import datapacket_schema

__all__ = ["Gateway", "create_app", "operator_guard", "tune_garbage_collector"]


@dataclass
class Gateway:
    """What every request handler needs, built once per process."""

    settings: Settings
    providers: ProviderSet
    tokens: TokenStore
    health: ProviderHealth
    rate_limiter: TokenRateLimiter
    schema: FleetSchema
    observability: Observability
    #: Whole query responses (``gateway/response_cache.py``); ``None``: off.
    responses: ResponseCache | None = None
    #: First responses of mutations sent with an ``Idempotency-Key`` (``gateway/idempotency.py``).
    idempotency: IdempotencyStore = field(default_factory=LocalIdempotencyStore)
    #: The Redis several replicas share (``[cluster]``); ``None``: all state in process.
    cluster: SharedStore | None = None
    #: Documents sent by hash: the manifest's and registered ones (``gateway/persisted.py``).
    persisted: PersistedQueries = field(
        default_factory=lambda: PersistedQueries(PersistedSettings(), LocalDocuments())
    )
    #: The provider pollers behind ``serverStatusChanged`` (``resolvers/live.py``).
    status_feed: StatusFeed = field(default_factory=lambda: StatusFeed(5.0, 1.0))


def create_app(
    settings: Settings,
    *,
    demo_token: str | None = None,
    tracing: Tracing | None = None,
    health: ProviderHealth | None = None,
    tune_gc: bool = False,
) -> FastAPI:
    """Build the ASGI app; provider connections open and close with its lifespan.

    ``tune_gc``: the app owns its process (``fleetql serve``, a uvicorn worker), so once
    started it tunes the process's garbage collector (``tune_garbage_collector``).

    ``tracing`` replaces the one the settings describe (tests pass an in-memory exporter);
    a configured tracing whose packages are missing raises ``ConfigError``. ``health``
    replaces the default reachability monitor (10 s memo, 5 s per ping), e.g. one that pings
    on every check.
    """
    providers = ProviderSet(create_provider(config) for config in settings.providers)
    cluster = SharedStore(settings.cluster) if settings.cluster is not None else None
    if cluster is not None:
        providers.share(cluster)

    async def generations_of(ids: Sequence[str]) -> list[Hashable]:
        return await current_generations([providers.by_id[id].http.cache for id in ids])

    gateway = Gateway(
        settings=settings,
        providers=providers,
        tokens=TokenStore(settings.tokens),
        health=health or ProviderHealth(),
        rate_limiter=TokenRateLimiter(
            settings.queries_per_minute, settings.mutations_per_minute, shared=cluster
        ),
        schema=fleet_schema(),
        observability=Observability(
            GatewayMetrics(providers, cluster=cluster), tracing or tracing_from_settings(settings)
        ),
        responses=(
            ResponseCache(
                generations_of, shared=SharedResponses(cluster) if cluster is not None else None
            )
            if settings.response_cache
            else None
        ),
        cluster=cluster,
        idempotency=(
            SharedIdempotencyStore(cluster) if cluster is not None else LocalIdempotencyStore()
        ),
        persisted=PersistedQueries(
            settings.persisted,
            SharedDocuments(cluster, settings.persisted.ttl)
            if cluster is not None
            else LocalDocuments(settings.persisted.ttl),
        ),
        status_feed=StatusFeed(
            settings.poll_seconds,
            settings.action_poll_seconds,
            settings.request_deadline,
            shared=SharedPolling(
                cluster,
                settings.poll_seconds,
                settings.action_poll_seconds,
                settings.request_deadline,
            )
            if cluster is not None
            else None,
        ),
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if cluster is not None:
            await cluster.start()  # an unreachable Redis degrades it; start-up goes on
        await gateway.providers.start()
        if tune_gc:
            tune_garbage_collector()
        try:
            yield
        finally:
            # uvicorn runs this once in-flight requests finished or its deadline passed.
            await gateway.status_feed.close()
            await gateway.providers.close()
            if cluster is not None:
                await cluster.close()
            gateway.observability.tracing.shutdown()

    app = FastAPI(
        title="FleetQL", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan
    )
    app.state.gateway = gateway
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(Exception, unexpected_error)
    if settings.cors_origins or settings.cors_origin_regex:
        app.add_middleware(
            JsonCorsMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_origin_regex=settings.cors_origin_regex,
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type", "X-Request-ID", "Idempotency-Key"],
            expose_headers=["X-Request-ID", "Idempotent-Replayed"],
        )
    # Outermost: preflight and CORS refusals get a request id as well.
    app.add_middleware(RequestIdMiddleware, observer=gateway.observability)
    if settings.graphiql:
        # Before the endpoint's route: a browser's GET /graphql matches this one.
        app.router.routes.append(GraphiQLRoute("/graphql", demo_token, settings.graphiql_cdn))
        app.add_api_route(
            f"{STATIC_PATH}/{{name}}", graphiql_static, methods=["GET"], include_in_schema=False
        )
    app.add_api_route(
        "/graphql",
        graphql_endpoint(GraphQLService("/graphql", gateway.schema)),
        methods=["GET", "POST"],
        include_in_schema=False,
    )
    if settings.datapacket_endpoint:
        # DataPacket's own path and schema, over its providers only: a DataPacket client
        # changes nothing but its base URL.
        if settings.graphiql:
            app.router.routes.append(
                GraphiQLRoute("/v0/graphql", demo_token, settings.graphiql_cdn, DATAPACKET_PAGE)
            )
        datapacket = GraphQLService(
            "/v0/graphql", datapacket_schema(), settings.datapacket_provider_ids()
        )
        app.add_api_route(
            "/v0/graphql",
            graphql_endpoint(datapacket),
            methods=["GET", "POST"],
            include_in_schema=False,
        )
    app.router.routes.append(WebSocketRoute("/graphql", SubscriptionEndpoint(gateway)))

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> JSONResponse:
        return JSONResponse({"status": "ok"})

    operators_only = [Depends(operator_guard(settings.ops_token))]

    @app.get("/readyz", include_in_schema=False, dependencies=operators_only)
    async def readyz() -> JSONResponse:
        """``up`` (every provider answers), ``degraded`` (some do, or the shared Redis does
        not) or ``down`` (no provider does: 503); ``cluster`` only when Redis is configured."""
        reachable = await gateway.health.check(gateway.providers)
        answering = sum(reachable.values())
        status = "up" if answering == len(reachable) else "degraded" if answering else "down"
        circuits = {provider.id: provider.guard.state for provider in gateway.providers.all}
        body: dict[str, object] = {"status": status, "providers": reachable, "circuits": circuits}
        if cluster is not None:
            body["cluster"] = cluster.readiness()
            if status == "up" and cluster.degraded_reason is not None:
                body["status"] = "degraded"
        return JSONResponse(body, status_code=503 if status == "down" else 200)

    if settings.observability.metrics:

        @app.get("/metrics", include_in_schema=False, dependencies=operators_only)
        async def metrics() -> Response:
            """Prometheus exposition of this gateway's series."""
            body = gateway.observability.metrics.exposition()
            return Response(body, media_type=CONTENT_TYPE_LATEST)

    return app


def tune_garbage_collector() -> None:
    """Freeze what start-up allocated, so that the collector stops walking it.

    Every older-generation collection walks every tracked object, the schema, modules and
    settings that start-up built included. Measured on ``bench.anchors`` S1 in process
    (a 264 kB device list per request, cache off), gateway CPU per request 8.1 -> 7.3 ms,
    peak RSS unchanged (96 -> 97 MB). Raising the young generation's threshold as well
    (700 -> 10,000) took CPU to 6.3 ms but let the cyclic garbage of requests pile up:
    peak RSS 124 MB there, and 120 -> 367 MB per worker in ``bench.run``'s cache-off Q1.
    """
    gc.collect()
    gc.freeze()


def operator_guard(ops_token: str | None) -> Callable[[Request], Awaitable[None]]:
    """A route dependency: 401 ``NOT_AUTHORIZED`` unless the request bears ``ops_token``.

    ``None`` (no ``server.ops_token``) lets every request through. The comparison is of
    SHA-256 digests in constant time, so neither the token's content nor its length leaks.
    """
    expected = hashlib.sha256(ops_token.encode()).digest() if ops_token is not None else None

    async def require_ops_token(request: Request) -> None:
        if expected is None:
            return
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        presented = hashlib.sha256(token.strip().encode()).digest()
        if scheme.lower() != "bearer" or not hmac.compare_digest(presented, expected):
            raise HTTPException(
                401,
                f"{NOT_AUTHORIZED}. This endpoint needs the operator token: "
                'send "Authorization: Bearer <ops_token>".',
                headers={"WWW-Authenticate": "Bearer"},
            )

    return require_ops_token
