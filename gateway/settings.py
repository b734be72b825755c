"""Configuration: one TOML file, validated at start-up, secrets optionally from the environment.

One pydantic model per table (``[server]``, ``[limits]``, ``[cache]``, ``[cluster]``,
``[observability]``, ``[persisted]``, ``[datapacket_endpoint]``, ``[[tokens]]``;
``[[providers]]`` is a union of the kinds' own models, chosen by ``kind``:
``providers/<kind>/options.py``). Unknown keys are refused, values are never coerced into
another type, and every range is declared on its field. A mistake stops start-up with one
``ConfigError`` line naming the file and the key, translated from pydantic's errors; it never
holds a value, so never a secret. The README's configuration table is generated from the same
fields (``configuration_table``), and a test keeps the two equal.

pydantic-settings is not used: the configuration is one file, and only secrets come from the
environment, each by the variable its ``<key>_env`` names; settings-wide environment
overrides would be a second, undocumented way to set every key.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from annotated_types import Ge, Gt, Le
from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails, PydanticUndefined

from gateway.auth import TokenEntry
from gateway.limits import QueryLimits
from gateway.persisted import DEFAULT_TTL, PersistedSettings, load_manifest
from providers.base import ProviderConfig
from providers.cache import DEFAULT_TTLS
from providers.cluster import ClusterSettings, parses_as_redis_url
from providers.options import (
    PATTERN_PROBLEMS,
    URL_PATTERN,
    Count,
    EnvName,
    ProviderTable,
    Seconds,
    Secret,
    Table,
    problem,
    resolve_variables,
)
from providers.registry import PROVIDER_KINDS

__all__ = [
    "ConfigError",
    "ObservabilitySettings",
    "Settings",
    "configuration_table",
    "load_settings",
    "settings_from_dict",
]


class ConfigError(Exception):
    """The configuration is invalid; the message names the source and the key."""


class ServerTable(Table):
    """``[server]``: where to listen, what to serve, and the inbound connection limits."""

    host: str = Field("127.0.0.1", description="listen address")
    port: int = Field(8000, ge=1, le=65535, description="listen port")
    graphiql: bool = Field(
        True,
        description="serve GraphiQL at `GET /graphql` to browsers, and its assets under "
        "`/graphiql/static/`",
    )
    graphiql_cdn: bool = Field(
        False,
        description="load GraphiQL's assets from unpkg.com, same versions and digests, instead "
        'of the gateway (false: the page works offline; see "GraphiQL")',
    )
    introspection: bool = Field(
        True, description="answer introspection queries (GraphiQL needs them)"
    )
    cors_origins: list[str] = Field(
        default_factory=list, description="browser origins allowed by CORS (none: closed)"
    )
    cors_origin_regex: str | None = Field(
        None,
        description="a regular expression; origins matching it whole are allowed too. The "
        r"embedded demo sets `http://(localhost|127\.0\.0\.1|\[::1\])(:[0-9]{1,5})?`, so a "
        "frontend under development on any local port (`:3000`, `:5173`) can call it; a "
        "configured gateway allows no origin unless told",
    )
    shutdown_timeout: Seconds = Field(
        30.0, description="seconds in-flight requests get to finish once shutdown starts"
    )
    request_deadline: Seconds = Field(
        30.0,
        description="seconds a GraphQL request may spend on upstream calls, queueing and "
        "retries included; a provider that has not answered by then is reported as "
        "`PROVIDER_UNAVAILABLE` beside the others' data. Lists get three quarters of the time "
        "left, so that a provider still listing is given up on while the others' per-server "
        "calls for the entries on the page (`powerStatus`, `trafficPlan`, `hasBgp`, …) still fit",
    )
    compiled_execution: bool = Field(
        True,
        description="shape responses with compiled selections; false runs graphql-core's "
        "interpreter for every field, for comparison or to rule the compiler out while "
        "debugging (see docs/performance.md)",
    )
    header_timeout: Seconds = Field(
        10.0,
        description="seconds a connection may take to send a complete request head, counted "
        "from when it opens and again from the end of each response; then it is closed "
        "without an answer",
    )
    body_timeout: Seconds = Field(
        30.0,
        description="seconds a POST body may take to arrive once its head has; then HTTP 408 "
        "`BAD_REQUEST` and the connection is closed",
    )
    keepalive_timeout: Seconds = Field(
        5.0, description="seconds an idle keep-alive connection stays open after a response"
    )
    max_connections: Count = Field(
        1000,
        description="connections served at once by one replica; a request on a connection "
        "beyond answers HTTP 503 `RATE_LIMITED` with `Retry-After: 1`, and that connection "
        "is closed",
    )
    ops_token: Secret | None = Field(
        None,
        description="when set, `GET /readyz` and `GET /metrics` need `Authorization: Bearer "
        "<ops_token>` (else HTTP 401 `NOT_AUTHORIZED`, compared in constant time); unset (the "
        "demo too), they are open. `/healthz` is always open",
    )
    ops_token_env: EnvName | None = Field(
        None, description="the name of an environment variable holding `ops_token`"
    )

    @field_validator("cors_origin_regex", mode="before")
    @classmethod
    def _blank_is_unset(cls, pattern: Any) -> Any:
        return None if pattern == "" else pattern

    @model_validator(mode="before")
    @classmethod
    def _read_variables(cls, data: Any) -> Any:
        return resolve_variables(data, ("ops_token",)) if isinstance(data, dict) else data

    @field_validator("cors_origin_regex")
    @classmethod
    def _compiles(cls, pattern: str | None) -> str | None:
        if pattern is not None:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise problem("", f"not a regular expression ({exc})") from None
        return pattern


class LimitsTable(Table):
    """``[limits]``: inbound limits per document and per client token."""

    max_depth: Count = Field(QueryLimits.max_depth, description="nesting of selections")
    max_aliases: Count = Field(QueryLimits.max_aliases, description="aliased fields")
    max_tokens: Count = Field(
        QueryLimits.max_tokens, description="size of the document in lexical tokens"
    )
    max_operations: Count = Field(QueryLimits.max_operations, description="operations per document")
    max_cost: Count = Field(
        QueryLimits.max_cost,
        description="estimated upstream fan-out: 10 per root field, plus 1 per field per item "
        "of the page it sits in, plus 5 per item for fields that may need an extra upstream "
        "call per server (`powerStatus`, `network`, `system`): 50 servers with their network "
        "cost far more than 50 names. Fragments count once per spread, as if expanded; "
        "counting stops at the first limit passed (`extensions.actual` is then a lower bound, "
        '"at least N")',
    )
    max_body_bytes: Count = Field(
        QueryLimits.max_body_bytes, description="larger request bodies answer HTTP 413"
    )
    max_merge_work: Count = Field(
        QueryLimits.max_merge_work,
        description="units of work graphql-core may spend checking that fields with the same "
        "response name can be merged (a comparison of two fields or two fragments costs 2); "
        "this check grows with the square of the document (hundreds of fragments spread side "
        "by side), so over the budget the document is refused; six fragments of 13 fields "
        "each, all spread in one selection set, need about 630 and GraphiQL's introspection "
        "query none",
    )
    queries_per_minute: Count = Field(
        600,
        description="per client token (per replica; one budget for all with `[cluster]`); "
        "over it: HTTP 429, `RATE_LIMITED`, `Retry-After`",
    )
    mutations_per_minute: Count = Field(60, description="per client token, like queries")

    def query_limits(self) -> QueryLimits:
        """The per-document limits."""
        return QueryLimits(**{key: getattr(self, key) for key in vars(QueryLimits())})


#: Seconds a read stays cached: 0 turns caching of that kind off.
TimeToLive = Annotated[float, Field(ge=0, allow_inf_nan=False)]


class CacheTable(Table):
    """``[cache]``: the across-request cache of upstream reads, a TTL per resource kind."""

    enabled: bool = Field(
        True,
        description="cache upstream reads across requests (false: every read goes upstream, "
        "for debugging and baselines); upstream `Cache-Control: no-store`/`max-age` is "
        "honoured; any successful mutation evicts that provider instance's entries; "
        "identical reads in flight share one upstream call",
    )
    responses: bool = Field(
        True,
        description="also keep whole query responses (with `enabled`): a repeated query is "
        "answered without running it, while every upstream read it was built from is fresh "
        "and no write reached those providers since; keyed by document, operation, variables "
        "and the client token's provider scope; responses with errors are never kept",
    )
    servers: TimeToLive = Field(
        DEFAULT_TTLS["servers"], description="seconds a server read stays fresh"
    )
    billing: TimeToLive = Field(
        DEFAULT_TTLS["billing"],
        description="seconds invoices, subscriptions and account stay fresh",
    )
    support: TimeToLive = Field(
        DEFAULT_TTLS["support"], description="seconds a support request read stays fresh"
    )
    traffic: TimeToLive = Field(
        DEFAULT_TTLS["traffic"], description="seconds a traffic read stays fresh"
    )
    catalog: TimeToLive = Field(
        DEFAULT_TTLS["catalog"],
        description="seconds plans, sizes, regions, locations and stock stay fresh",
    )

    def ttls(self) -> dict[str, float]:
        """Seconds per resource kind; empty when the cache is off."""
        return {key: getattr(self, key) for key in DEFAULT_TTLS} if self.enabled else {}

    def keeps_responses(self) -> bool:
        """Whether whole responses are cached (they are built from cached reads only)."""
        return self.enabled and self.responses


REDIS_URL_PATTERN = r"^(redis|rediss|unix)://"
KEY_PREFIX_PATTERN = r"^[!-~]{1,64}$"


class ClusterTable(Table):
    """``[cluster]``: the Redis several replicas share (off by default: state in process)."""

    redis_url: Secret | None = Field(
        None,
        description="the Redis (or Valkey) several replicas share, e.g. "
        "`redis://redis:6379/0` (`rediss://` for TLS, `unix://` for a socket; a password "
        "goes in the URL, so prefer `redis_url_env`). None: every replica keeps its state in "
        'process, as a single one does. See docs/deploy.md, "Several replicas"',
    )
    redis_url_env: EnvName | None = Field(
        None, description="the name of an environment variable holding `redis_url`"
    )
    key_prefix: str = Field(
        "fleetql:",
        pattern=KEY_PREFIX_PATTERN,
        description="the start of every key FleetQL writes; give each FleetQL deployment "
        "sharing one Redis its own",
    )
    timeout: Seconds = Field(
        0.25,
        description="seconds one Redis operation may take; past it (or on any Redis error) "
        "the replica falls back to its in-process state, counts it in "
        "`fleetql_cluster_fallbacks_total` and reports `degraded` in `/readyz` until a "
        "background ping succeeds again",
    )
    connect_timeout: Seconds = Field(
        0.5,
        description="seconds the background reconnect ping may spend opening a connection to "
        "Redis; an operation made for a request never waits longer than `timeout`, "
        "connecting included",
    )

    @model_validator(mode="before")
    @classmethod
    def _read_variables(cls, data: Any) -> Any:
        return resolve_variables(data, ("redis_url",)) if isinstance(data, dict) else data

    @field_validator("redis_url")
    @classmethod
    def _is_a_redis_url(cls, url: SecretStr | None) -> SecretStr | None:
        if url is None:
            return url
        if not re.match(REDIS_URL_PATTERN, url.get_secret_value()):
            raise problem("", "must be a redis://, rediss:// or unix:// URL")
        if not parses_as_redis_url(url.get_secret_value()):
            # The parser's own message may quote the URL (a password): never shown.
            raise problem("", "is not a valid Redis URL (check its port, database and options)")
        return url

    def cluster_settings(self) -> ClusterSettings | None:
        """The store's settings; ``None`` when no Redis is configured."""
        if self.redis_url is None:
            return None
        return ClusterSettings(
            url=self.redis_url.get_secret_value(),
            key_prefix=self.key_prefix,
            timeout=self.timeout,
            connect_timeout=self.connect_timeout,
        )


