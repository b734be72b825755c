"""Configuration: one TOML file, validated at start-up, secrets optionally from the environment.

Every key is documented in the README ("Configuration"). Any mistake stops start-up with a
``ConfigError`` naming the file and the key.
"""

from __future__ import annotations

import math
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gateway.auth import SCOPES, TokenEntry
from gateway.limits import QueryLimits
from providers.base import ProviderConfig
from providers.cache import DEFAULT_TTLS
from providers.registry import PROVIDER_KINDS
from providers.resilience import ResiliencePolicy

__all__ = [
    "ConfigError",
    "ObservabilitySettings",
    "Settings",
    "load_settings",
    "settings_from_dict",
]

ID_PATTERN = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
PREFIX_PATTERN = re.compile(r"^[A-Z][A-Z0-9]{0,9}$")
LOG_LEVELS = ("debug", "info", "warning", "error")


class ConfigError(Exception):
    """The configuration is invalid; the message names the source and the key."""


@dataclass(frozen=True)
class ObservabilitySettings:
    """The ``[observability]`` table: log level, ``/metrics``, and optional tracing."""

    log_level: str = "info"
    metrics: bool = True
    #: OTLP/HTTP traces endpoint (e.g. ``http://collector:4318/v1/traces``); None: no tracing.
    otlp_endpoint: str | None = None
    service_name: str = "fleetql"


@dataclass(frozen=True)
class Settings:
    """Everything the gateway needs to start."""

    providers: list[ProviderConfig]
    tokens: list[TokenEntry] = field(repr=False)
    host: str = "127.0.0.1"
    port: int = 8000
    graphiql: bool = True
    #: Load GraphiQL's assets from unpkg instead of the gateway (same files, same digests).
    graphiql_cdn: bool = False
    introspection: bool = True
    cors_origins: tuple[str, ...] = ()
    #: Origins allowed besides ``cors_origins``: a regular expression matching the whole origin.
    cors_origin_regex: str | None = None
    limits: QueryLimits = field(default_factory=QueryLimits)
    queries_per_minute: int = 600
    mutations_per_minute: int = 60
    #: Seconds in-flight requests get to finish once shutdown starts (uvicorn's deadline).
    shutdown_timeout: float = 30.0
    request_deadline: float = 30.0
    #: Seconds a connection may take to send a complete request head (gateway/protocol.py).
    header_timeout: float = 10.0
    #: Seconds a POST body may take to arrive once its request head has (408 past it).
    body_timeout: float = 30.0
    #: Seconds an idle keep-alive connection stays open after a response.
    keepalive_timeout: float = 5.0
    #: Connections served at once; one beyond answers 503 RATE_LIMITED.
    max_connections: int = 1000
    #: Bearer token guarding /readyz and /metrics; None: they are open.
    ops_token: str | None = field(default=None, repr=False)
    #: Shape responses with compiled selections (schema/execution.py); off: graphql-core only.
    compiled_execution: bool = True
    observability: ObservabilitySettings = field(default_factory=ObservabilitySettings)
    source: str = "<defaults>"


def load_settings(path: str | os.PathLike[str]) -> Settings:
    """Read and validate a TOML configuration file."""
    source = str(path)
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{source}: file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML ({exc})") from None
    return settings_from_dict(data, source=source)


