"""The per-request context every resolver receives as ``info.context``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gateway.auth import TokenEntry
from gateway.health import ProviderHealth
from providers.registry import ProviderSet
from resolvers.loaders import Loaders
from schema.errors import GatewayError

__all__ = ["RequestContext"]


@dataclass
class RequestContext:
    """Who is asking, which providers exist, and this request's loaders."""

    providers: ProviderSet
    health: ProviderHealth
    token: TokenEntry
    request_id: str
    loaders: Loaders = field(default_factory=Loaders)
    #: Read by ``schema.execution.CompiledExecutor``: False runs graphql-core's interpreter only.
    compiled_execution: bool = True
    #: Errors of providers that failed while others answered: (error, response path).
    partial_errors: list[tuple[GatewayError, list[Any]]] = field(default_factory=list)

    def report_partial(self, error: GatewayError, path: list[Any]) -> None:
        """Keep the data of the other providers and add this provider's error to the response."""
        self.partial_errors.append((error, path))
        if error.provider is not None:
            self.health.record_failure(error.provider)

    async def power_action_progress(self, server_name: str) -> dict | None:
        """``Server.powerAction``: asked of the provider that owns the server."""
        for provider in self.providers.owners_of(server_name):
            progress = await provider.power_action_progress(server_name)
            if progress is not None:
                return progress
        return None

    def provider_ref(self, server_name: str) -> dict[str, str]:
        """``Server.provider`` for a server known only by name (nested in billing data)."""
        owners = self.providers.owners_of(server_name)
        provider = owners[0] if owners else self.providers.all[0]
        return {"id": provider.id, "kind": provider.kind.upper()}
