"""The gateway's error vocabulary: one class per ``extensions.code``.

Every error a client can see is a ``GatewayError``. Adapters translate upstream failures
into these once, at the provider boundary; resolvers raise them as they are. Anything else
that escapes a resolver is reported as ``INTERNAL_SERVER_ERROR`` without details.

This package is the bottom of the import graph: it imports nothing of FleetQL, and the
gateway, the schema, the resolvers and the providers all import it.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any, ClassVar, Self

from errors.wording import NOT_AUTHORIZED as NOT_AUTHORIZED_MESSAGE
from errors.wording import quoted

__all__ = [
    "BadRequest",
    "GatewayError",
    "GraphQLValidationFailed",
    "IdempotencyConflict",
    "InternalServerError",
    "NotAuthorized",
    "NotFound",
    "NotSupported",
    "PersistedQueryNotFound",
    "PersistedQueryNotInList",
    "ProviderUnavailable",
    "RateLimited",
    "ReverseDnsApiNotAvailable",
    "ValidationFailed",
    "quoted",
    "refused_as_invalid",
    "upstream_reason",
]

log = logging.getLogger("fleetql.upstream")
#: The longest upstream reason passed on to a client.
MAX_REASON = 200
_MARKUP = re.compile(r"<[^>]*>")
_UNSAFE = re.compile(r"[^\w\s.,:;!?'\"()\[\]/@#%&+=*-]")


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
    """No token, an unknown token, or a token whose scope does not allow the operation.

    The message is DataPacket's ("You are not authorized to perform this action"), which its
    clients match on; ``detail`` follows as a second sentence.
    """

    code = "NOT_AUTHORIZED"

    def __init__(self, detail: str | None = None, **extensions: Any) -> None:
        message = f"{NOT_AUTHORIZED_MESSAGE}." + (f" {detail}" if detail else "")
        super().__init__(message, **extensions)


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

    def __init__(
        self,
        provider: str | None,
        operation: str,
        reason: str | None = None,
        *,
        providers: list[str] | None = None,
    ) -> None:
        subject = (
            f"Provider {quoted(provider)} does not support" if provider else "No provider supports"
        )
        message = f"{subject} {operation}"
        super().__init__(
            f"{message}: {reason}" if reason else f"{message}.",
            provider=provider,
            operation=operation,
            providers=providers,
        )

    @classmethod
    def by_none(cls, providers: list[str], operation: str) -> Self:
        """No provider the token sees can perform ``operation``: ``extensions.providers``
        lists them (there is no one ``extensions.provider`` to name)."""
        return cls(None, operation, providers=list(providers))


class ProviderUnavailable(GatewayError):
    """A backend failed to answer usefully (down, timed out, 5xx, malformed body).

    ``outcome="unknown"`` marks a write whose request may have reached the upstream: the
    client should check the resource before repeating it.
    """

    code = "PROVIDER_UNAVAILABLE"

    @classmethod
    def failed(cls, provider: str, what: str, *, outcome_unknown: bool = False) -> Self:
        """``Provider "x" <what>.``, saying so when a write may have been applied anyway."""
        message = f"Provider {quoted(provider)} {what}."
        if outcome_unknown:
            message += " The change may or may not have been applied; check before repeating it."
        return cls(message, provider=provider, outcome="unknown" if outcome_unknown else None)


class IdempotencyConflict(GatewayError):
    """The request with this ``Idempotency-Key`` ran or runs, and its response cannot be
    given: still running past the wait, or too large to have been kept. Never run again."""

    code = "IDEMPOTENCY_CONFLICT"


class PersistedQueryNotFound(GatewayError):
    """A document sent by its hash alone that the gateway does not know: the client sends it
    again with the document (the automatic persisted queries protocol)."""

    code = "PERSISTED_QUERY_NOT_FOUND"


class PersistedQueryNotInList(GatewayError):
    """A document outside the manifest, refused by ``[persisted] only`` before parsing."""

    code = "PERSISTED_QUERY_NOT_IN_LIST"


class RateLimited(GatewayError):
    """The client token spent its request budget; ``extensions.retryAfter`` says when to retry."""

    code = "RATE_LIMITED"


# --- Translating a provider's refusal ---------------------------------------------------


def upstream_reason(body: bytes | str | None, *paths: str) -> str | None:
    """A provider's own words from an error body, safe to show a client.

    ``paths`` are where the adapter's API puts them in a JSON body, tried in order
    (``"errors.0"``, ``"error.msg"``, ``"detail"``); a plain-text body is taken as it is.
    The text is cut to one line of at most ``MAX_REASON`` characters with markup and
    control characters removed; ``None`` when nothing readable is left.

    Example:
        ``upstream_reason(b'{"errors": ["Device is already on"]}', "errors.0")``
    """
    if not body:
        return None
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    try:
        decoded: Any = json.loads(text)
    except ValueError:
        # Plain text or HTML is the reason itself; JSON cut short holds none.
        decoded = None if text.lstrip().startswith(("{", "[")) else text
    if not isinstance(decoded, str):
        found = (_at(decoded, path) for path in paths)
        decoded = next((value for value in found if isinstance(value, str) and value), None)
    if decoded is None:
        return None
    cleaned = " ".join(_UNSAFE.sub("", _MARKUP.sub(" ", decoded)).split())
    if len(cleaned) > MAX_REASON:
        cleaned = cleaned[: MAX_REASON - 1].rsplit(" ", 1)[0] + "…"
    return cleaned or None


def _at(value: Any, path: str) -> Any:
    for part in path.split("."):
        if isinstance(value, dict):
            value = value.get(part)
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
    return value


def refused_as_invalid(
    provider: str,
    *,
    write: bool,
    status: int | str,
    reason: str | None = None,
    field: str | None = None,
) -> GatewayError:
    """A provider refusing a request as invalid (its 400 or 422, or its own code for that).

    A write carries the client's intent, so the client hears ``VALIDATION_FAILED`` with the
    provider's reason (from ``upstream_reason``), e.g. "Device is already powered on". A
    read is built by the gateway: the client did nothing wrong, so it is
    ``PROVIDER_UNAVAILABLE`` naming the provider (its entries are dropped, the others kept),
    and the reason goes to the log only.
    """
    if write:
        message = f"Provider {quoted(provider)} rejected the request"
        return ValidationFailed(
            f"{message}: {reason}" if reason else f"{message} as invalid.",
            provider=provider,
            field=field,
        )
    log.warning("upstream %s refused a read as invalid (%s): %s", provider, status, reason)
    return ProviderUnavailable.failed(provider, f"refused the gateway's read as invalid ({status})")
