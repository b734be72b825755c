"""The DCImanager emulator speaks the seed's shapes, auth, errors and 503 switch."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from emulators.dcimanager.app import ACCOUNTS, SESSION, create_app
from emulators.dcimanager.fleet import build_fleet
from tests.providers.dcimanager.test_mapping import SEED_SERVER
from tests.servers import serving

AUTH = {"Cookie": f"ses6={SESSION}", "x-xsrf-token": SESSION, "isp-box-instance": "true"}
# Seed, "Server info by ID": the keys of its example.
SEED_SINGLE_KEYS = {
    "operation", "domain", "id", "os_template", "hardware_info", "configuration", "state",
    "state_info", "ip", "switch_connection", "pdu_connection", "ipmi", "location",
    "location_id", "mac", "main_ipv4", "name", "platform", "rack", "unit",
}  # fmt: skip
SEED_IP_KEYS = {"domain", "family", "gateway", "id", "name", "network", "status", "status_info"}


@pytest.fixture
def emulator() -> Iterator[tuple[httpx.Client, object]]:
    app = create_app(size=12, seed=1, power_delay=0)
    with serving(app) as server, httpx.Client(base_url=server.url) as client:
        yield client, app


def test_server_list_and_single_have_the_seed_keys(emulator):
    client, _ = emulator
    servers = client.get("/api/dci/v3/server", headers=AUTH).json()["list"]
    assert len(servers) == 12
    assert all(set(s) == set(SEED_SERVER) for s in servers)
    assert all(set(ip) == SEED_IP_KEYS for s in servers for ip in s["ip"])
    single = client.get(f"/api/dci/v3/server/{servers[0]['id']}", headers=AUTH).json()
    assert set(single) == SEED_SINGLE_KEYS
    assert {s["state"] for s in servers} <= {
        "suspending", "suspended", "suspend_error", "resuming", "ok", "resume_error",
    }  # fmt: skip
    assert {s["ipmi"]["status"] for s in servers} <= {"on", "off", "unknown", "in_progress"}


def test_configuration_list_has_the_seed_example(emulator):
    client, _ = emulator
    configurations = client.get("/api/dci/v3/server/configuration", headers=AUTH).json()["list"]
    assert configurations[0] == {
        "configuration": "i9-9900K-64Gb-2x1024NVMe",
        "free_server_count": 42,
    }


def test_auth_needs_all_three_parts_and_errors_use_the_isp_body(emulator):
    client, _ = emulator
    for missing in AUTH:
        headers = {k: v for k, v in AUTH.items() if k != missing}
        response = client.get("/api/dci/v3/server", headers=headers)
        assert response.status_code == 401
        assert set(response.json()["error"]) == {"code", "msg", "value"}
    mismatched = {**AUTH, "x-xsrf-token": "other"}
    assert client.get("/api/dci/v3/server", headers=mismatched).status_code == 401
    assert client.get("/api/dci/v3/server/5", headers=AUTH).status_code == 404


def test_login_issues_a_session(emulator):
    client, _ = emulator
    email, password = next(iter(ACCOUNTS.items()))
    bad = client.post("/api/auth/v4/public/token", json={"email": email, "password": "x"})
    assert bad.status_code == 401
    token = client.post(
        "/api/auth/v4/public/token", json={"email": email, "password": password}
    ).json()["token"]
    headers = {"Cookie": f"ses6={token}", "x-xsrf-token": token, "isp-box-instance": "true"}
    assert client.get("/api/dci/v3/server", headers=headers).status_code == 200


def test_actions_answer_a_task_and_change_state_after_the_delay():
    app = create_app(size=6, seed=1, power_delay=3600)
    with serving(app) as server, httpx.Client(base_url=server.url) as client:
        answer = client.post("/api/dci/v3/server/1001/power_off", headers=AUTH, content=b"{}")
        assert set(answer.json()) == {"id", "task"}
        during = client.get("/api/dci/v3/server/1001", headers=AUTH).json()
        unknown = client.post("/api/dci/v3/server/1002/reinstall", headers=AUTH, content=b"{}")
        app.state.dci.fleet.settle(time.monotonic() + 7200)  # the delay passes, no sleeping
        after = client.get("/api/dci/v3/server/1001", headers=AUTH).json()
    assert during["ipmi"]["status"] == "in_progress"
    assert after["ipmi"]["status"] == "off"
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == 3


def test_suspended_platform_answers_503_until_released(emulator):
    client, _ = emulator
    assert client.put("/_emulator/dci/suspend", json={"requests": 2}).status_code == 204
    codes = [client.get("/api/dci/v3/server", headers=AUTH).status_code for _ in range(3)]
    assert codes == [503, 503, 200]
    client.put("/_emulator/dci/suspend", json={"seconds": 60})
    assert client.get("/api/dci/v3/server/configuration", headers=AUTH).status_code == 503
    client.delete("/_emulator/dci/suspend")
    assert client.get("/api/dci/v3/server/configuration", headers=AUTH).status_code == 200
    client.delete("/_emulator/dci/sessions")
    assert client.get("/api/dci/v3/server/configuration", headers=AUTH).status_code == 401


def test_fleet_is_deterministic_per_seed():
    assert build_fleet(20, 3).servers == build_fleet(20, 3).servers
    assert build_fleet(20, 3).servers != build_fleet(20, 4).servers
    locations = {s["location"]["name"] for s in build_fleet(30, 1).servers.values()}
    assert {"Amsterdam", "Frankfurt", "London", "New York", "Singapore"} <= locations
