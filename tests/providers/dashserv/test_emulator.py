"""The dashserv emulator speaks the seed's contract: paths, envelope, errors, forms, orders."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from emulators.dashserv.app import create_app
from emulators.kit import EmulatorServer
from tests.providers.dashserv.examples import example
from tests.servers import serving

WRITE = {"Authorization": "Bearer dashserv-emulator-write"}
READ = {"Authorization": "Bearer dashserv-emulator-read"}
ORDER = {
    "data[os]": "0",
    "data[cpu]": "0",
    "data[ram]": "0",
    "data[traffic]": "0",
    "data[bandwidth]": "2",
    "data[disk]": "0",
    "data[location]": "aM7eQ",
    "data[interval]": "Oha73a",
}


def form(fields: dict[str, str]) -> dict[str, tuple[None, str]]:
    """httpx ``files=`` for plain multipart fields, as ``curl -F`` sends them."""
    return {name: (None, value) for name, value in fields.items()}


@pytest.fixture(scope="module")
def upstream() -> Iterator[EmulatorServer]:
    with serving(create_app(size=20, seed=3, power_delay=0.0, order_delay=0.0)) as server:
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
    assert api.get("/product/vserver/image").json()["data"][1]["name"] == "debian10"


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
        ("GET", "/manage/order/nOpE1", WRITE, 404, "resource_not_found"),
        ("GET", "/manage/product/dedicated-server:nOpE1", WRITE, 404, "resource_not_found"),
        ("GET", "/product/webhosting", WRITE, 404, "route_not_found"),
        ("GET", "/no/such/route", WRITE, 404, "route_not_found"),
        ("PATCH", "/product/dedicated-server", WRITE, 405, "method_not_allowed"),
        ("POST", "/manage/product/dedicated-server:Fzasc", READ, 403, "forbidden"),
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
    task = api.post(f"/product/vserver/{vserver}/actions/restart").json()
    assert task["success"] is True and task["data"].isalnum()
    assert api.get(f"/product/vserver/{vserver}/tasks").json()["data"][0]["task"] == "reboot"


def test_validation_errors_of_forms(api):
    vserver = api.get("/product/vserver").json()["data"][0]["uuid"]
    missing = api.put(f"/product/vserver/{vserver}/upgrade", files=form({"cpu": "2"}))
    assert (missing.status_code, missing.json()["data"]) == (422, "empty_field:ram")
    # Seed "Change resources": the upgrade's errors come back with success: true.
    downgrade = api.put(
        f"/product/vserver/{vserver}/upgrade", files=form({"cpu": "2", "ram": "4", "disk": "1"})
    )
    assert downgrade.json() == {"success": True, "data": "cannot_downgrade_disk"}
    too_big = api.put(
        f"/product/vserver/{vserver}/upgrade",
        files=form({"cpu": "64", "ram": "4", "disk": "4000"}),
    )
    assert too_big.json() == {"success": True, "data": "upgrade_resources_exceeds_limit"}
    bad = api.post(
        "/manage/product/dedicated-server:Fzasc", files=form({**ORDER, "data[bandwidth]": "0"})
    )
    assert bad.status_code == 422
    assert bad.json() == example(
        "order-place-order-validation-error"
    )  # the seed's validation error
    timeframe = api.get(f"/product/vserver/{vserver}/stats")
    assert (timeframe.status_code, timeframe.json()["data"]) == (422, "empty_field:timeframe")


def test_price_calculation_has_the_seed_shape(api):
    calculated = api.post(
        "/manage/product/dedicated-server:Fzasc", files=form({**ORDER, "calculate": "true"})
    ).json()["data"]
    seed = example("order-place-order-calculated")["data"]
    assert keys_of(calculated) == keys_of(seed)
    assert [p["name"] for p in calculated["positions"]] == [p["name"] for p in seed["positions"]]
    assert calculated["positions"][5]["value"] == "2x 1 Gbit/s"


def test_order_moves_from_installing_to_okay_and_the_server_appears():
    app = create_app(size=4, seed=5, order_delay=0.2)
    with (
        serving(app) as server,
        httpx.Client(base_url=f"{server.url}/v1", headers=WRITE) as api,
    ):
        stock = {
            m["uuid"]: m["stock"]
            for m in api.get("/product/dedicated-server/models").json()["data"]
        }
        info = api.get("/manage/product/dedicated-server:Fzasc").json()["data"]
        assert keys_of(info) == keys_of(example("order-get-product-pricing")["data"])
        placed = api.post("/manage/product/dedicated-server:Fzasc", files=form(ORDER)).json()
        assert placed["success"] is True
        order = api.get(f"/manage/order/{placed['data']}").json()["data"]
        assert order["status"] == "installing" and order["unix"]["ready"] is None
        assert keys_of(order) == keys_of(example("order-check-order")["data"])
        assert order["productData"] == {key[5:-1]: value for key, value in ORDER.items()}
        listed = [s["uuid"] for s in api.get("/product/dedicated-server").json()["data"]]
        assert order["productuuid"] not in listed
        time.sleep(0.25)
        order = api.get(f"/manage/order/{placed['data']}").json()["data"]
        assert order["status"] == "okay" and order["unix"]["ready"] is not None
        listed = api.get("/product/dedicated-server").json()["data"]
        new = next(s for s in listed if s["uuid"] == order["productuuid"])
        assert new["device"]["location"]["uuid"] == "aM7eQ"
        models = api.get("/product/dedicated-server/models").json()["data"]
        assert next(m for m in models if m["uuid"] == "Fzasc")["stock"] == stock["Fzasc"] - 1


def test_vserver_order_and_terminate_for_resellers():
    app = create_app(size=2, seed=5, order_delay=0.0, reseller=True)
    with (
        serving(app) as server,
        httpx.Client(base_url=f"{server.url}/v1", headers=WRITE) as api,
    ):
        fields = {
            "data[cpu]": "1",
            "data[os]": "1",
            "data[location]": "sG1eQ",
            "data[interval]": "Oha73a",
        }
        uuid = api.post("/manage/product/vserver", files=form(fields)).json()["data"]
        product = api.get(f"/manage/order/{uuid}").json()["data"]["productuuid"]
        vserver = api.get(f"/product/vserver/{product}").json()["data"]
        assert vserver["options"]["cores"] == 2 and vserver["image"]["name"] == "debian10"
        gone = api.delete(f"/product/vserver/{product}").json()
        assert gone == {"success": True, "data": "product_terminate_success"}
        assert api.get(f"/product/vserver/{product}").status_code == 404


def test_rate_limit_answers_503():
    with serving(create_app(size=2, rate_limit=(3, 60))) as server:
        codes = [httpx.get(f"{server.url}/v1/product/vserver", headers=WRITE) for _ in range(4)]
    assert [c.status_code for c in codes] == [200, 200, 200, 503]
    assert codes[-1].json() == {"success": False, "data": "ratelimit_exceeded"}


def test_installation_create_runs_and_finishes():
    app = create_app(size=3, seed=2, install_delay=0.2)
    with (
        serving(app) as server,
        httpx.Client(base_url=f"{server.url}/v1", headers=WRITE) as api,
    ):
        uuid = api.get("/product/dedicated-server").json()["data"][0]["uuid"]
        path = f"/product/dedicated-server/{uuid}/installation"
        empty = api.post(f"{path}/create", files=form({"template": "278"}))
        assert empty.json()["data"] == "empty_field:hostname"
        done = api.post(f"{path}/create", files=form({"template": "278", "hostname": "a.de"}))
        assert done.json()["data"] == "dedicated_server_installation_create_success"
        assert api.get(f"{path}/status").json()["data"]["installation"] is True
        time.sleep(0.25)
        status = api.get(f"{path}/status").json()["data"]
        assert (status["installation"], status["os"]) == (False, "Debian 10 (Buster)")


def test_same_seed_same_fleet():
    def names(app) -> list[str]:
        return [p.obj["name"] for p in app.state.fleet.products]

    assert names(create_app(size=10, seed=7)) == names(create_app(size=10, seed=7))
    assert names(create_app(size=10, seed=7)) != names(create_app(size=10, seed=8))
