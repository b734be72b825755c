"""Apollo Client's own persisted-query link against the gateway, over real HTTP.

``tests/apollo/apq.mjs`` runs ``@apollo/client``'s ``PersistedQueryLink`` (hashed queries
sent by GET, Node's SHA-256) in Node; its packages are pinned by ``tests/apollo/package.json``
and ``package-lock.json`` and installed with ``npm ci`` into ``tests/apollo/node_modules``
(ignored by git) on first use. Skipped where ``node`` or ``npm`` is missing. Slow (``make
test-slow``): the install and a Node process per scenario.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from emulators.kit.server import EmulatorServer
from gateway.app import create_app
from gateway.settings import settings_from_dict
from tests.conftest import TOKENS, datapacket_config
from tests.servers import serving

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        shutil.which("node") is None or shutil.which("npm") is None,
        reason="node and npm are needed to run Apollo Client (apt-get install nodejs npm)",
    ),
]

APOLLO = Path(__file__).resolve().parent / "apollo"
TOKEN = "test-apollo-frontend"
FLEET = "query Fleet { servers(input: {pageSize: 2}) { entries { name } } }"
ALIAS = 'query Alias { server(input: {name: "DP-12345"}) { alias } }'


@pytest.fixture(scope="module")
def node_modules() -> Path:
    """``tests/apollo/node_modules``, installed from the lock file when absent."""
    installed = APOLLO / "node_modules" / "@apollo" / "client" / "package.json"
    if not installed.exists():
        subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=APOLLO,
            check=True,
            timeout=300,
        )
    return APOLLO / "node_modules"


def gateway_app(upstream: EmulatorServer, **tables: Any):
    tokens = [*TOKENS, {"name": "frontend", "scope": "read-only", "token": TOKEN}]
    config = {"providers": [datapacket_config(upstream)], "tokens": tokens, **tables}
    return create_app(settings_from_dict(config, source="<apollo test>"))


def apollo(node_modules: Path, gateway: EmulatorServer, *documents: str) -> dict[str, Any]:
    """What ``apq.mjs`` reports after querying each document in turn."""
    finished = subprocess.run(
        ["node", "apq.mjs", f"{gateway.url}/graphql", TOKEN, json.dumps(documents)],
        cwd=APOLLO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert finished.returncode == 0, finished.stderr
    return json.loads(finished.stdout)


def test_apollo_clients_link_misses_registers_and_then_gets_by_hash(
    node_modules, datapacket_upstream, executions
):
    app = gateway_app(datapacket_upstream, cache={"responses": False})
    with serving(app) as gateway:
        report = apollo(node_modules, gateway, FLEET, FLEET)
    first, second = report["results"]
    assert first["sent"] == ["GET hash", "POST document"]
    assert second["sent"] == ["GET hash"]
    assert first["codes"] == second["codes"] == []
    assert first["data"] == second["data"] and len(first["data"]["servers"]["entries"]) == 2
    assert executions == ["Fleet", "Fleet"]
    [document] = report["documents"]
    stored = app.state.gateway.persisted.store
    assert len(stored) == 1 and stored.size == len(document.encode())


def test_trusted_only_with_apollos_manifest_runs_its_documents_and_refuses_others(
    node_modules, datapacket_upstream, executions, tmp_path
):
    # The documents exactly as Apollo sends them (its cache adds __typename), as Apollo's
    # manifest generator would list them.
    with serving(gateway_app(datapacket_upstream)) as gateway:
        [fleet] = apollo(node_modules, gateway, FLEET)["documents"]
    manifest = {
        "format": "apollo-persisted-query-manifest",
        "version": 1,
        "operations": [
            {
                "id": hashlib.sha256(fleet.encode()).hexdigest(),
                "body": fleet,
                "name": "Fleet",
                "type": "query",
            }
        ],
    }
    path = tmp_path / "persisted-query-manifest.json"
    path.write_text(json.dumps(manifest))
    executions.clear()
    persisted = {"manifest": str(path), "only": True}
    with serving(gateway_app(datapacket_upstream, persisted=persisted)) as gateway:
        allowed, refused = apollo(node_modules, gateway, FLEET, ALIAS)["results"]
    assert allowed["sent"] == ["GET hash"] and allowed["codes"] == []
    assert len(allowed["data"]["servers"]["entries"]) == 2
    assert refused["sent"] == ["GET hash", "POST document"]
    assert refused["codes"] == ["PERSISTED_QUERY_NOT_IN_LIST"]
    assert executions == ["Fleet"]