class PersistedTable(Table):
    """``[persisted]``: trusted documents, and how long registered documents are kept."""

    manifest: str | None = Field(
        None,
        min_length=1,
        description="a JSON file of trusted documents, read at start-up: graphql-codegen's "
        'client preset `{"<sha256>": "query …"}` or Apollo\'s persisted-query manifest; each '
        "hash must be its document's SHA-256. A relative path is from the configuration "
        "file's folder. Clients send them by hash (`extensions.persistedQuery`, as for "
        'automatic persisted queries). See "Persisted queries"',
    )
    only: bool = Field(
        False,
        description="run only the manifest's documents: any other is refused "
        "(`PERSISTED_QUERY_NOT_IN_LIST`) before it is parsed, and documents are not "
        "registered, except for tokens with `free_documents`; needs `manifest`",
    )
    ttl: Seconds = Field(
        DEFAULT_TTL,
        description="seconds a document registered by automatic persisted queries is kept "
        "(in process: at most 10,000 documents and 16 MiB; with `[cluster]` in Redis, each "
        "key expiring after it)",
    )

    @model_validator(mode="after")
    def _only_needs_a_manifest(self) -> PersistedTable:
        if self.only and self.manifest is None:
            raise problem("only", "needs `manifest` (the documents to allow)")
        return self

    def persisted_settings(self, base: Path) -> PersistedSettings:
        """The settings, the manifest read from ``base`` when its path is relative;
        ``ValueError`` (one line) for a manifest that cannot be used."""
        manifest = load_manifest(base / self.manifest) if self.manifest is not None else {}
        return PersistedSettings(manifest=manifest, only=self.only, ttl=self.ttl)


