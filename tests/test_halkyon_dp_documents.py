"""halkyon/dp's GraphQL documents, verbatim, against the demo: every one validates and answers.

halkyon/dp is a public Go client of DataPacket's API; its documents select fields the live API
serves beyond the documentation (``schema/datapacket-observed.graphql``). The documents are in
``tests/fixtures/halkyon-dp/`` (origin of each in its README); the variables are the ones the
client builds (``server/server.go``: ``pageIndex``/``pageSize`` 50 and one filter per option).
Every test runs against each path of ``PATHS`` (``/graphql``, every kind; ``/v0/graphql``,
DataPacket's own schema over the DataPacket providers), one gateway over all five demo emulators.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from emulators.dashserv.fleet import MODELS
from gateway.app import create_app
from gateway.demo import DEMO_FULL_ACCESS, DemoBackends, start_demo_backends
from tests.servers import InProcessGateway, stop_soon

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "halkyon-dp"
#: The endpoints a DataPacket client may be pointed at, and the kinds each one serves.
KINDS = {
    "/graphql": {"datapacket", "packet", "mammoth", "dashserv", "dcimanager"},
    "/v0/graphql": {"datapacket"},
}
PATHS = list(KINDS)
#: Every document halkyon/dp sends (but the one that never parsed, below).
DOCUMENTS = sorted(
    path.name for path in FIXTURES.glob("*.graphql") if path.name != "servers-be941a8.graphql"
)
#: The full-selection document its query builder sends when no output field is chosen.
ALL_FIELDS = "servers-9865439-all-fields.graphql"
#: The name prefix of each demo provider's servers.
PREFIXES = {"datapacket": "DP-", "packet": "PK-", "mammoth": "MC-", "dashserv": "DS-"}
PREFIXES["dcimanager"] = "DCI-"
#: One filter per ``server.List`` option (``filter[...]`` in ``server/server.go``).
FILTERS = [
    {"name_in": ["DP-12345"]},
    {"alias_in": ["Load Balancer 01"]},
    {"location_in": ["London"]},
    {"region_in": ["Europe"]},
    {"serverStatusV2_in": ["ACTIVE"]},
    {"powerStatus_in": ["ON"]},
    {"tags_in": [{"key": "env", "value": "production"}]},
]
SIZE = 10


@pytest.fixture(scope="module")
def demo() -> Iterator[tuple[Any, DemoBackends]]:
    backends = start_demo_backends(size=SIZE)
    server = InProcessGateway(create_app(backends.settings, demo_token=DEMO_FULL_ACCESS)).start()
    http = server.client(timeout=30)
    yield http, backends
    server.stop()
    stop_soon([backends])


def _post(http: Any, path: str, document: str, variables: dict | None = None) -> dict:
    """The JSON body of a POST; an answer with data is HTTP 200."""
    body: dict[str, Any] = {"query": document}
    if variables is not None:
        body["variables"] = variables
    response = http.post(path, json=body, headers={"Authorization": f"Bearer {DEMO_FULL_ACCESS}"})
    answer = response.json()
    if answer.get("data") is not None:
        assert response.status_code == 200, response.text
    return answer


def _every_page(http: Any, path: str, document: str, filter: dict | None = None) -> list[dict]:
    """The client's own loop: pages of 50 until ``isLastPage`` (or the last of ``pageCount``)."""
    entries: list[dict] = []
    page_input: dict[str, Any] = {"pageIndex": 0, "pageSize": 50}
    if filter is not None:
        page_input["filter"] = filter
    for index in range(100):
        page_input["pageIndex"] = index
        body = _post(http, path, document, {"input": page_input})
        assert "errors" not in body, body["errors"]
        servers = body["data"]["servers"]
        entries += servers["entries"]
        if servers["isLastPage"] or index >= servers.get("pageCount", index + 1) - 1:
            return entries
    raise AssertionError("the listing never reached its last page")


def _kind(server: dict) -> str:
    return next(kind for kind, prefix in PREFIXES.items() if server["name"].startswith(prefix))


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("name", [n for n in DOCUMENTS if not n.startswith("locations")])
def test_every_servers_document_returns_every_server(demo, path, name):
    http, _ = demo
    entries = _every_page(http, path, (FIXTURES / name).read_text())
    assert len(entries) == SIZE * len(KINDS[path])
    if all("name" in entry for entry in entries):
        assert {_kind(entry) for entry in entries} == KINDS[path]


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("filter", FILTERS, ids=lambda f: next(iter(f)))
def test_the_full_document_answers_every_filter_of_the_client(demo, path, filter):
    http, _ = demo
    entries = _every_page(http, path, (FIXTURES / ALL_FIELDS).read_text(), filter)
    assert entries
    if "name_in" in filter:
        assert [entry["name"] for entry in entries] == ["DP-12345"]


