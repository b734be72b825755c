"""The ``[[providers]]`` table: the keys every kind shares, and how a kind declares its own.

Each kind's ``providers/<kind>/options.py`` subclasses ``ProviderTable`` with its ``kind``
literal, its ``base_url`` and ``prefix`` defaults, its credentials (``SecretStr`` fields, each
also accepted as ``<key>_env``, the name of an environment variable holding it) and its
options; the adapter class names that model (``Provider.options_model``). The gateway's
settings validate each table against the model its ``kind`` names and give the adapter the
``ProviderConfig`` the model builds, credentials unwrapped.

Problems a field's type and bounds cannot express are raised with ``problem(key, message)``,
which names the key (relative to the table) for the one-line configuration error.
"""

from __future__ import annotations

import os
from typing import Annotated, Any, ClassVar, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator
from pydantic_core import PydanticCustomError, PydanticUndefined

from providers.base import ProviderConfig
from providers.resilience import ResiliencePolicy

__all__ = [
    "ID_PATTERN",
    "PATTERN_PROBLEMS",
    "Count",
    "EnvName",
    "Positive",
    "ProviderTable",
    "Secret",
    "Seconds",
    "Table",
    "TokenAccountTable",
    "base_url_key",
    "credential_key",
    "env_key",
    "prefix_key",
    "problem",
    "resolve_variables",
    "retries_key",
    "retry_backoff_key",
]

#: A number greater than 0 (TOML's nan and inf are refused: neither is a usable rate).
Positive = Annotated[float, Field(gt=0, allow_inf_nan=False)]
#: Seconds: a timeout, delay or cooldown, greater than 0.
Seconds = Positive
#: A count of at least 1.
Count = Annotated[int, Field(ge=1)]
#: A secret given inline: never empty, never shown in a repr or an error.
Secret = Annotated[SecretStr, Field(min_length=1)]
#: The name of an environment variable.
EnvName = Annotated[str, Field(min_length=1)]

ID_PATTERN = r"^[a-z][a-z0-9_-]{0,31}$"
PREFIX_PATTERN = r"^[A-Z][A-Z0-9]{0,9}$"
URL_PATTERN = r"^https?://"
#: What a value failing each pattern must be, in words (pydantic would quote the expression).
PATTERN_PROBLEMS = {
    ID_PATTERN: "must be lowercase letters, digits, '-' or '_' (at most 32, a letter first)",
    PREFIX_PATTERN: "must be 1-10 uppercase letters or digits",
    URL_PATTERN: "must be an http(s) URL",
}


def problem(key: str, message: str) -> PydanticCustomError:
    """A validation error about ``key`` of the table being validated (``""`` in a field's
    own validator: that field); the settings turn it into ``<file>: <where>.<key>: <message>``.
    """
    return PydanticCustomError("config", "{message}", {"message": message, "key": key})


class Table(BaseModel):
    """A configuration table: unknown keys are refused and no value is coerced into another
    type (``true`` is not a number, ``"8"`` not an integer)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


def resolve_variables(data: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    """``data`` with each secret ``key`` given as ``<key>_env`` read from the environment.

    A secret is given inline or by variable, not both; a named variable must be set.
    """
    resolved = dict(data)
    for key in keys:
        variable = data.get(f"{key}_env")
        if variable is None:
            continue
        if key in data:
            raise problem(key, f"give {key} or {key}_env, not both")
        if not isinstance(variable, str):
            raise problem(f"{key}_env", "must be a string")
        value = os.environ.get(variable)
        if not value:
            raise problem(f"{key}_env", f"environment variable {variable} is not set")
        resolved[key] = value
    return resolved


def credential_key(description: str, *, required: bool = True) -> Any:
    """A credential: a secret string, also accepted as ``<key>_env`` (see ``env_key``)."""
    return Field(PydanticUndefined if required else None, description=description)


def env_key(key: str) -> Any:
    """The ``<key>_env`` twin of credential ``key``: an environment variable's name."""
    return Field(None, description=f"the name of an environment variable holding `{key}`")


def base_url_key(default: Any = PydanticUndefined) -> Any:
    """``base_url`` with a kind's default (none: each installation has its own)."""
    return Field(
        default,
        pattern=URL_PATTERN,
        description="the API root (a DCImanager installation has its own, e.g. "
        "`https://dci.example.com`)",
    )


def prefix_key(default: Any) -> Any:
    """``prefix`` with a kind's default."""
    return Field(
        default,
        pattern=PREFIX_PATTERN,
        description="server-name prefix: servers are named `<prefix>-<native id>`",
    )


def retries_key(default: int = ResiliencePolicy.retries, *, most: int | None = None) -> Any:
    """``retries``, with a kind's own default and ceiling when it declares them."""
    return Field(
        default,
        ge=0,
        le=most,
        description="how many times a failed read is retried (connection error, timeout, "
        "429, 502, 503, 504, and what the kind's API signals as retryable); 0 turns retries "
        "off; writes are never retried",
    )