class SubscriptionsTable(Table):
    """``[subscriptions]``: live server status over WebSocket (graphql-transport-ws)."""

    poll_seconds: Seconds = Field(
        5.0,
        description="seconds between two reads of a provider's servers while anyone "
        "subscribes to `serverStatusChanged` (one poller per provider instance, shared by "
        "every subscriber; reads go through the read cache and rate limits)",
    )
    action_poll_seconds: Seconds = Field(
        1.0,
        description="seconds between polls of a provider while a power action sent through "
        "this gateway is in progress there (until its server's status changes, at most 30 "
        "polls)",
    )
    max_per_token: Count = Field(
        10,
        description="subscriptions one token may hold open at once, across its connections; "
        "one more is refused with `BAD_REQUEST`",
    )


class DataPacketEndpointTable(Table):
    """``[datapacket_endpoint]``: DataPacket's own schema at ``/v0/graphql``."""

    enabled: bool = Field(
        True,
        description="serve `/v0/graphql`: DataPacket's schema exactly (none of FleetQL's "
        "additions or relaxations), over DataPacket providers only; false: that path is 404",
    )
    providers: list[str] | None = Field(
        None,
        description="ids of the `datapacket` providers behind `/v0/graphql`, merged as one "
        "account (none: every provider of kind `datapacket`)",
    )


