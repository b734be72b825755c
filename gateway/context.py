"""The per-request context every resolver receives as ``info.context``."""

from __future__ import annotations

from dataclasses import dataclass, field

from gateway.auth import TokenEntry
from gateway.health import ProviderHealth
from providers.registry import ProviderSet
from resolvers.loaders import Loaders

__all__ = ["RequestContext"]


@dataclass
class RequestContext:
    """Who is asking, which providers exist, and this request's loaders."""

    providers: ProviderSet
    health: ProviderHealth
    token: TokenEntry
    request_id: str
    loaders: Loaders = field(default_factory=Loaders)

    def provider_ref(self, server_name: str) -> dict[str, str]:
        """``Server.provider`` for a server known only by name (nested in billing data)."""
        owners = self.providers.owners_of(server_name)
        provider = owners[0] if owners else self.providers.all[0]
        return {"id": provider.id, "kind": provider.kind.upper()}
