"""Packet's (Equinix Metal's) ``[[providers]]`` table: a token and the projects to list."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from providers.options import (
    TokenAccountTable,
    base_url_key,
    prefix_key,
    problem,
)

__all__ = ["PacketTable"]

#: An Equinix Metal root ending in ``/metal/v1`` works the same.
DEFAULT_BASE_URL = "https://api.packet.net"


class PacketTable(TokenAccountTable):
    """Some Packet / Equinix Metal projects and organizations (at least one of either)."""

    kind: Literal["packet"]
    base_url: str = base_url_key(DEFAULT_BASE_URL)
    prefix: str = prefix_key("PK")
    project_ids: list[str] | None = Field(
        None, description="the projects whose devices form the fleet"
    )
    organization_ids: list[str] | None = Field(
        None,
        description="organizations whose projects' devices form the fleet (with or instead "
        "of `project_ids`: at least one of the two)",
    )

    @field_validator("project_ids", "organization_ids")
    @classmethod
    def _non_empty(cls, ids: list[str] | None) -> list[str] | None:
        if ids is not None and not all(item.strip() for item in ids):
            raise problem("", "must be a list of non-empty strings")
        return ids

    @model_validator(mode="after")
    def _some_projects(self) -> PacketTable:
        if not self.project_ids and not self.organization_ids:
            raise problem("project_ids", "name at least one project (or organization_ids)")
        return self
