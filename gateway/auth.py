"""Client tokens: DataPacket's two scopes, stored as SHA-256 digests, compared in constant time."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field

from errors import NotAuthorized

__all__ = ["FULL_ACCESS", "READ_ONLY", "SCOPES", "TokenEntry", "TokenStore"]

READ_ONLY = "read-only"
FULL_ACCESS = "full-access"
SCOPES = frozenset({READ_ONLY, FULL_ACCESS})


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()


@dataclass(frozen=True)
class TokenEntry:
    """One configured client token: a name for logs, a scope, and the token's SHA-256."""

    name: str
    scope: str
    digest: bytes = field(repr=False)
    #: Provider instance ids this token may see and touch; ``None``: all of them.
    providers: frozenset[str] | None = None
    #: May send documents outside the manifest under ``[persisted] only``.
    free_documents: bool = False

    @classmethod
    def from_token(
        cls,
        name: str,
        scope: str,
        token: str,
        providers: frozenset[str] | None = None,
        free_documents: bool = False,
    ) -> TokenEntry:
        return cls(name, scope, _digest(token), providers, free_documents)

    @classmethod
    def from_digest(
        cls,
        name: str,
        scope: str,
        hex_digest: str,
        providers: frozenset[str] | None = None,
        free_documents: bool = False,
    ) -> TokenEntry:
        return cls(name, scope, bytes.fromhex(hex_digest), providers, free_documents)

    @property
    def can_mutate(self) -> bool:
        return self.scope == FULL_ACCESS


class TokenStore:
    """Looks up the bearer token of a request."""

    def __init__(self, entries: list[TokenEntry]) -> None:
        self._entries = list(entries)

    def authenticate(self, authorization: str | None) -> TokenEntry:
        """The entry for an ``Authorization: Bearer …`` header, or ``NOT_AUTHORIZED``."""
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise NotAuthorized('The API token is missing: send "Authorization: Bearer <token>".')
        presented = _digest(token.strip())
        match = None
        for entry in self._entries:  # no early exit: the time taken does not depend on the match
            if hmac.compare_digest(entry.digest, presented):
                match = entry
        if match is None:
            raise NotAuthorized("The API token is not valid.")
        return match