def settings_from_dict(data: dict[str, Any], *, source: str = "<dict>") -> Settings:
    """Validate an already-parsed configuration."""
    reader = _Reader(source)
    reader.only(data, "", {"server", "cache", "limits", "observability", "providers", "tokens"})
    server = reader.table(data, "server")
    reader.only(
        server,
        "server.",
        {
            "host",
            "port",
            "graphiql",
            "graphiql_cdn",
            "introspection",
            "cors_origins",
            "cors_origin_regex",
            "shutdown_timeout",
            "request_deadline",
            "compiled_execution",
            "header_timeout",
            "body_timeout",
            "keepalive_timeout",
            "max_connections",
            "ops_token",
            "ops_token_env",
        },
    )
    limits_table = reader.table(data, "limits")
    reader.only(
        limits_table,
        "limits.",
        {*vars(QueryLimits()), "queries_per_minute", "mutations_per_minute"},
    )
    cache_ttls = _cache_ttls(reader, reader.table(data, "cache"))
    providers = [
        _provider(reader, table, f"providers[{i}]", cache_ttls)
        for i, table in enumerate(reader.tables(data, "providers", required=True))
    ]
    ids = [provider.id for provider in providers]
    for i, provider_id in enumerate(ids):
        if provider_id in ids[:i]:
            raise reader.error(f"providers[{i}].id", f"duplicate id {provider_id!r}")
    token_tables = reader.tables(data, "tokens", required=True)
    tokens = [
        _token(reader, table, f"tokens[{i}]", set(ids)) for i, table in enumerate(token_tables)
    ]
    _refuse_duplicate_tokens(reader, tokens, token_tables)
    limits = QueryLimits(
        **{
            key: reader.positive_integer(limits_table, f"limits.{key}", default)
            for key, default in vars(QueryLimits()).items()
        }
    )
    return Settings(
        providers=providers,
        tokens=tokens,
        host=reader.string(server, "server.host", default="127.0.0.1"),
        port=reader.integer(server, "server.port", default=8000, low=1, high=65535),
        graphiql=reader.boolean(server, "server.graphiql", default=True),
        graphiql_cdn=reader.boolean(server, "server.graphiql_cdn", default=False),
        introspection=reader.boolean(server, "server.introspection", default=True),
        cors_origins=tuple(reader.strings(server, "server.cors_origins", default=[])),
        cors_origin_regex=_origin_regex(reader, server),
        limits=limits,
        queries_per_minute=reader.positive_integer(
            limits_table, "limits.queries_per_minute", default=600
        ),
        mutations_per_minute=reader.positive_integer(
            limits_table, "limits.mutations_per_minute", default=60
        ),
        shutdown_timeout=reader.number(server, "server.shutdown_timeout", default=30.0),
        request_deadline=reader.number(server, "server.request_deadline", default=30.0),
        compiled_execution=reader.boolean(server, "server.compiled_execution", default=True),
        header_timeout=reader.number(server, "server.header_timeout", default=10.0),
        body_timeout=reader.number(server, "server.body_timeout", default=30.0),
        keepalive_timeout=reader.number(server, "server.keepalive_timeout", default=5.0),
        max_connections=reader.positive_integer(server, "server.max_connections", default=1000),
        ops_token=(
            reader.secret(server, "server", "ops_token")
            if "ops_token" in server or "ops_token_env" in server
            else None
        ),
        observability=_observability(reader, reader.table(data, "observability")),
        source=source,
    )


def _origin_regex(reader: _Reader, server: dict[str, Any]) -> str | None:
    """``server.cors_origin_regex``: a regular expression an allowed origin matches whole."""
    pattern = reader.string(server, "server.cors_origin_regex", default="") or None
    if pattern is not None:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise reader.error(
                "server.cors_origin_regex", f"not a regular expression ({exc})"
            ) from None
    return pattern


def _observability(reader: _Reader, table: dict[str, Any]) -> ObservabilitySettings:
    """``[observability]``: log level, whether to serve /metrics, the OTLP traces endpoint."""
    reader.only(table, "observability.", set(vars(ObservabilitySettings())))
    level = reader.string(table, "observability.log_level", default="info").lower()
    if level not in LOG_LEVELS:
        raise reader.error("observability.log_level", f"must be one of {list(LOG_LEVELS)}")
    endpoint = reader.string(table, "observability.otlp_endpoint", default="") or None
    if endpoint is not None and not endpoint.startswith(("http://", "https://")):
        raise reader.error("observability.otlp_endpoint", "must be an http(s) URL")
    return ObservabilitySettings(
        log_level=level,
        metrics=reader.boolean(table, "observability.metrics", default=True),
        otlp_endpoint=endpoint,
        service_name=reader.string(table, "observability.service_name", default="fleetql"),
    )


def _cache_ttls(reader: _Reader, table: dict[str, Any]) -> dict[str, float]:
    """``[cache]``: ``enabled`` and a TTL in seconds per resource kind (0 turns one off)."""
    reader.only(table, "cache.", {"enabled", *DEFAULT_TTLS})
    if not reader.boolean(table, "cache.enabled", default=True):
        return {}
    ttls = {}
    for resource, default in DEFAULT_TTLS.items():
        value = reader._value(table, f"cache.{resource}", (int, float), "a number", default)
        if not math.isfinite(value) or value < 0:
            raise reader.error(f"cache.{resource}", "must be a number of seconds, 0 or more")
        ttls[resource] = float(value)
    return ttls