class ObservabilitySettings(Table):
    """``[observability]``: log level, ``/metrics``, and optional tracing."""

    log_level: Literal["debug", "info", "warning", "error"] = Field(
        "info", description="the least severe level logged (any case)"
    )
    metrics: bool = Field(True, description="serve Prometheus metrics at `GET /metrics`")
    otlp_endpoint: str | None = Field(
        None,
        pattern=URL_PATTERN,
        description="OTLP/HTTP traces endpoint, e.g. `http://collector:4318/v1/traces` "
        "(none: no tracing; needs `pip install 'fleetql[tracing]'`)",
    )
    service_name: str = Field("fleetql", description="the service name traces carry")

    @field_validator("otlp_endpoint", mode="before")
    @classmethod
    def _blank_is_unset(cls, endpoint: Any) -> Any:
        return None if endpoint == "" else endpoint

    @field_validator("log_level", mode="before")
    @classmethod
    def _any_case(cls, level: Any) -> Any:
        return level.lower() if isinstance(level, str) else level


TOKEN_KEYS = ("token", "token_env", "sha256")
SHA256_PATTERN = r"^[0-9a-fA-F]{64}$"
#: What a value failing each pattern must be, in words.
PATTERNS = {
    **PATTERN_PROBLEMS,
    SHA256_PATTERN: "must be 64 hexadecimal characters",
    KEY_PREFIX_PATTERN: "must be 1-64 printable ASCII characters, no spaces",
}