def retry_backoff_key(
    default: float = ResiliencePolicy.retry_backoff, *, most: float | None = None
) -> Any:
    """``retry_backoff``, with a kind's own default and ceiling when it declares them."""
    return Field(
        default,
        gt=0,
        le=most,
        allow_inf_nan=False,
        description="seconds before the first retry, doubled per retry, each pause between "
        "half of it and all of it; `Retry-After` is honoured when the upstream sends it",
    )


def _holds_secret(annotation: Any) -> bool:
    """Whether a field's type is ``SecretStr``, optional or annotated."""
    if annotation is SecretStr:
        return True
    if get_origin(annotation) is Annotated:
        return _holds_secret(get_args(annotation)[0])
    return any(_holds_secret(arg) for arg in get_args(annotation))


class ProviderTable(Table):
    """The keys of a ``[[providers]]`` table every kind shares: its id, upstream timeouts and
    the resilience policy (retries, breaker, outbound limits); see ``ResiliencePolicy``.

    A kind's subclass narrows ``kind`` to its name, gives ``base_url`` and ``prefix`` its
    defaults, and adds its credentials and options.
    """

    #: Keys of earlier configurations, refused with what to use instead.
    RETIRED_KEYS: ClassVar[dict[str, str]] = {
        "concurrency": "is not a key any more; use max_concurrency (upstream calls in flight)",
    }

    id: str = Field(
        pattern=ID_PATTERN,
        description="unique instance id, used in `provider_in`, `Server.provider.id` and errors",
    )
    kind: str = Field(description="the backend type")
    base_url: str = base_url_key()
    prefix: str = prefix_key(PydanticUndefined)
    connect_timeout: Seconds = Field(
        ProviderConfig.connect_timeout, description="seconds to open an upstream connection"
    )
    read_timeout: Seconds = Field(
        ProviderConfig.read_timeout, description="seconds to wait for an upstream answer"
    )
    retries: int = retries_key()
    retry_backoff: float = retry_backoff_key()
    max_backoff: Seconds = Field(
        ResiliencePolicy.max_backoff, description="the ceiling of a retry's delay, in seconds"
    )
    retry_budget: float = Field(
        ResiliencePolicy.retry_budget,
        gt=0,
        le=1,
        allow_inf_nan=False,
        description="retries as a share of the last 10 s of requests, with a floor of 3 "
        "retries per 10 s, so a struggling upstream is not hammered (`retries = 0` turns "
        "retries off)",
    )
    breaker_failures: Count = Field(
        ResiliencePolicy.breaker_failures,
        description="consecutive failures that open the circuit: calls then fail fast with "
        "`PROVIDER_UNAVAILABLE`",
    )
    breaker_cooldown: Seconds = Field(
        ResiliencePolicy.breaker_cooldown,
        description="seconds the circuit stays open before one probe call is let through",
    )
    max_concurrency: Count = Field(
        ResiliencePolicy.max_concurrency,
        description="upstream calls in flight at once, per-server and per-project calls "
        "included; more queue in the gateway. Also the size of the instance's connection pool. "
        "Per replica, with `[cluster]` too",
    )
    rate_per_second: Positive = Field(
        ResiliencePolicy.rate_per_second,
        description="upstream calls started per second (a token bucket per replica; with "
        "`[cluster]` one budget per provider account for every replica, counted over 1.1 s)",
    )

    @classmethod
    def credential_keys(cls) -> tuple[str, ...]:
        """The keys holding secrets (each also accepted as ``<key>_env``)."""
        return tuple(
            name for name, info in cls.model_fields.items() if _holds_secret(info.annotation)
        )

    @classmethod
    def option_keys(cls) -> tuple[str, ...]:
        """The kind's own keys: neither shared nor credentials nor their ``_env`` twins."""
        secret = {*cls.credential_keys()} | {f"{key}_env" for key in cls.credential_keys()}
        not_options = {*ProviderTable.model_fields, *secret}
        return tuple(name for name in cls.model_fields if name not in not_options)

    @model_validator(mode="before")
    @classmethod
    def _read_variables(cls, data: Any) -> Any:
        """Refuse retired keys by name, and read ``<key>_env`` credentials."""
        if not isinstance(data, dict):
            return data
        for key, message in cls.RETIRED_KEYS.items():
            if key in data:
                raise problem(key, message)
        return resolve_variables(data, cls.credential_keys())

    def provider_config(self, cache_ttls: dict[str, float]) -> ProviderConfig:
        """The validated table as the adapter's ``ProviderConfig``."""
        credentials = {
            key: secret.get_secret_value()
            for key in self.credential_keys()
            if (secret := getattr(self, key)) is not None
        }
        return ProviderConfig(
            id=self.id,
            kind=self.kind,
            base_url=self.base_url,
            prefix=self.prefix,
            credentials=credentials,
            options={key: getattr(self, key) for key in self.option_keys()},
            connect_timeout=self.connect_timeout,
            read_timeout=self.read_timeout,
            cache_ttls=cache_ttls,
            resilience=ResiliencePolicy(
                **{key: getattr(self, key) for key in vars(ResiliencePolicy())}
            ),
        )


class TokenAccountTable(ProviderTable):
    """A kind whose account is reached with one API token (every kind but DCImanager)."""

    token: Secret = credential_key("the account's API token")
    token_env: EnvName | None = env_key("token")
