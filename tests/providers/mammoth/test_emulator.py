"""The Mammoth emulator on its own: auth, paging, problem details, asynchronous actions."""

from __future__ import annotations

import httpx
import pytest

from emulators.mammoth.app import create_app
from emulators.mammoth.fleet import build_fleet
from tests.providers.mammoth.conftest import TOKEN
from tests.servers import serving

AUTH = {"Authorization": f"Bearer {TOKEN}"}
PROBLEM_KEYS = {"type", "title", "status", "detail", "instance"}


def _problem(response: httpx.Response, status: int) -> dict:
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert PROBLEM_KEYS <= set(body) and body["status"] == status
    return body


def test_the_fleet_is_deterministic_and_spread_over_the_demo_cities():
    assert build_fleet(40, 7).servers == build_fleet(40, 7).servers
    assert build_fleet(40, 7).servers != build_fleet(40, 8).servers
    regions = {s["region"]["slug"] for s in build_fleet(120, 1).servers.values()}
    assert {"ams", "fra", "lon", "nyc", "sin", "syd"} <= regions
    assert len(build_fleet(5, 1).servers) == 5


@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Bearer nope"}, {"Authorization": TOKEN}]
)
def test_requests_without_a_valid_bearer_token_are_refused(upstream, headers):
    _problem(httpx.get(f"{upstream.url}/v2/servers", headers=headers), 401)


def test_a_read_only_token_cannot_act(upstream):
    server_id = min(upstream.app.state.fleet.servers)
    response = httpx.post(
        f"{upstream.url}/v2/servers/{server_id}/actions",
        json={"type": "power_on"},
        headers={"Authorization": "Bearer mammoth-emulator-read"},
    )
    _problem(response, 403)
    assert (
        httpx.get(
            f"{upstream.url}/v2/account", headers={"Authorization": "Bearer mammoth-emulator-read"}
        ).status_code
        == 200
    )


def test_lists_page_with_meta_and_links(upstream):
    first = httpx.get(f"{upstream.url}/v2/servers", params={"per_page": 8}, headers=AUTH).json()
    assert first["meta"] == {"total": 30} and len(first["servers"]) == 8
    pages = first["links"]["pages"]
    assert set(pages) == {"next", "last"}
    assert "page=2" in pages["next"] and "page=4" in pages["last"]
    last = httpx.get(pages["last"], headers=AUTH).json()
    assert len(last["servers"]) == 6 and set(last["links"]["pages"]) == {"first", "prev"}
    default = httpx.get(f"{upstream.url}/v2/servers", headers=AUTH).json()
    assert len(default["servers"]) == 20  # spec default per_page


@pytest.mark.parametrize(
    ("params", "field"),
    [({"per_page": 201}, "per_page"), ({"page": 0}, "page"), ({"page": "x"}, "page")],
)
def test_paging_out_of_range_is_a_validation_problem(upstream, params, field):
    body = _problem(httpx.get(f"{upstream.url}/v2/servers", params=params, headers=AUTH), 400)
    assert field in body["errors"]


def test_unknown_resources_are_not_found(upstream):
    for path in (
        "/v2/servers/1",
        "/v2/servers/1/actions/1",
        "/v2/data_usages/1/current",
        "/v2/samplesets/1",
    ):
        _problem(httpx.get(f"{upstream.url}{path}", headers=AUTH), 404)


def test_actions_complete_after_the_delay_and_only_then_change_the_server():

    app = create_app(size=10, action_delay=3600)
    server = next(s for s in app.state.fleet.servers.values() if s["status"] == "active")
    with serving(app) as upstream:
        url = f"{upstream.url}/v2/servers/{server['id']}/actions"
        action = httpx.post(url, json={"type": "power_off"}, headers=AUTH).json()["action"]
        assert action["status"] == "in-progress" and action["completed_at"] is None
        assert server["status"] == "active"
        pending = httpx.get(f"{url}/{action['id']}", headers=AUTH).json()["action"]
        assert pending["status"] == "in-progress" and server["status"] == "active"
        # The next request settles it once the delay has passed.
        app_action = app.state.fleet.actions[action["id"]]
        app_action["started_at"] = "2000-01-01T00:00:00Z"
        done = httpx.get(f"{url}/{action['id']}", headers=AUTH).json()["action"]
    assert done["status"] == "completed" and done["completed_at"] == "2000-01-01T01:00:00Z"
    assert server["status"] == "off"


def test_invalid_or_refused_actions_are_problems(fresh_upstream):
    upstream = fresh_upstream()
    servers = upstream.app.state.fleet.servers.values()
    active = next(s for s in servers if s["status"] == "active")
    archived = next(s for s in servers if s["status"] == "archive")
    base = f"{upstream.url}/v2/servers"
    for server, body, status in (
        (active, {"type": "teleport"}, 400),
        (active, {}, 400),
        (active, {"type": "change_reverse_name", "ipv4_address": "192.0.2.1"}, 400),
        (archived, {"type": "power_on"}, 422),
    ):
        _problem(httpx.post(f"{base}/{server['id']}/actions", json=body, headers=AUTH), status)
    assert not upstream.app.state.fleet.actions


def test_injected_faults_answer_in_problem_details(fresh_upstream):
    upstream = fresh_upstream()
    upstream.app.state.emulator.faults.error_rate = 1.0
    _problem(httpx.get(f"{upstream.url}/v2/servers", headers=AUTH), 503)
    entry = upstream.app.state.emulator.request_log.entries()[-1]
    assert entry.fault == "error" and entry.headers["authorization"] == "<redacted>"