def _provider(
    reader: _Reader, table: dict[str, Any], where: str, cache_ttls: dict[str, float]
) -> ProviderConfig:
    kind = reader.string(table, f"{where}.kind")
    if kind not in PROVIDER_KINDS:
        raise reader.error(
            f"{where}.kind", f"unknown kind {kind!r}; one of {sorted(PROVIDER_KINDS)}"
        )
    adapter = PROVIDER_KINDS[kind]
    credential_keys = set(adapter.credential_keys)
    option_keys = set(adapter.option_keys)
    allowed = {"id", "kind", "base_url", "prefix", "connect_timeout", "read_timeout"}
    allowed |= set(vars(ResiliencePolicy()))
    allowed |= credential_keys | {f"{key}_env" for key in credential_keys} | option_keys
    reader.only(table, f"{where}.", allowed)
    provider_id = reader.string(table, f"{where}.id")
    if not ID_PATTERN.match(provider_id):
        raise reader.error(f"{where}.id", "must be lowercase letters, digits, '-' or '_'")
    prefix = reader.string(table, f"{where}.prefix", default=adapter.default_prefix)
    if not PREFIX_PATTERN.match(prefix):
        raise reader.error(f"{where}.prefix", "must be 1-10 uppercase letters or digits")
    base_url = reader.string(table, f"{where}.base_url", default=adapter.default_base_url)
    if not base_url.startswith(("http://", "https://")):
        raise reader.error(f"{where}.base_url", "an http(s) URL is required for this kind")
    credentials = {
        key: reader.secret(table, where, key)
        for key in adapter.credential_keys
        if key in table or f"{key}_env" in table
    }
    options = {key: table[key] for key in option_keys if key in table}
    problem = adapter.config_problem(credentials, options)
    if problem is not None:
        raise reader.error(f"{where}.{problem[0]}", problem[1])
    return ProviderConfig(
        id=provider_id,
        kind=kind,
        base_url=base_url,
        prefix=prefix,
        credentials=credentials,
        options=options,
        connect_timeout=reader.number(table, f"{where}.connect_timeout", default=5.0),
        read_timeout=reader.number(table, f"{where}.read_timeout", default=20.0),
        cache_ttls=cache_ttls,
        resilience=_resilience(reader, table, where, adapter.resilience_defaults),
    )


def _resilience(
    reader: _Reader, table: dict[str, Any], where: str, kind_defaults: dict[str, Any]
) -> ResiliencePolicy:
    """Retry, breaker and outbound-limit keys of one provider (defaults: ResiliencePolicy,
    then the kind's own ``resilience_defaults``)."""
    values: dict[str, Any] = {}
    for key, default in {**vars(ResiliencePolicy()), **kind_defaults}.items():
        if isinstance(default, int):
            # retries = 0 is the way to turn retries off; every other count is at least 1.
            low = 0 if key == "retries" else 1
            value = reader.integer(table, f"{where}.{key}", default, low=low)
        elif key == "retry_budget":
            value = reader._value(table, f"{where}.{key}", (int, float), "a number", default)
            if not 0 < value <= 1:  # nan fails this too
                raise reader.error(
                    f"{where}.{key}", "must be more than 0 and at most 1 (retries = 0: no retries)"
                )
        else:
            value = reader.number(table, f"{where}.{key}", default)
        values[key] = value
    return ResiliencePolicy(**values)


def _token(
    reader: _Reader, table: dict[str, Any], where: str, provider_ids: set[str]
) -> TokenEntry:
    reader.only(table, f"{where}.", {"name", "scope", "token", "token_env", "sha256", "providers"})
    name = reader.string(table, f"{where}.name")
    providers = None
    if "providers" in table:
        providers = frozenset(reader.strings(table, f"{where}.providers", default=[]))
        unknown = sorted(providers - provider_ids)
        if unknown:
            raise reader.error(f"{where}.providers", f"unknown provider id(s) {unknown}")
    scope = reader.string(table, f"{where}.scope")
    if scope not in SCOPES:
        raise reader.error(f"{where}.scope", f"must be one of {sorted(SCOPES)}")
    given = [key for key in ("token", "token_env", "sha256") if key in table]
    if len(given) != 1:
        raise reader.error(f"{where}", "give exactly one of token, token_env or sha256")
    if "sha256" in table:
        digest = reader.string(table, f"{where}.sha256").lower()
        if not re.fullmatch(r"[0-9a-f]{64}", digest):
            raise reader.error(f"{where}.sha256", "must be 64 hexadecimal characters")
        return TokenEntry.from_digest(name, scope, digest, providers)
    return TokenEntry.from_token(name, scope, reader.secret(table, where, "token"), providers)