@pytest.mark.parametrize("path", PATHS)
def test_the_locations_document_lists_every_providers_locations(demo, path):
    http, _ = demo
    body = _post(http, path, (FIXTURES / "locations-be1ff19.graphql").read_text())
    assert "errors" not in body, body["errors"]
    names = {location["name"] for location in body["data"]["locations"]}
    assert "London" in names  # a DataPacket location
    if "mammoth" in KINDS[path]:
        assert "Sydney" in names  # a Mammoth one
    assert all(location["region"] for location in body["data"]["locations"])


@pytest.mark.parametrize("path", PATHS)
def test_the_unbalanced_document_of_be941a8_is_a_parse_error(demo, path):
    """The client's default document at be941a8..ad35d90 lacks a closing brace (18 "{", 17
    "}"): no GraphQL server parses it, so the answer is a parse error, not data."""
    http, _ = demo
    document = (FIXTURES / "servers-be941a8.graphql").read_text()
    assert document.count("{") == document.count("}") + 1
    response = http.post(
        path,
        json={"query": document, "variables": {"input": {"pageIndex": 0, "pageSize": 50}}},
        headers={"Authorization": f"Bearer {DEMO_FULL_ACCESS}"},
    )
    assert response.status_code == 400  # a malformed request, as DataPacket answers it
    body = response.json()
    assert "data" not in body
    (error,) = body["errors"]
    assert error["message"].startswith("Syntax Error")
    assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"


@pytest.fixture(scope="module")
def full_listing(demo) -> dict[str, list[dict]]:
    """The full document's servers, by provider kind."""
    http, _ = demo
    by_kind: dict[str, list[dict]] = {kind: [] for kind in PREFIXES}
    for entry in _every_page(http, PATHS[0], (FIXTURES / ALL_FIELDS).read_text()):
        by_kind[_kind(entry)].append(entry)
    return by_kind


def test_datapacket_serves_the_observed_fields_natively(full_listing):
    example = next(s for s in full_listing["datapacket"] if s["name"] == "DP-12345")
    assert example["system"]["operatingSystem"] == {"name": "Debian 11"}
    # HARDWARE[0] of the emulator: Intel Silver 4316 (20 cores), 2 x 500 GB SSD.
    assert example["hardware"]["cpus"] == [{"name": "Intel Silver 4316", "cores": 20}]
    assert example["hardware"]["storage"] == [{"size": 500, "type": "SSD"}] * 2
    assert example["network"]["hasLinkAggregation"] is True  # 40 Gbps uplink
    assert example["trafficPlan"] == {
        "name": "10 Gbps unmetered",
        "type": "UNMETERED",
        "bandwidth": 40.0,
    }
    assert example["deviceType"] == "DEDICATED"


def test_packet_cores_and_drives_come_from_the_device_plan(demo, full_listing):
    _, backends = demo
    devices = backends.emulators["packet"].app.state.fleet.devices
    for server in full_listing["packet"]:
        plan = devices[server["name"].removeprefix("PK-")]["plan"]
        cores = {"c3.small.x86": 8, "c3.medium.x86": 24}.get(plan["slug"])
        if cores is not None:  # the two plans whose processor names say 8 and 24 cores
            assert [cpu["cores"] for cpu in server["hardware"]["cpus"]] == [cores]
        drives = sum(drive["count"] for drive in plan["specs"]["drives"])
        assert len(server["hardware"]["storage"]) == drives
        assert server["deviceType"] is None
        assert server["network"]["hasLinkAggregation"] is None
    assert any(s["hardware"]["cpus"][0]["cores"] == 24 for s in full_listing["packet"])


def test_mammoth_cores_are_vcpus_counted_in_cores(demo, full_listing):
    _, backends = demo
    payloads = {
        str(s["id"]): s for s in backends.emulators["mammoth"].app.state.fleet.servers.values()
    }
    for server in full_listing["mammoth"]:
        payload = payloads[server["name"].removeprefix("MC-")]
        assert payload["size"]["vcpu_units"] == "core"
        assert [cpu["cores"] for cpu in server["hardware"]["cpus"]] == [payload["vcpus"]]
        image = payload["image"]
        name = image.get("full_name") or image.get("name")
        assert server["system"]["operatingSystem"] == ({"name": name} if name else None)
        assert server["trafficPlan"]["type"] is None


def test_dashserv_cores_come_from_the_model_and_dcimanager_has_none(full_listing):
    model_cores = {model["cpu"]["name"]: model["cpu"]["cores"] for model in MODELS}
    dedicated = [
        server
        for server in full_listing["dashserv"]
        if any(cpu["name"] != "vCPU" for cpu in server["hardware"]["cpus"])
    ]
    assert dedicated
    for server in dedicated:
        cpu = server["hardware"]["cpus"][0]
        assert cpu["cores"] == model_cores[cpu["name"]]
        # Selected without ``os``, it still costs the installation call that names the OS.
        assert server["system"]["operatingSystem"]["name"]
    for server in full_listing["dcimanager"]:
        assert all(cpu["cores"] is None for cpu in server["hardware"]["cpus"])
        assert server["system"]["operatingSystem"]["name"]
