"""Persisted queries: documents sent by their SHA-256, registered ones and trusted ones.

**Automatic persisted queries** (APQ) are the protocol Apollo Client's, urql's and
graphql-request's links speak. A request carries ``extensions.persistedQuery`` ``{version: 1,
sha256Hash}``, in the POST body or as the GET parameter ``extensions`` (JSON). Without a
``query`` the hash names the document: a known one runs, an unknown one answers
``PERSISTED_QUERY_NOT_FOUND`` (the message ``PersistedQueryNotFound``, which the links match
too), and the client sends the request again with the document. The gateway checks that the
document's SHA-256 (of its UTF-8 text, in lowercase hex) is the hash given, parses it, and
keeps it, so the next request, a GET with the hash alone, can be answered by an HTTP cache.

Registered documents are kept in process (``LocalDocuments``: at most ``MAX_DOCUMENTS`` of them
and ``MAX_DOCUMENT_BYTES`` in all, each for ``[persisted] ttl`` seconds), and with
``[cluster]`` in Redis under the store's prefix, each key expiring after the same TTL
(``SharedDocuments``); Redis failing or slow falls back to the process's own documents.

**Trusted documents**: ``[persisted] manifest`` names a file of allowed operations, read once
at start-up (``load_manifest``): graphql-codegen's client preset's ``{"<sha256>": "query …"}``
or Apollo's persisted-query manifest. Its documents are known by their hashes (never
registered or evicted). With ``[persisted] only = true`` a document not in the manifest is
refused (``PERSISTED_QUERY_NOT_IN_LIST``) before it is parsed, and the registered documents
are not looked up, unless the token has ``free_documents = true`` (a service of one's own).
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from errors import BadRequest, PersistedQueryNotFound, PersistedQueryNotInList
from providers.cluster import SharedStore, StoreUnavailable

__all__ = [
    "DEFAULT_TTL",
    "MAX_DOCUMENTS",
    "MAX_DOCUMENT_BYTES",
    "DocumentStore",
    "LocalDocuments",
    "PersistedQueries",
    "PersistedSettings",
    "SharedDocuments",
    "document_hash",
    "load_manifest",
    "requested_hash",
]

#: Seconds a registered document is kept by default (a day).
DEFAULT_TTL = 86_400.0
#: Registered documents kept in process, least recently used dropped first.
MAX_DOCUMENTS = 10_000
#: Bytes of registered documents kept in process, least recently used dropped first.
MAX_DOCUMENT_BYTES = 16 * 1024 * 1024
#: The one version of the protocol there is.
VERSION = 1
APOLLO_FORMAT = "apollo-persisted-query-manifest"
_SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")


def document_hash(document: str) -> str:
    """The SHA-256 of a document's UTF-8 text in lowercase hex, as the APQ links compute it."""
    return hashlib.sha256(document.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class PersistedSettings:
    """``[persisted]``, validated: the manifest's documents by hash, and how they are used."""

    #: The trusted documents, by SHA-256; empty without a manifest.
    manifest: dict[str, str] = field(default_factory=dict, repr=False)
    #: Refuse documents not in the manifest (tokens with ``free_documents`` excepted).
    only: bool = False
    #: Seconds a registered document is kept.
    ttl: float = DEFAULT_TTL


def load_manifest(path: Path) -> dict[str, str]:
    """The documents of a manifest file by their SHA-256; ``ValueError`` (one line) otherwise.

    Either graphql-codegen's ``{"<sha256>": "<document>", …}`` or Apollo's ``{"format":
    "apollo-persisted-query-manifest", "version": 1, "operations": [{"id", "body", "name",
    "type"}, …]}``; every hash (``id``) must be the SHA-256 of its document.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValueError(f"file not found ({path})") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ValueError(f"cannot be read ({type(error).__name__})") from None
    except json.JSONDecodeError as error:
        raise ValueError(f"not valid JSON (line {error.lineno}, column {error.colno})") from None
    if not isinstance(data, dict):
        raise ValueError("must be a JSON object")
    if "format" in data:
        entries = _apollo_operations(data)
    else:
        entries = [(key, body, f"entry {key!r}") for key, body in data.items()]
    documents: dict[str, str] = {}
    for key, body, what in entries:
        if not isinstance(key, str) or not _SHA256.match(key):
            raise ValueError(f"{what}: the hash must be 64 hexadecimal characters")
        if not isinstance(body, str) or not body.strip():
            raise ValueError(f"{what}: the document must be a non-empty string")
        if document_hash(body) != key.lower():
            raise ValueError(f"{what}: the hash is not the SHA-256 of its document")
        documents[key.lower()] = body
    return documents


def _apollo_operations(data: dict[str, Any]) -> list[tuple[Any, Any, str]]:
    """Apollo's manifest's operations as (hash, document, how to name it in an error)."""
    if data.get("format") != APOLLO_FORMAT:
        raise ValueError(f"'format' must be {APOLLO_FORMAT!r}")
    if data.get("version") != 1:
        raise ValueError("'version' must be 1, the only version of Apollo's manifest")
    operations = data.get("operations")
    if not isinstance(operations, list):
        raise ValueError("'operations' must be a list")
    entries = []
    for i, operation in enumerate(operations):
        if not isinstance(operation, dict):
            raise ValueError(f"operations[{i}] must be an object")
        name = operation.get("name")
        what = f"operations[{i}]" + (f" ({name!r})" if isinstance(name, str) else "")
        if operation.get("type") not in ("query", "mutation", "subscription"):
            raise ValueError(f"{what}: 'type' must be query, mutation or subscription")
        entries.append((operation.get("id"), operation.get("body"), what))
    return entries


class DocumentStore(Protocol):
    """Where registered documents are kept."""

    async def get(self, sha256: str) -> str | None:
        """The document registered under ``sha256``, if it is still kept."""
        ...

    async def put(self, sha256: str, document: str) -> None:
        """Keep ``document`` under its ``sha256``."""
        ...


class LocalDocuments:
    """Registered documents in this process: bounded in count and bytes, each kept ``ttl``."""

    def __init__(
        self,
        ttl: float = DEFAULT_TTL,
        maxsize: int = MAX_DOCUMENTS,
        max_bytes: int = MAX_DOCUMENT_BYTES,
    ) -> None:
        self._ttl = ttl
        self._maxsize = maxsize
        self._max_bytes = max_bytes
        #: Hash -> (document, when it expires), least recently used first.
        self._entries: OrderedDict[str, tuple[str, float]] = OrderedDict()
        #: Bytes of the documents kept.
        self.size = 0

    def __len__(self) -> int:
        return len(self._entries)

    async def get(self, sha256: str) -> str | None:
        """The document, unless it expired or was pushed out."""
        entry = self._entries.get(sha256)
        if entry is None:
            return None
        if time.monotonic() >= entry[1]:
            self._drop(sha256)
            return None
        self._entries.move_to_end(sha256)
        return entry[0]

    async def put(self, sha256: str, document: str) -> None:
        """Keep ``document``, dropping the least recently used past the bounds."""
        size = len(document.encode("utf-8"))
        if size > self._max_bytes:
            return
        self._drop(sha256)
        self._entries[sha256] = (document, time.monotonic() + self._ttl)
        self.size += size
        while len(self._entries) > self._maxsize or self.size > self._max_bytes:
            self._drop(next(iter(self._entries)))

    def _drop(self, sha256: str) -> None:
        entry = self._entries.pop(sha256, None)
        if entry is not None:
            self.size -= len(entry[0].encode("utf-8"))


class SharedDocuments:
    """Registered documents in the shared Redis (each key expiring after ``ttl``), this
    process's ``LocalDocuments`` kept too and used whenever Redis does not answer."""

    def __init__(self, store: SharedStore, ttl: float = DEFAULT_TTL) -> None:
        self._store = store
        self._ttl = max(1, round(ttl))
        self.local = LocalDocuments(ttl)

    async def get(self, sha256: str) -> str | None:
        """Redis's document, else this process's (one registered while Redis was away)."""
        key = self._store.key("apq", sha256)
        try:
            found = await self._store.attempt("apq_read", lambda redis: redis.get(key))
        except StoreUnavailable:
            found = None
        if found is not None:
            return found.decode("utf-8")
        return await self.local.get(sha256)

    async def put(self, sha256: str, document: str) -> None:
        """Keep ``document`` in Redis for ``ttl`` seconds, and in this process."""
        await self.local.put(sha256, document)
        key = self._store.key("apq", sha256)
        try:
            await self._store.attempt(
                "apq_write", lambda redis: redis.set(key, document.encode("utf-8"), ex=self._ttl)
            )
        except StoreUnavailable:
            pass  # kept in process: this replica still knows it


@dataclass(frozen=True)
class Resolved:
    """The document a request runs, and the hash to register it under once it parses."""

    query: str
    register: str | None = None
    #: Where a document named by its hash alone was found: ``manifest`` or ``registered``.
    found_in: str | None = None


class PersistedQueries:
    """Turns a request's ``query`` and ``extensions`` into the document it runs."""

    def __init__(self, settings: PersistedSettings, store: DocumentStore) -> None:
        self.settings = settings
        self.store = store

    async def resolve(
        self, query: str | None, sha256: str | None, free_documents: bool
    ) -> Resolved:
        """The document to run: ``query`` itself, or the one ``sha256`` names.

        ``sha256`` is ``requested_hash``'s (``None``: the request has none, so ``query`` is
        its document); ``free_documents``: the token may send documents outside the manifest.
        Raises ``BAD_REQUEST`` (a hash that is not the document's), ``PERSISTED_QUERY_NOT_FOUND``
        (an unknown hash without a document) or ``PERSISTED_QUERY_NOT_IN_LIST`` (``only``: a
        document outside the manifest).
        """
        trusted_only = self.settings.only and not free_documents
        if query is not None:
            if sha256 is None and not trusted_only:
                return Resolved(query)  # the common case: no hash to compute
            actual = document_hash(query)
            if sha256 is not None and actual != sha256:
                raise BadRequest(
                    "The 'query' does not match extensions.persistedQuery.sha256Hash "
                    "(the SHA-256 of the document's UTF-8 text, in hexadecimal).",
                    field="extensions.persistedQuery.sha256Hash",
                )
            if actual in self.settings.manifest:
                return Resolved(query)
            if trusted_only:
                raise _not_in_list()
            return Resolved(query, register=sha256)
        assert sha256 is not None  # the endpoint refuses a request with neither
        found = self.settings.manifest.get(sha256)
        if found is not None:
            return Resolved(found, found_in="manifest")
        if not trusted_only:
            found = await self.store.get(sha256)
        if found is None:
            raise PersistedQueryNotFound("PersistedQueryNotFound")
        return Resolved(found, found_in="registered")

    async def register(self, sha256: str, document: str) -> None:
        """Keep a document just sent with its hash (checked, and parsed)."""
        await self.store.put(sha256, document)


def _not_in_list() -> PersistedQueryNotInList:
    return PersistedQueryNotInList(
        "This gateway runs only the documents of its manifest; send one of them, by its "
        "SHA-256 in extensions.persistedQuery or as it is."
    )


def requested_hash(extensions: Any) -> str | None:
    """The lowercase hash of a request's ``extensions.persistedQuery``; ``None`` when it has
    none. ``BAD_REQUEST`` when ``extensions`` or ``persistedQuery`` is malformed."""
    if extensions is None:
        return None
    if not isinstance(extensions, dict):
        raise BadRequest("'extensions' must be a JSON object.")
    persisted = extensions.get("persistedQuery")
    if persisted is None:
        return None
    if not isinstance(persisted, dict):
        raise BadRequest("'extensions.persistedQuery' must be a JSON object.")
    version = persisted.get("version")
    if version != VERSION or isinstance(version, bool):
        raise BadRequest(
            "Unsupported extensions.persistedQuery.version: this gateway speaks version "
            f"{VERSION}.",
            field="extensions.persistedQuery.version",
        )
    sha256 = persisted.get("sha256Hash")
    if not isinstance(sha256, str) or not _SHA256.match(sha256):
        raise BadRequest(
            "'extensions.persistedQuery.sha256Hash' must be 64 hexadecimal characters.",
            field="extensions.persistedQuery.sha256Hash",
        )
    return sha256.lower()
