"""dashserv's ``[[providers]]`` table: a Bearer token, no options of its own."""

from __future__ import annotations

from typing import Literal

from providers.options import TokenAccountTable, base_url_key, prefix_key

__all__ = ["DashservTable"]

DEFAULT_BASE_URL = "https://api.dashserv.io/v1"


class DashservTable(TokenAccountTable):
    """A dashserv account."""

    kind: Literal["dashserv"]
    base_url: str = base_url_key(DEFAULT_BASE_URL)
    prefix: str = prefix_key("DS")
