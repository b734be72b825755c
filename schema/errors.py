"""The gateway's error vocabulary: one class per ``extensions.code``.

Every error a client can see is a ``GatewayError``. Adapters translate upstream failures
into these once, at the provider boundary; resolvers raise them as they are. Anything else
that escapes a resolver is reported as ``INTERNAL_SERVER_ERROR`` without details.
"""

from __future__ import annotations

from typing import Any, ClassVar, Self

__all__ = [
    "BadRequest",
    "GatewayError",
    "GraphQLValidationFailed",
    "InternalServerError",
    "NotAuthorized",
    "NotFound",
    "NotSupported",
    "ProviderUnavailable",
    "RateLimited",
    "ReverseDnsApiNotAvailable",
    "ValidationFailed",
]


class GatewayError(Exception):
    """Base class: a message for the client plus ``extensions`` (``code``, ``provider``, …)."""

    code: ClassVar[str] = "INTERNAL_SERVER_ERROR"

    def __init__(self, message: str, *, provider: str | None = None, **extensions: Any) -> None:
        super().__init__(message)
        self.message = message
        self.provider = provider
        self.details = {key: value for key, value in extensions.items() if value is not None}

    @property
    def extensions(self) -> dict[str, Any]:
        """The ``extensions`` object of the GraphQL error."""
        result: dict[str, Any] = {"code": self.code}
        if self.provider is not None:
            result["provider"] = self.provider
        result.update(self.details)
        return result


# --- Request errors (the seed's ErrorCode list) ------------------------------------------


class BadRequest(GatewayError):
    """The HTTP request could not be read as a GraphQL request (JSON, content type, query)."""

    code = "BAD_REQUEST"


class GraphQLValidationFailed(GatewayError):
    """The document does not parse or does not validate against the schema."""

    code = "GRAPHQL_VALIDATION_FAILED"


class NotAuthorized(GatewayError):
    """No token, an unknown token, or a token whose scope does not allow the operation."""

    code = "NOT_AUTHORIZED"


class NotFound(GatewayError):
    """The requested server, invoice, subscription, … does not exist."""

    code = "NOT_FOUND"


class ValidationFailed(GatewayError):
    """The input is well-formed but breaks a rule (page size, tag key, password, …)."""

    code = "VALIDATION_FAILED"


class ReverseDnsApiNotAvailable(GatewayError):
    """The upstream reverse-DNS API is under maintenance."""

    code = "REVERSE_DNS_API_NOT_AVAILABLE"


class InternalServerError(GatewayError):
    """An unexpected failure; the details are logged, never returned."""

    code = "INTERNAL_SERVER_ERROR"


# --- Gateway errors (additions, documented in the README) -------------------------------


class NotSupported(GatewayError):
    """The provider that owns the resource cannot perform this operation."""

    code = "NOT_SUPPORTED"

    def __init__(self, provider: str, operation: str, reason: str | None = None) -> None:
        message = f"Provider {provider!r} does not support {operation}"
        super().__init__(
            f"{message}: {reason}" if reason else f"{message}.",
            provider=provider,
            operation=operation,
        )


class ProviderUnavailable(GatewayError):
    """A backend failed to answer usefully (down, timed out, 5xx, malformed body).

    ``outcome="unknown"`` marks a write whose request may have reached the upstream: the
    client should check the resource before repeating it.
    """

    code = "PROVIDER_UNAVAILABLE"

    @classmethod
    def failed(cls, provider: str, what: str, *, outcome_unknown: bool = False) -> Self:
        """``Provider 'x' <what>.``, saying so when a write may have been applied anyway."""
        message = f"Provider {provider!r} {what}."
        if outcome_unknown:
            message += " The change may or may not have been applied; check before repeating it."
        return cls(message, provider=provider, outcome="unknown" if outcome_unknown else None)


class RateLimited(GatewayError):
    """The client token spent its request budget; ``extensions.retryAfter`` says when to retry."""

    code = "RATE_LIMITED"
