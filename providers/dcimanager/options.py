"""DCImanager's ``[[providers]]`` table: a session or a login, and location names.

Its defaults for the general retry policy are its own: ISPsystem's guide says a platform
service idle for long is suspended and answers 503 until it has woken, so reads are retried
six times from 0.1 s (doubled per retry: 6.3 s in all).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from providers.locations import CITIES
from providers.options import (
    EnvName,
    ProviderTable,
    Secret,
    base_url_key,
    credential_key,
    env_key,
    prefix_key,
    problem,
    retries_key,
    retry_backoff_key,
)

__all__ = ["DciManagerTable"]


class DciManagerTable(ProviderTable):
    """One DCImanager installation: ``session``, or ``email`` and ``password`` to log in."""

    kind: Literal["dcimanager"]
    base_url: str = base_url_key()  # each installation has its own, e.g. https://dci.example.com
    prefix: str = prefix_key("DCI")
    retries: int = retries_key(6, most=20)
    retry_backoff: float = retry_backoff_key(0.1, most=10)
    session: Secret | None = credential_key("a session token", required=False)
    session_env: EnvName | None = env_key("session")
    email: Secret | None = credential_key(
        "the login's email (with `password`; one re-login on expiry)", required=False
    )
    email_env: EnvName | None = env_key("email")
    password: Secret | None = credential_key("the login's password (with `email`)", required=False)
    password_env: EnvName | None = env_key("password")
    locations: dict[str, str] = Field(
        default_factory=dict,
        description='native location name → city code, e.g. `{ "DC-2 Slough" = "LON" }`',
    )
    stock_location: str | None = Field(
        None, description="the city code of free servers (the API does not say)"
    )

    @field_validator("locations", mode="before")
    @classmethod
    def _city_codes(cls, locations: object) -> object:
        if not isinstance(locations, dict) or not all(
            isinstance(name, str) and code in CITIES for name, code in locations.items()
        ):
            raise problem("", 'must map location names to city codes such as "AMS"')
        return locations

    @field_validator("stock_location")
    @classmethod
    def _city_code(cls, code: str | None) -> str | None:
        if code is not None and code not in CITIES:
            raise problem("", 'must be a city code such as "AMS"')
        return code

    @model_validator(mode="after")
    def _session_or_login(self) -> DciManagerTable:
        has_email, has_password = self.email is not None, self.password is not None
        if has_email != has_password:
            missing, given = ("password", "email") if has_email else ("email", "password")
            raise problem(missing, f"is required together with {given}")
        if self.session is None and not has_email:
            raise problem("session", "is required (or give email and password to log in)")
        return self
