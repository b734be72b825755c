"""The dashserv emulator speaks the seed's contract for what the adapter calls: paths,
envelope, errors, power actions, traffic statistics and the marketplace."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from emulators.dashserv.app import create_app
from emulators.kit import EmulatorServer
from tests.providers.dashserv.examples import example
from tests.servers import serving

WRITE = {"Authorization": "Bearer dashserv-emulator-write"}
READ = {"Authorization": "Bearer dashserv-emulator-read"}


@pytest.fixture(scope="module")
def upstream() -> Iterator[EmulatorServer]:
    with serving(create_app(size=20, seed=3, power_delay=0.0)) as server:
        yield server


@pytest.fixture
def api(upstream: EmulatorServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{upstream.url}/v1", headers=WRITE, timeout=10) as client:
        yield client


def keys_of(value: dict) -> set[str]:
    return set(value)


def test_lists_have_the_seed_shapes(api):
    dedicated = api.get("/product/dedicated-server").json()
    vservers = api.get("/product/vserver").json()
    assert dedicated["success"] is True and vservers["success"] is True
    seed_dedicated = example("dedicated-server-get-single-server")["data"]
    seed_vserver = example("vserver-get-all")["data"][0]
    assert dedicated["data"] and vservers["data"]
    for item in dedicated["data"]:
        assert keys_of(item) == keys_of(seed_dedicated)
        assert keys_of(item["device"]) == keys_of(seed_dedicated["device"])
        assert keys_of(item["device"]["model"]) == keys_of(seed_dedicated["device"]["model"])
    for item in vservers["data"]:
        assert keys_of(item) == keys_of(seed_vserver)
        assert keys_of(item["network"]["public"]) == keys_of(seed_vserver["network"]["public"])
    single = api.get(f"/product/vserver/{vservers['data'][0]['uuid']}").json()["data"]
    assert single == vservers["data"][0]


def test_per_server_endpoints_have_the_seed_shapes(api):
    uuid = api.get("/product/dedicated-server").json()["data"][0]["uuid"]
    vuuid = api.get("/product/vserver").json()["data"][0]["uuid"]
    status = api.get(f"/product/dedicated-server/{uuid}/status").json()["data"]
    assert set(status) == {"status"} and status["status"] in ("online", "offline")
    network = api.get(f"/product/dedicated-server/{uuid}/network").json()["data"]
    assert keys_of(network[0]) == keys_of(
        example("dedicated-server-get-network-information")["data"][0]
    )
    installation = api.get(f"/product/dedicated-server/{uuid}/installation/status").json()
    assert keys_of(installation["data"]) == keys_of(
        example("dedicated-server-get-installation-status")["data"]
    )
    vstatus = api.get(f"/product/vserver/{vuuid}/status").json()["data"]
    assert keys_of(vstatus) == keys_of(example("vserver-get-status")["data"])
    stats = api.get(f"/product/vserver/{vuuid}/stats", params={"timeframe": "hour"}).json()
    assert len(stats["data"]) == 60
    assert keys_of(stats["data"][0]) == keys_of(example("vserver-get-graphs")["data"][0])
    models = api.get("/product/dedicated-server/models").json()["data"]
    assert keys_of(models[0]) == keys_of(example("dedicated-server-get-marketplace")["data"][0])
    assert {"centos", "debian"} <= set(
        api.get("/product/dedicated-server/templates").json()["data"]
    )


@pytest.mark.parametrize(
    ("method", "path", "headers", "status", "data"),
    [
        ("GET", "/product/dedicated-server", {}, 403, "invalid_token"),
        (
            "GET",
            "/product/dedicated-server",
            {"Authorization": "Bearer nope"},
            403,
            "invalid_token",
        ),
        ("GET", "/product/dedicated-server/nOpE1", WRITE, 404, "ressource_not_found"),
        ("GET", "/manage/product/dedicated-server:nOpE1", WRITE, 404, "resource_not_found"),
        ("GET", "/product/webhosting", WRITE, 404, "route_not_found"),
        ("GET", "/no/such/route", WRITE, 404, "route_not_found"),
        ("PATCH", "/product/dedicated-server", WRITE, 405, "method_not_allowed"),
    ],
)
def test_error_forms(api, method, path, headers, status, data):
    response = api.request(method, path, headers=headers or {"Authorization": ""})
    assert response.status_code == status
    assert response.json() == {"success": False, "data": data}


def test_read_token_cannot_act_but_can_read(api):
    uuid = api.get("/product/vserver").json()["data"][0]["uuid"]
    assert api.get(f"/product/vserver/{uuid}/status", headers=READ).status_code == 200
    refused = api.post(f"/product/vserver/{uuid}/actions/start", headers=READ)
    assert (refused.status_code, refused.json()["data"]) == (403, "forbidden")


def test_power_actions_per_product(api):
    dedicated = api.get("/product/dedicated-server").json()["data"][0]["uuid"]
    vserver = api.get("/product/vserver").json()["data"][0]["uuid"]
    done = api.post(f"/product/dedicated-server/{dedicated}/actions/shutdown").json()
    assert done == {"success": True, "data": "action_executed_successfully"}
    assert api.get(f"/product/dedicated-server/{dedicated}/status").json()["data"]["status"] == (
        "offline"
    )
    assert api.post(f"/product/dedicated-server/{dedicated}/actions/stop").status_code == 404
    task = api.post(f"/product/vserver/{vserver}/actions/stop").json()
    assert task["success"] is True and task["data"].isalnum()
    assert api.get(f"/product/vserver/{vserver}/status").json()["data"]["status"] == "offline"


def test_stats_refuses_a_missing_or_unknown_timeframe(api):
    vserver = api.get("/product/vserver").json()["data"][0]["uuid"]
    missing = api.get(f"/product/vserver/{vserver}/stats")
    assert (missing.status_code, missing.json()["data"]) == (422, "empty_field:timeframe")
    unknown = api.get(f"/product/vserver/{vserver}/stats", params={"timeframe": "decade"})
    assert unknown.status_code == 422
    assert unknown.json()["data"] == {
        "field": "timeframe",
        "value": "decade",
        "msg": "invalid_value",
    }


def test_product_info_has_the_seed_shape_and_the_model_location(api):
    info = api.get("/manage/product/dedicated-server:Fzasc").json()["data"]
    assert keys_of(info) == keys_of(example("order-get-product-pricing")["data"])
    assert [place["uuid"] for place in info["locations"]] == ["aM7eQ"]


def test_rate_limit_answers_503():
    with serving(create_app(size=2, rate_limit=(3, 60))) as server:
        codes = [httpx.get(f"{server.url}/v1/product/vserver", headers=WRITE) for _ in range(4)]
    assert [c.status_code for c in codes] == [200, 200, 200, 503]
    assert codes[-1].json() == {"success": False, "data": "ratelimit_exceeded"}


def test_same_seed_same_fleet():
    def names(app) -> list[str]:
        return [p.obj["name"] for p in app.state.fleet.products]

    assert names(create_app(size=10, seed=7)) == names(create_app(size=10, seed=7))
    assert names(create_app(size=10, seed=7)) != names(create_app(size=10, seed=8))
