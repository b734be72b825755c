"""dashserv's documented example responses, committed verbatim under ``fixtures/``.

``example("dedicated-server-get-network-information")`` is the parsed JSON of
``fixtures/dedicated-server-get-network-information.json``; ``fixtures/README.md`` names the
documentation section each file comes from.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

FIXTURES = Path(__file__).resolve().parent / "fixtures"


@cache
def _text(name: str) -> str:
    return (FIXTURES / f"{name}.json").read_text(encoding="utf-8")


def example(name: str) -> dict:
    """A fresh copy of the example body stored as ``fixtures/<name>.json``."""
    return json.loads(_text(name))