class TokenTable(Table):
    """``[[tokens]]``: one client token, given inline, by variable or by its SHA-256."""

    name: str = Field(description="a label for logs, never the token itself")
    scope: Literal["read-only", "full-access"] = Field(
        description="`read-only` (queries) or `full-access` (queries and mutations)"
    )
    token: Secret | None = Field(
        None, description="the client token (give exactly one of `token`, `token_env`, `sha256`)"
    )
    token_env: EnvName | None = Field(
        None, description="the name of an environment variable holding the token"
    )
    sha256: str | None = Field(
        None,
        pattern=SHA256_PATTERN,
        description='the token\'s SHA-256 hex digest: `printf %s "$TOKEN" | sha256sum`',
    )
    providers: list[str] | None = Field(
        None,
        description="provider ids the token sees and touches, in lists, lookups, mutations, "
        "errors and totals (none: all)",
    )
    free_documents: bool = Field(
        False,
        description="may send documents outside the manifest when `persisted.only` is set "
        "(a service of one's own, not a published frontend)",
    )

    @model_validator(mode="before")
    @classmethod
    def _one_form(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        if sum(key in data for key in TOKEN_KEYS) != 1:
            raise problem("", "give exactly one of token, token_env or sha256")
        return resolve_variables(data, ("token",))

    def given_as(self) -> str:
        """The key the token was given by: ``token``, ``token_env`` or ``sha256``."""
        return "sha256" if self.sha256 is not None else "token_env" if self.token_env else "token"

    def entry(self) -> TokenEntry:
        """The token as the gateway keeps it: a digest."""
        providers = frozenset(self.providers) if self.providers is not None else None
        if self.sha256 is not None:
            return TokenEntry.from_digest(
                self.name, self.scope, self.sha256.lower(), providers, self.free_documents
            )
        assert self.token is not None  # one of the three forms; _one_form saw to it
        return TokenEntry.from_token(
            self.name, self.scope, self.token.get_secret_value(), providers, self.free_documents
        )


#: A ``[[providers]]`` table: the model of the kind it names.
ProviderTables = Annotated[
    Union[tuple(adapter.options_model for adapter in PROVIDER_KINDS.values())],  # noqa: UP007
    Field(discriminator="kind"),
]


class ConfigFile(Table):
    """The whole file; rules across tables are checked once every table is valid."""

    server: ServerTable = Field(default_factory=ServerTable)
    limits: LimitsTable = Field(default_factory=LimitsTable)
    cache: CacheTable = Field(default_factory=CacheTable)
    cluster: ClusterTable = Field(default_factory=ClusterTable)
    observability: ObservabilitySettings = Field(default_factory=ObservabilitySettings)
    persisted: PersistedTable = Field(default_factory=PersistedTable)
    subscriptions: SubscriptionsTable = Field(default_factory=SubscriptionsTable)
    datapacket_endpoint: DataPacketEndpointTable = Field(default_factory=DataPacketEndpointTable)
    providers: list[ProviderTables]
    tokens: list[TokenTable]

    @model_validator(mode="after")
    def _consistent(self) -> ConfigFile:
        ids = [provider.id for provider in self.providers]
        for i, provider_id in enumerate(ids):
            if provider_id in ids[:i]:
                raise problem(f"providers[{i}].id", f"duplicate id {provider_id!r}")
        kinds = {provider.id: provider.kind for provider in self.providers}
        for provider_id in self.datapacket_endpoint.providers or ():
            if kinds.get(provider_id, "datapacket") != "datapacket":
                message = f"{provider_id!r} is a {kinds[provider_id]} provider, not datapacket"
                raise problem("datapacket_endpoint.providers", message)
        unknown = sorted(set(self.datapacket_endpoint.providers or ()) - set(ids))
        if unknown:
            raise problem("datapacket_endpoint.providers", f"unknown provider id(s) {unknown}")
        first: dict[bytes, int] = {}
        for i, token in enumerate(self.tokens):
            unknown = sorted(set(token.providers or ()) - set(ids))
            if unknown:
                raise problem(f"tokens[{i}].providers", f"unknown provider id(s) {unknown}")
            # Two entries with one token (inline, by variable or by digest) would let the
            # last one's scope and providers win silently; the second is named.
            earlier = first.setdefault(token.entry().digest, i)
            if earlier != i:
                raise problem(
                    f"tokens[{i}].{token.given_as()}",
                    f"is the same client token as tokens[{earlier}] "
                    f"({self.tokens[earlier].name!r}); each token must be unique",
                )
        return self


def _default(model: type[Table], key: str) -> Any:
    """A key's default, declared once on its table's model."""
    return model.model_fields[key].get_default(call_default_factory=True)


@dataclass(frozen=True)
class Settings:
    """Everything the gateway needs to start (defaults: those of the file's tables)."""

    providers: list[ProviderConfig]
    tokens: list[TokenEntry] = field(repr=False)
    host: str = _default(ServerTable, "host")
    port: int = _default(ServerTable, "port")
    graphiql: bool = _default(ServerTable, "graphiql")
    graphiql_cdn: bool = _default(ServerTable, "graphiql_cdn")
    introspection: bool = _default(ServerTable, "introspection")
    cors_origins: tuple[str, ...] = ()
    cors_origin_regex: str | None = _default(ServerTable, "cors_origin_regex")
    limits: QueryLimits = field(default_factory=QueryLimits)
    queries_per_minute: int = _default(LimitsTable, "queries_per_minute")
    mutations_per_minute: int = _default(LimitsTable, "mutations_per_minute")
    shutdown_timeout: float = _default(ServerTable, "shutdown_timeout")
    request_deadline: float = _default(ServerTable, "request_deadline")
    header_timeout: float = _default(ServerTable, "header_timeout")
    body_timeout: float = _default(ServerTable, "body_timeout")
    keepalive_timeout: float = _default(ServerTable, "keepalive_timeout")
    max_connections: int = _default(ServerTable, "max_connections")
    #: Bearer token guarding /readyz and /metrics; None: they are open.
    ops_token: str | None = field(default=None, repr=False)
    compiled_execution: bool = _default(ServerTable, "compiled_execution")
    #: Whole query responses cached (``[cache] enabled`` and ``responses``).
    response_cache: bool = True
    #: The Redis shared by several replicas; ``None``: every piece of state in process.
    cluster: ClusterSettings | None = None
    observability: ObservabilitySettings = field(default_factory=ObservabilitySettings)
    #: Trusted documents and automatic persisted queries (``[persisted]``).
    persisted: PersistedSettings = field(default_factory=PersistedSettings)
    #: Seconds between a provider's polls while anyone subscribes (``[subscriptions]``).
    poll_seconds: float = _default(SubscriptionsTable, "poll_seconds")
    #: Seconds between those polls while a power action sent through the gateway runs.
    action_poll_seconds: float = _default(SubscriptionsTable, "action_poll_seconds")
    #: Subscriptions one token may hold open at once.
    subscriptions_per_token: int = _default(SubscriptionsTable, "max_per_token")
    #: Serve DataPacket's own schema at /v0/graphql (``[datapacket_endpoint]``).
    datapacket_endpoint: bool = _default(DataPacketEndpointTable, "enabled")
    #: The provider ids behind /v0/graphql; ``None``: every provider of kind datapacket.
    datapacket_providers: tuple[str, ...] | None = None
    source: str = "<defaults>"

    def datapacket_provider_ids(self) -> frozenset[str]:
        """The provider ids ``/v0/graphql`` serves."""
        if self.datapacket_providers is not None:
            return frozenset(self.datapacket_providers)
        return frozenset(p.id for p in self.providers if p.kind == "datapacket")


def load_settings(path: str | os.PathLike[str]) -> Settings:
    """Read and validate a TOML configuration file."""
    source = str(path)
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{source}: file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML ({exc})") from None
    return settings_from_dict(data, source=source, base=Path(path).parent)


def settings_from_dict(
    data: dict[str, Any], *, source: str = "<dict>", base: Path | None = None
) -> Settings:
    """Validate an already-parsed configuration; relative paths in it are from ``base``
    (the configuration file's folder; the working directory when ``None``)."""
    try:
        config = ConfigFile.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{source}: {_one_line(exc.errors(include_url=False)[0])}") from None
    try:
        persisted = config.persisted.persisted_settings(base or Path())
    except ValueError as exc:
        raise ConfigError(f"{source}: persisted.manifest: {exc}") from None
    server, limits = config.server, config.limits
    cache_ttls = config.cache.ttls()
    return Settings(
        providers=[provider.provider_config(cache_ttls) for provider in config.providers],
        tokens=[token.entry() for token in config.tokens],
        host=server.host,
        port=server.port,
        graphiql=server.graphiql,
        graphiql_cdn=server.graphiql_cdn,
        introspection=server.introspection,
        cors_origins=tuple(server.cors_origins),
        cors_origin_regex=server.cors_origin_regex,
        limits=limits.query_limits(),
        queries_per_minute=limits.queries_per_minute,
        mutations_per_minute=limits.mutations_per_minute,
        shutdown_timeout=server.shutdown_timeout,
        request_deadline=server.request_deadline,
        header_timeout=server.header_timeout,
        body_timeout=server.body_timeout,
        keepalive_timeout=server.keepalive_timeout,
        max_connections=server.max_connections,
        ops_token=server.ops_token.get_secret_value() if server.ops_token else None,
        compiled_execution=server.compiled_execution,
        response_cache=config.cache.keeps_responses(),
        cluster=config.cluster.cluster_settings(),
        observability=config.observability,
        persisted=persisted,
        poll_seconds=config.subscriptions.poll_seconds,
        action_poll_seconds=config.subscriptions.action_poll_seconds,
        subscriptions_per_token=config.subscriptions.max_per_token,
        datapacket_endpoint=config.datapacket_endpoint.enabled,
        datapacket_providers=(
            tuple(config.datapacket_endpoint.providers)
            if config.datapacket_endpoint.providers is not None
            else None
        ),
        source=source,
    )


# --- errors ---------------------------------------------------------------------------------

ARRAYS = ("providers", "tokens")
#: pydantic's error types, in the file's words.
PROBLEMS = {
    "missing": "is required",
    "extra_forbidden": "unknown key",
    "bool_type": "must be true or false",
    "int_type": "must be an integer",
    "float_type": "must be a number",
    "string_type": "must be a string",
    "list_type": "must be a list of strings",
    "dict_type": "must be a table",
    "model_type": "must be a table",
    "model_attributes_type": "must be a table",
    "finite_number": "must be a finite number",
    "union_tag_not_found": "is required",
}
#: pydantic's bound errors: the words, and the context key holding the bound.
BOUNDS = {
    "greater_than": ("greater than", "gt"),
    "greater_than_equal": ("at least", "ge"),
    "less_than_equal": ("at most", "le"),
}


def _one_line(error: ErrorDetails) -> str:
    """``<key>: <problem>`` for pydantic's error; the value itself is never quoted."""
    loc, kind, ctx = list(error["loc"]), error["type"], error.get("ctx") or {}
    if len(loc) >= 3 and loc[0] == "providers" and isinstance(loc[1], int):
        del loc[2]  # the union's tag: the kind, already known from the table
    top = len(loc) >= 1 and loc[0] in ARRAYS
    depth = 3 if top else 2  # a key of a table of an array, or of a table
    nested = len(loc) > depth  # an item of a list of strings
    key = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc[:depth])
    key = key.lstrip(".")
    if kind == "config" and ctx.get("key"):
        key = f"{key}.{ctx['key']}" if key else str(ctx["key"])
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        key += ".kind"
    return f"{key}: {_problem(kind, ctx, loc, nested)}"


