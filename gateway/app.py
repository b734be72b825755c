"""The application factory: settings in, a FastAPI app with every route and provider wired."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from graphql import GraphQLSchema, build_schema
from starlette.responses import JSONResponse

from gateway.auth import TokenStore
from gateway.graphql_http import graphql_endpoint
from gateway.health import ProviderHealth
from gateway.ratelimit import TokenRateLimiter
from gateway.settings import Settings
from providers.registry import ProviderSet, create_provider
from schema import schema_sdl

__all__ = ["Gateway", "create_app"]


@dataclass
class Gateway:
    """What every request handler needs, built once per process."""

    settings: Settings
    providers: ProviderSet
    tokens: TokenStore
    health: ProviderHealth
    rate_limiter: TokenRateLimiter
    graphql_schema: GraphQLSchema
    demo_token: str | None = None


def create_app(settings: Settings, *, demo_token: str | None = None) -> FastAPI:
    """Build the ASGI app; provider connections open and close with its lifespan."""
    gateway = Gateway(
        settings=settings,
        providers=ProviderSet(create_provider(config) for config in settings.providers),
        tokens=TokenStore(settings.tokens),
        health=ProviderHealth(),
        rate_limiter=TokenRateLimiter(settings.queries_per_minute, settings.mutations_per_minute),
        graphql_schema=build_schema(schema_sdl()),
        demo_token=demo_token,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await gateway.providers.start()
        try:
            yield
        finally:
            await gateway.providers.close()

    app = FastAPI(
        title="FleetQL", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan
    )
    app.state.gateway = gateway
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type", "X-Request-ID"],
            expose_headers=["X-Request-ID"],
        )
    app.add_api_route(
        "/graphql", graphql_endpoint, methods=["GET", "POST"], include_in_schema=False
    )

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> JSONResponse:
        return JSONResponse({"status": "ok"})

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> JSONResponse:
        """``up`` (every provider answers), ``degraded`` (some do) or ``down`` (none: 503)."""
        reachable = await gateway.health.check(gateway.providers)
        answering = sum(reachable.values())
        status = "up" if answering == len(reachable) else "degraded" if answering else "down"
        circuits = {provider.id: provider.guard.state for provider in gateway.providers.all}
        return JSONResponse(
            {"status": status, "providers": reachable, "circuits": circuits},
            status_code=503 if status == "down" else 200,
        )

    return app
