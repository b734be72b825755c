"""The dashserv seed's own example responses, read straight out of the seed file.

``example("dedicated-server/o3qzt/network'")`` is the JSON of the first ``Example:`` block
after the curl line containing that fragment (each block parsed up to its closing brace).
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

# The seeds live in shared/, beside the repository (see the README).
SEED = Path(__file__).resolve().parents[3].parent / "shared/seeds/dashserv-api.txt"


@cache
def _lines() -> list[str]:
    return SEED.read_text(encoding="utf-8").splitlines()


def example(curl_fragment: str, nth: int = 0) -> dict:
    """The ``nth`` example body after the curl line containing ``curl_fragment``."""
    lines = _lines()
    start = next(i for i, line in enumerate(lines) if "curl" in line and curl_fragment in line)
    found = -1
    for i in range(start, len(lines)):
        if lines[i].startswith("Example") and lines[i + 1].strip() == "{":
            found += 1
            if found == nth:
                return _object(lines, i + 1)
    raise LookupError(curl_fragment)


def _object(lines: list[str], first: int) -> dict:
    depth, text = 0, []
    for line in lines[first:]:
        text.append(line)
        depth += line.count("{") - line.count("}")
        if depth == 0:
            break
    return json.loads("\n".join(text))