def _problem(kind: str, ctx: dict[str, Any], loc: list[Any], nested: bool) -> str:
    if kind == "config":
        return str(ctx["message"])
    if loc and loc[0] in ARRAYS and len(loc) == 1:
        if kind == "missing":
            return f"at least one [[{loc[0]}]] table is required"
        return f"must be an array of tables ([[{loc[0]}]])"
    if nested and kind in ("string_type", "list_type"):
        return "must be a list of strings"
    if kind == "union_tag_invalid":
        return f"unknown kind {ctx.get('tag')!r}; one of {sorted(PROVIDER_KINDS)}"
    if kind == "string_pattern_mismatch":
        return PATTERNS.get(ctx.get("pattern", ""), f"must match {ctx.get('pattern')}")
    if kind in BOUNDS:
        words, bound = BOUNDS[kind]
        return f"must be {words} {ctx[bound]:g}"
    if kind == "too_short" and ctx.get("min_length") == 1:
        return "must not be empty"
    if kind == "literal_error":
        return f"must be {ctx.get('expected')}"
    # Any other problem is named by its type: pydantic's own message may quote the value.
    return PROBLEMS.get(kind, f"is invalid ({kind})")


# --- the README's table ---------------------------------------------------------------------


def configuration_table() -> str:
    """The README's configuration table (Markdown), from the models' fields."""
    rows = ["| Key | Default | Values | Meaning |", "|---|---|---|---|"]
    for table, model in (
        ("server", ServerTable),
        ("limits", LimitsTable),
        ("cache", CacheTable),
        ("cluster", ClusterTable),
        ("observability", ObservabilitySettings),
        ("persisted", PersistedTable),
        ("subscriptions", SubscriptionsTable),
        ("datapacket_endpoint", DataPacketEndpointTable),
    ):
        rows += _rows(f"{table}.", {"": model})
    rows += _rows("providers[].", {kind: a.options_model for kind, a in PROVIDER_KINDS.items()})
    rows += _rows("tokens[].", {"": TokenTable})
    return "\n".join(rows) + "\n"


