"""DataPacket's ``[[providers]]`` table: a Bearer token, no options of its own."""

from __future__ import annotations

from typing import Literal

from providers.options import TokenAccountTable, base_url_key, prefix_key

__all__ = ["DataPacketTable"]

DEFAULT_BASE_URL = "https://api.datapacket.com/v0/graphql"


class DataPacketTable(TokenAccountTable):
    """A DataPacket account."""

    kind: Literal["datapacket"]
    base_url: str = base_url_key(DEFAULT_BASE_URL)
    prefix: str = prefix_key("DP")
