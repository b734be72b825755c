"""``deploy/``: the compose file parses and its configuration is one FleetQL accepts.

The deployment itself (``docker compose up``) is never run here: the suite checks what it
can without Docker.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from gateway.settings import load_settings

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"


def test_compose_runs_two_replicas_sharing_redis_behind_nginx():
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))
    services = compose["services"]
    assert set(services) == {"redis", "fleetql-a", "fleetql-b", "nginx"}
    for replica in ("fleetql-a", "fleetql-b"):
        environment = services[replica]["environment"]
        assert environment["FLEETQL_REDIS_URL"] == "redis://redis:6379/0"
        assert "./fleet.toml:/etc/fleetql/fleet.toml:ro" in services[replica]["volumes"]
    assert "./nginx.conf:/etc/nginx/conf.d/default.conf:ro" in services["nginx"]["volumes"]
    nginx = (DEPLOY / "nginx.conf").read_text(encoding="utf-8")
    assert "server fleetql-a:8000" in nginx and "server fleetql-b:8000" in nginx


def test_the_replicas_configuration_is_valid_and_shares_redis(monkeypatch):
    monkeypatch.setenv("FLEETQL_REDIS_URL", "redis://redis:6379/0")
    monkeypatch.setenv("DATAPACKET_TOKEN", "dp-token")
    monkeypatch.setenv("FLEETQL_CLIENT_TOKEN", "client-token")
    settings = load_settings(DEPLOY / "fleet.toml")
    assert settings.cluster is not None
    assert settings.cluster.url == "redis://redis:6379/0"