def _rows(prefix: str, models: dict[str, type[Table]]) -> list[str]:
    """One row per key of ``models`` (one model, or one per provider kind), the ``_env`` twin
    of a secret beside it; keys only some kinds have name those kinds."""
    keys: dict[str, dict[str, FieldInfo]] = {}
    for kind, model in models.items():
        for name, info in model.model_fields.items():
            keys.setdefault(name, {})[kind] = info
    shared = [name for name, by_kind in keys.items() if len(by_kind) == len(models)]
    own = [name for name in keys if name not in shared]
    rows = []
    for name in shared + own:
        by_kind = keys[name]
        if name.endswith("_env") and name.removesuffix("_env") in keys:
            continue
        shown = f"`{prefix}{name}`"
        if f"{name}_env" in keys:
            shown += f" / `{name}_env`"
        meaning = next(iter(by_kind.values())).description or ""
        if name in own:
            meaning = ", ".join(by_kind) + ": " + meaning
        defaults = _per_kind({kind: _shown_default(info) for kind, info in by_kind.items()})
        values = {kind: _values(info) for kind, info in by_kind.items()}
        if name == "kind":  # each kind's model narrows it to its own name
            meaning = ProviderTable.model_fields["kind"].description or ""
            shown_values = " \\| ".join(values.values())
        else:
            shown_values = _per_kind(values)
        rows.append(f"| {shown} | {_cell(defaults)} | {shown_values} | {_cell(meaning)} |")
    return rows


