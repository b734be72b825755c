"""The per-request context every resolver receives as ``info.context``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from errors import GatewayError
from providers.health import ProviderHealth
from providers.registry import ProviderSet
from resolvers.loaders import Loaders

if TYPE_CHECKING:
    from resolvers.live import StatusFeed

__all__ = ["RequestContext"]


@dataclass
class RequestContext:
    """The providers the client's token may see, and this request's loaders and findings."""

    providers: ProviderSet
    health: ProviderHealth
    request_id: str
    loaders: Loaders = field(default_factory=Loaders)
    #: Read by ``schema.execution.CompiledExecutor``: False runs graphql-core's interpreter only.
    compiled_execution: bool = True
    #: Errors of providers that failed while others answered: (error, response path).
    partial_errors: list[tuple[GatewayError, list[Any]]] = field(default_factory=list)
    #: The pollers behind ``serverStatusChanged`` (told of power actions sent); ``None``: none.
    status_feed: StatusFeed | None = None

    def report_partial(self, error: GatewayError, path: list[Any]) -> None:
        """Keep the data of the other providers and add this provider's error to the response."""
        self.partial_errors.append((error, path))
        if error.provider is not None:
            self.health.record_failure(error.provider)
