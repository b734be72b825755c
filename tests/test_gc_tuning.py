"""A serving process freezes its start-up objects once the app has started; tests do not.

Each case runs in a fresh interpreter: the collector's settings belong to the process.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PROBE = """
import asyncio, gc, json, sys
from asgi_lifespan import LifespanManager
from gateway.app import create_app
from gateway.settings import settings_from_dict

settings = settings_from_dict({"providers": [], "tokens": [
    {"name": "t", "scope": "read-only", "token": "probe-token"}]})
app = create_app(settings, tune_gc=sys.argv[1] == "tuned")
before = {"frozen": gc.get_freeze_count(), "threshold": gc.get_threshold()}

async def main():
    async with LifespanManager(app):
        return {"frozen": gc.get_freeze_count(), "threshold": gc.get_threshold()}

print(json.dumps({"before": before, "started": asyncio.run(main())}))
"""


def probe(mode: str) -> dict:
    result = subprocess.run(
        [sys.executable, "-c", PROBE, mode], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return json.loads(result.stdout)


@pytest.mark.parametrize("mode", ["tuned", "default"])
def test_the_collector_is_tuned_only_by_a_serving_process(mode):
    seen = probe(mode)
    assert seen["before"] == {"frozen": 0, "threshold": [700, 10, 10]}
    if mode == "tuned":
        # What start-up allocated is frozen; the thresholds stay CPython's.
        assert seen["started"]["frozen"] > 10_000
        assert seen["started"]["threshold"] == [700, 10, 10]
    else:
        assert seen["started"] == seen["before"]