def _per_kind(shown: dict[str, str]) -> str:
    """A cell: the most common text, then each kind's own where kinds differ."""
    texts = list(shown.values())
    common = max(texts, key=texts.count)
    others = [f"{kind}: {text}" for kind, text in shown.items() if text != common]
    return "; ".join([common, *others])


def _shown_default(info: FieldInfo) -> str:
    if info.is_required():
        return "required"
    value = info.get_default(call_default_factory=True)
    if value is None or value is PydanticUndefined:
        return "none"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, float):
        return f"`{value:g}`"
    if isinstance(value, str):
        return f'`"{value}"`'
    return f"`{value!r}`"


def _values(info: FieldInfo) -> str:
    """What a key accepts: its type and range, from the field's annotation and metadata."""
    annotation = info.annotation
    if get_origin(annotation) is Union or type(annotation).__name__ == "UnionType":
        annotation = next(arg for arg in get_args(annotation) if arg is not type(None))
    if get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    if get_origin(annotation) is Literal:
        return " \\| ".join(f"`{value}`" for value in get_args(annotation))
    for meta in info.metadata:
        pattern = getattr(meta, "pattern", None)
        if pattern in PATTERNS:
            return _cell(PATTERNS[pattern].removeprefix("must be "))
    if annotation is SecretStr:
        return "secret string"
    if annotation is bool:
        return "`true` \\| `false`"
    if get_origin(annotation) is list:
        return "list of strings"
    if get_origin(annotation) is dict:
        return "table"
    noun = {int: "integer", float: "number", str: "string"}.get(annotation, "value")
    bounds = {type(meta): meta for meta in info.metadata if isinstance(meta, Gt | Ge | Le)}
    low = f"> {bounds[Gt].gt:g}" if Gt in bounds else f"≥ {bounds[Ge].ge:g}" if Ge in bounds else ""
    if Le in bounds:
        high = bounds[Le].le
        return f"{noun} {bounds[Ge].ge:g}–{high:g}" if Ge in bounds else f"{noun} {low}, ≤ {high:g}"
    return f"{noun} {low}".strip()


def _cell(text: str) -> str:
    return text.replace("|", "\\|")
