"""Contract: the adapter's requests and the emulator's responses against the official spec.

``binarylane-openapi.json`` documents each server action under a path such as
``/servers/{server_id}/actions#PowerOn``; the fragment is a documentation device for the one
real path ``POST /servers/{server_id}/actions``, whose body ``type`` picks the action. The
helper strips the fragment and accepts a body that fits any template of that path.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from emulators.kit.server import EmulatorServer
from emulators.mammoth import app as emulator
from providers.base import ServerFilter, ServerKey, TrafficQuery
from providers.selection import Selection
from tests.conftest import listed
from tests.providers.mammoth.conftest import TOKEN, adapter_for
from tests.servers import serving

EVERYTHING = Selection.of(
    {
        "name": {},
        "hostname": {},
        "trafficPlan": {"name": {}},
        "network": {"ipAddresses": {"ip": {}}},
    }
)


async def _exercise(adapter, fleet) -> None:
    """Every operation of the adapter once (reads and writes)."""
    servers = sorted(fleet.servers.values(), key=lambda s: s["id"])
    active = next(s for s in servers if s["status"] == "active")
    name = f"MC-{active['id']}"
    ip = active["networks"]["v4"][0]["ip_address"]
    now = datetime.now(UTC)
    await adapter.ping()
    await adapter.account(Selection())
    await listed(adapter.list_servers(ServerFilter(), 3, 10, EVERYTHING))
    await adapter.servers_by_name([name, "MC-1"], EVERYTHING)
    await adapter.find_servers(ServerKey(ip=ip), EVERYTHING)
    await adapter.list_invoices({}, 0, 5, Selection())
    await adapter.invoice(fleet.invoices[0]["invoice_number"], Selection())
    await adapter.list_instant_delivery_servers({}, 0, 5, Selection())
    await adapter.traffic(
        TrafficQuery(now - timedelta(hours=2), now, ServerFilter(name_in=(name,))), Selection()
    )
    await adapter.traffic_series(
        TrafficQuery(now - timedelta(days=2), now, ServerFilter(location_in=("SYD",))), 1800
    )
    await adapter.list_locations()
    await adapter.reverse_dns_record(ip, Selection())
    await adapter.set_reverse_dns_record(ip, "host.example.com.", EVERYTHING)
    await adapter.set_reverse_dns_record(ip, None, EVERYTHING)
    for action in ("OFF", "ON", "SOFT", "CYCLE", "RESET"):
        await adapter.perform_power_action(name, action, EVERYTHING)
    await adapter.power_action_progress(name)


@pytest.fixture(scope="module")
def exercised() -> Iterator[EmulatorServer]:
    """An emulator that has served every operation of the adapter once (log kept)."""
    with serving(emulator.create_app(size=30, seed=3, action_delay=0)) as server:

        async def run() -> None:
            adapter = adapter_for(server, per_page=9)
            try:
                await _exercise(adapter, server.app.state.fleet)
            finally:
                await adapter.close()

        asyncio.run(run())
        yield server


def test_every_request_the_adapter_sends_is_an_operation_of_the_spec(spec, exercised):
    entries = exercised.app.state.emulator.request_log.entries()
    assert {e.method for e in entries} == {"GET", "POST"}
    templates = set()
    for entry in entries:
        assert entry.headers["authorization"] == "<redacted>"
        templates.add(spec.check_request(entry.method, entry.path, entry.query, entry.body))
        if "per_page" in entry.query:
            assert 1 <= int(entry.query["per_page"]) <= 200
    posted = {e.body["type"] for e in entries if e.method == "POST"}
    assert posted == {"power_off", "power_on", "shutdown", "power_cycle", "change_reverse_name"}
    assert {"/servers", "/servers/{server_id}", "/data_usages/current"} <= templates


@pytest.mark.parametrize(
    "body",
    [
        {"type": "power_on"},
        {"type": "power_off"},
        {"type": "shutdown"},
        {"type": "power_cycle"},
        {"type": "reboot"},
        {"type": "change_reverse_name", "ipv4_address": "192.0.2.1", "reverse_name": "a.b"},
        {"type": "change_reverse_name", "ipv4_address": "192.0.2.1", "reverse_name": None},
    ],
)
def test_action_bodies_fit_the_type_discriminator(spec, body):
    spec.check_request("POST", "/v2/servers/5/actions", {}, body)


@pytest.mark.parametrize(
    "body",
    [
        {"type": "power_onn"},
        {"type": "change_reverse_name"},  # ipv4_address is required
        {},
    ],
)
def test_the_contract_check_rejects_bodies_the_spec_does_not_allow(spec, body):
    with pytest.raises(AssertionError):
        spec.check_request("POST", "/v2/servers/5/actions", {}, body)


def _get(server, path: str, **params) -> httpx.Response:
    return httpx.get(
        f"{server.url}{path}", params=params, headers={"Authorization": f"Bearer {TOKEN}"}
    )


def test_every_emulator_answer_to_the_adapter_fits_the_spec(spec, exercised):
    """Replay every GET the adapter sent (reads are idempotent) and validate the answers."""
    entries = [e for e in exercised.app.state.emulator.request_log.entries() if e.method == "GET"]
    assert len(entries) > 20
    for entry in entries:
        response = _get(exercised, entry.path, **entry.query)
        if response.status_code == 404:
            assert response.json()["status"] == 404  # problem details for MC-1
            continue
        assert response.status_code == 200, (entry.path, response.text)
        spec.check_response("GET", entry.path, 200, response.json())


def test_every_served_endpoint_answers_in_the_spec_shape(spec, upstream):
    fleet = upstream.app.state.fleet
    server_id = min(fleet.servers)
    now = datetime.now(UTC)
    paths = [
        ("/v2/account", {}),
        ("/v2/servers", {"per_page": 3, "page": 2}),
        (f"/v2/servers/{server_id}", {}),
        ("/v2/data_usages/current", {"per_page": 200}),
        (f"/v2/data_usages/{server_id}/current", {}),
        (f"/v2/samplesets/{server_id}", {"data_interval": "half-hour"}),
        (
            f"/v2/samplesets/{server_id}",
            {
                "data_interval": "day",
                "start": (now - timedelta(days=10)).isoformat(),
                "end": now.isoformat(),
            },
        ),
        ("/v2/customers/my/invoices", {"per_page": 4, "page": 3}),
        ("/v2/regions", {}),
        ("/v2/sizes", {}),
    ]
    for path, params in paths:
        response = _get(upstream, path, **params)
        assert response.status_code == 200, (path, response.text)
        spec.check_request("GET", path, {k: str(v) for k, v in params.items()})
        spec.check_response("GET", path, 200, response.json())


def test_action_answers_fit_the_spec(spec, fresh_upstream):
    upstream = fresh_upstream(action_delay=3600)
    server = next(s for s in upstream.app.state.fleet.servers.values() if s["status"] == "active")
    headers = {"Authorization": f"Bearer {TOKEN}"}
    base = f"{upstream.url}/v2/servers/{server['id']}/actions"
    for body in (
        {"type": "power_off"},
        {"type": "power_cycle"},
        {
            "type": "change_reverse_name",
            "ipv4_address": server["networks"]["v4"][0]["ip_address"],
            "reverse_name": "x.example.com",
        },
    ):
        response = httpx.post(base, json=body, headers=headers)
        assert response.status_code == 200, response.text
        spec.check_response("POST", f"/v2/servers/{server['id']}/actions", 200, response.json())
        action = response.json()["action"]
        assert (action["type"], action["status"]) == (body["type"], "in-progress")
        again = httpx.get(f"{base}/{action['id']}", headers=headers)
        spec.check_response(
            "GET", f"/v2/servers/{server['id']}/actions/{action['id']}", 200, again.json()
        )