def _refuse_duplicate_tokens(
    reader: _Reader, tokens: list[TokenEntry], tables: list[dict[str, Any]]
) -> None:
    """Two entries with one token (inline, by variable or by digest) would let the last one's
    scope and providers win silently; the second is named."""
    first: dict[bytes, int] = {}
    for i, entry in enumerate(tokens):
        earlier = first.setdefault(entry.digest, i)
        if earlier != i:
            key = next(key for key in ("token", "token_env", "sha256") if key in tables[i])
            raise reader.error(
                f"tokens[{i}].{key}",
                f"is the same client token as tokens[{earlier}] ({tokens[earlier].name!r}); "
                "each token must be unique",
            )


_REQUIRED: Any = object()


class _Reader:
    """Typed access to TOML values with errors that name the source and the key."""

    def __init__(self, source: str) -> None:
        self.source = source

    def error(self, key: str, problem: str) -> ConfigError:
        return ConfigError(f"{self.source}: {key}: {problem}")

    def only(self, table: dict[str, Any], where: str, allowed: set[str]) -> None:
        for key in table:
            if key not in allowed:
                raise self.error(f"{where}{key}", "unknown key")

    def table(self, data: dict[str, Any], key: str) -> dict[str, Any]:
        value = data.get(key, {})
        if not isinstance(value, dict):
            raise self.error(key, "must be a table")
        return value

    def tables(self, data: dict[str, Any], key: str, *, required: bool) -> list[dict[str, Any]]:
        value = data.get(key)
        if value is None and required:
            raise self.error(key, f"at least one [[{key}]] table is required")
        if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
            raise self.error(key, f"must be an array of tables ([[{key}]])")
        return value

    def _value(self, table: dict[str, Any], key: str, kinds: tuple, what: str, default: Any):
        name = key.rsplit(".", 1)[-1]
        if table.get(name) is None:
            if default is _REQUIRED or default is None:
                raise self.error(key, "is required")
            return default
        value = table[name]
        if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
            raise self.error(key, f"must be {what}")
        return value

    def string(self, table: dict[str, Any], key: str, default: Any = _REQUIRED) -> str:
        return self._value(table, key, (str,), "a string", default)

    def integer(
        self,
        table: dict[str, Any],
        key: str,
        default: int,
        *,
        low: int | None = None,
        high: int | None = None,
    ) -> int:
        value = self._value(table, key, (int,), "an integer", default)
        if (low is not None and value < low) or (high is not None and value > high):
            bounds = f"from {low} to {high}" if high is not None else f"of at least {low}"
            raise self.error(key, f"must be an integer {bounds}")
        return value

    def number(self, table: dict[str, Any], key: str, default: float) -> float:
        value = self._value(table, key, (int, float), "a number", default)
        # TOML has nan and inf: neither is a usable timeout, rate or delay.
        if not math.isfinite(value) or value <= 0:
            raise self.error(key, "must be a number greater than 0")
        return float(value)

    def positive_integer(self, table: dict[str, Any], key: str, default: int) -> int:
        return self.integer(table, key, default, low=1)

    def strings(self, table: dict[str, Any], key: str, default: list[str]) -> list[str]:
        value = self._value(table, key, (list,), "a list of strings", default)
        if not all(isinstance(item, str) for item in value):
            raise self.error(key, "must be a list of strings")
        return value

    def boolean(self, table: dict[str, Any], key: str, default: bool) -> bool:
        return self._value(table, key, (bool,), "true or false", default)

    def secret(self, table: dict[str, Any], where: str, key: str) -> str:
        """A secret given inline (``key``) or by environment variable name (``key_env``)."""
        if key in table and f"{key}_env" in table:
            raise self.error(f"{where}.{key}", f"give {key} or {key}_env, not both")
        if f"{key}_env" in table:
            variable = self.string(table, f"{where}.{key}_env")
            value = os.environ.get(variable)
            if not value:
                raise self.error(
                    f"{where}.{key}_env", f"environment variable {variable} is not set"
                )
            return value
        value = self.string(table, f"{where}.{key}")
        if not value:
            raise self.error(f"{where}.{key}", "must not be empty")
        return value
