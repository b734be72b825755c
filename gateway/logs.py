"""Structured logs: one JSON object per line, with the request id, and no secrets.

Secrets stay out by construction: log calls pass named fields (ids, names, templates,
codes, durations), never headers, bodies or URLs, and the chatty HTTP client loggers
(which print full URLs) are held at WARNING. As a second line of defence the formatter
replaces any configured credential and any ``Bearer …`` value that still reaches it.

Example:
    configure_logging("info", secrets=credentials_of(settings))
    logging.getLogger("fleetql.request").info("graphql request", extra={"fields": {...}})
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterable
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import IO, Any

from gateway.settings import Settings

__all__ = ["REQUEST_ID", "JsonFormatter", "configure_logging", "credentials_of"]

#: The id of the HTTP request being served; every line logged while serving it carries it.
REQUEST_ID: ContextVar[str | None] = ContextVar("fleetql_request_id", default=None)

REDACTED = "[redacted]"
_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+[^\s\"',;]+")
# httpx logs every request with its full URL at INFO; httpcore logs connections at DEBUG.
_URL_LOGGERS = ("httpx", "httpcore")
_SHORTEST_SECRET = 4  # shorter values would redact ordinary words


def credentials_of(settings: Settings) -> list[str]:
    """Every secret of the configuration, upstream credentials and the operator token (the
    values to redact)."""
    secrets = [value for provider in settings.providers for value in provider.credentials.values()]
    return secrets + ([settings.ops_token] if settings.ops_token else [])


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON line: time, level, logger, message, request id, fields."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        # Longest first, so a secret containing another is replaced whole.
        self._secrets = sorted(
            {secret for secret in secrets if len(secret) >= _SHORTEST_SECRET}, key=len, reverse=True
        )

    def format(self, record: logging.LogRecord) -> str:
        """The record as one JSON object on one line."""
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = REQUEST_ID.get()
        if request_id is not None:
            entry["request_id"] = request_id
        entry.update(getattr(record, "fields", {}))
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(self._redact(entry), default=str, separators=(",", ":"))

    def _redact(self, value: Any) -> Any:
        if isinstance(value, str):
            for secret in self._secrets:
                value = value.replace(secret, REDACTED)
            return _BEARER.sub(lambda match: f"{match.group(1)} {REDACTED}", value)
        if isinstance(value, dict):
            return {key: self._redact(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [self._redact(item) for item in value]
        return value


def configure_logging(
    level: str, secrets: Iterable[str] = (), stream: IO[str] | None = None
) -> logging.Handler:
    """Send every log record (FleetQL's and uvicorn's) to ``stream`` as JSON lines.

    Returns the installed handler so a caller (a test) can remove it again.
    """
    handler = logging.StreamHandler(stream or sys.stdout)
    handler.setFormatter(JsonFormatter(secrets))
    root = logging.getLogger()
    for existing in list(root.handlers):
        if isinstance(existing.formatter, JsonFormatter):
            root.removeHandler(existing)
    root.addHandler(handler)
    # ``debug`` is for FleetQL's own lines (one per upstream call), not every library's.
    root.setLevel(max(logging.getLevelName(level.upper()), logging.INFO))
    logging.getLogger("fleetql").setLevel(level.upper())
    for name in _URL_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    # uvicorn's loggers log through the root handler, in the same JSON.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
    return handler
