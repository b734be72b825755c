"""The README's subscription snippet, run by Node with the npm ``graphql-ws`` client.

The ```js block of README "Subscriptions" is taken from the README and run as it is, its URL
(the demo's ``ws://127.0.0.1:8000/graphql``) pointed at a gateway on a free port, by ``node
--input-type=module`` in ``tests/graphql-ws`` (``graphql-ws`` and ``ws`` pinned by its
``package.json`` and ``package-lock.json``, installed with ``npm ci`` into its ``node_modules``,
ignored by git, on first use). The gateway serves the demo's tokens over a DataPacket
emulator; a power action sent over HTTP must make the script print the line the README says.
Skipped where ``node`` or ``npm`` is missing. Slow (``make test-slow``): the install and a Node
process.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from emulators.datapacket import app as datapacket_emulator
from emulators.kit.server import EmulatorServer
from gateway.app import create_app
from gateway.cli import connection_options
from gateway.demo import DEMO_FULL_ACCESS, DEMO_READ_ONLY
from gateway.settings import settings_from_dict
from tests.conftest import datapacket_config

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        shutil.which("node") is None or shutil.which("npm") is None,
        reason="node and npm are needed to run graphql-ws's client (apt-get install nodejs npm)",
    ),
]

ROOT = Path(__file__).resolve().parents[1]
CLIENT = Path(__file__).resolve().parent / "graphql-ws"
DEMO_URL = "ws://127.0.0.1:8000/graphql"
PRINTED = {"serverStatusChanged": {"name": "DP-12345", "powerStatus": "OFF"}}
POWER_OFF = (
    'mutation { performServerPowerAction(input: {server: {name: "DP-12345"}, action: OFF})'
    " { server { name } } }"
)
#: Seconds any wait may take before the test fails (not a timing assertion).
WAIT = 30.0


def readme_snippet() -> str:
    """The first ```js block of README "Subscriptions"."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Subscriptions\n", 1)[1].split("\n## ", 1)[0]
    match = re.search(r"^```js\n(.*?)^```", section, re.DOTALL | re.MULTILINE)
    assert match is not None, 'README "Subscriptions" has no ```js block'
    return match.group(1)


@pytest.fixture(scope="module")
def node_modules() -> Path:
    """``tests/graphql-ws/node_modules``, installed from the lock file when absent."""
    installed = CLIENT / "node_modules" / "graphql-ws" / "package.json"
    if not installed.exists():
        subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=CLIENT,
            check=True,
            timeout=300,
        )
    return CLIENT / "node_modules"


@pytest.fixture
def gateway() -> Iterator[EmulatorServer]:
    """A gateway with the demo's tokens over a DataPacket emulator, polled often."""
    upstream = EmulatorServer(
        datapacket_emulator.create_app(size=10, seed=1, power_delay=0.05)
    ).start()
    tokens = [
        {"name": "demo full access", "scope": "full-access", "token": DEMO_FULL_ACCESS},
        {"name": "demo read only", "scope": "read-only", "token": DEMO_READ_ONLY},
    ]
    settings = settings_from_dict(
        {
            "providers": [datapacket_config(upstream)],
            "tokens": tokens,
            "cache": {"enabled": False},
            "subscriptions": {"poll_seconds": 0.2, "action_poll_seconds": 0.05},
        },
        source="<readme subscription test>",
    )
    server = EmulatorServer(create_app(settings), **connection_options(settings)).start()
    yield server
    server.stop()
    upstream.stop()


async def until(condition) -> None:
    async with asyncio.timeout(WAIT):
        while not condition():
            await asyncio.sleep(0.02)


async def test_the_readme_snippet_prints_the_server_a_power_action_changed(node_modules, gateway):
    snippet = readme_snippet()
    assert DEMO_URL in snippet
    url = gateway.url.replace("http://", "ws://") + "/graphql"
    feed = gateway.app.state.gateway.status_feed
    node = await asyncio.create_subprocess_exec(
        "node",
        "--input-type=module",
        cwd=CLIENT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    line = b""
    try:
        assert node.stdin is not None and node.stdout is not None
        node.stdin.write(snippet.replace(DEMO_URL, url).encode())
        node.stdin.close()
        # The poller's first poll only records the statuses; a change after it is sent.
        await until(lambda: "dp" in feed.pollers and feed.pollers["dp"].polls >= 1)
        async with httpx.AsyncClient(base_url=gateway.url) as client:
            response = await client.post(
                "/graphql",
                json={"query": POWER_OFF},
                headers={"Authorization": f"Bearer {DEMO_FULL_ACCESS}"},
            )
        assert "errors" not in response.json(), response.text
        line = await asyncio.wait_for(node.stdout.readline(), WAIT)
    except TimeoutError:
        pass  # reported below, with what node wrote to its stderr
    finally:
        if node.returncode is None:
            node.terminate()
        _, stderr = await node.communicate()
    assert line, f"node printed nothing; its stderr: {stderr.decode()}"
    assert json.loads(line) == PRINTED, stderr.decode()
    # The line the README says it prints, and the script's socket closed with its process.
    assert json.dumps(PRINTED, separators=(",", ":")) in (ROOT / "README.md").read_text()
    await until(lambda: not feed.pollers["dp"].running)
