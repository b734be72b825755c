"""Mammoth Cloud's ``[[providers]]`` table: a Bearer token and the page size of lists."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from providers.options import TokenAccountTable, base_url_key, prefix_key

__all__ = ["MAX_PER_PAGE", "MammothTable"]

DEFAULT_BASE_URL = "https://api.mammoth.com.au/v2"
MAX_PER_PAGE = 200  # seed, every list: "per_page integer <int32> [ 1 .. 200 ]"


class MammothTable(TokenAccountTable):
    """A Mammoth Cloud account."""

    kind: Literal["mammoth"]
    base_url: str = base_url_key(DEFAULT_BASE_URL)
    prefix: str = prefix_key("MC")
    per_page: int = Field(
        MAX_PER_PAGE, ge=1, le=MAX_PER_PAGE, description="items per page of an upstream list"
    )
