"""One behaviour suite, run against every backend kind through the gateway and its emulator.

Each kind runs alone (one provider instance) from the embedded demo's table, so a new backend
added there is held to the same contract: listing, paging, lookup by every key it reports,
filters, power actions (exactly one upstream write) and capability refusals (no upstream call).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from emulators.kit.server import EmulatorServer
from gateway.app import create_app
from gateway.demo import DEMO_BACKENDS, DemoBackend
from gateway.settings import settings_from_dict
from providers.base import Capability
from providers.registry import PROVIDER_KINDS
from tests.conftest import TOKENS, GatewayClient, error_codes
from tests.servers import InProcessGateway, stop_soon

FIELDS = (
    "name alias location { name region short } powerStatus statusV2 "
    "network { ipAddresses { ip } ipmi { ip } } tags { key value } provider { id kind }"
)
SIZE = 24


class Backend:
    """A running emulator and a gateway configured with it alone."""

    def __init__(self, backend: DemoBackend) -> None:
        self.kind = backend.kind
        self.adapter = PROVIDER_KINDS[backend.kind]
        app = backend.emulator(SIZE)
        self.upstream = EmulatorServer(app).start()
        table = {
            "id": backend.kind,
            "kind": backend.kind,
            "base_url": f"{self.upstream.url}{backend.path}",
            "prefix": backend.prefix,
            **backend.credentials,
            **backend.options(app),
        }
        settings = settings_from_dict({"providers": [table], "tokens": TOKENS})
        self.gateway = InProcessGateway(create_app(settings)).start()
        self.client = GatewayClient(self.gateway)
        self.prefix = backend.prefix

    def stop(self) -> None:
        self.gateway.stop()
        stop_soon([self.upstream])

    @property
    def log(self):
        return self.upstream.app.state.emulator.request_log

    def writes(self) -> int:
        """Upstream requests that change state (GraphQL mutations, or non-GET REST calls)."""
        if self.kind == "datapacket":
            return sum(1 for e in self.log.entries() if e.operation and "Action" in e.operation)
        return sum(1 for e in self.log.entries() if e.method != "GET" and "/auth/" not in e.path)

    def servers(self, **filter: object) -> list[dict]:
        entries: list[dict] = []
        index = 0
        while True:
            page = self.client.data(
                "query P($input: PaginatedServersInput) { servers(input: $input) "
                f"{{ entriesTotalCount isLastPage entries {{ {FIELDS} }} }} }}",
                {"input": {"pageIndex": index, "pageSize": 50, "filter": filter}},
            )["servers"]
            entries += page["entries"]
            if page["isLastPage"]:
                assert len(entries) == page["entriesTotalCount"]
                return entries
            index += 1


@pytest.fixture(scope="module", params=DEMO_BACKENDS, ids=lambda backend: backend.kind)
def backend(request) -> Iterator[Backend]:
    running = Backend(request.param)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def fleet(backend) -> list[dict]:
    return backend.servers()


def test_listing_names_every_server_once_with_the_instance_prefix(backend, fleet):
    names = [server["name"] for server in fleet]
    assert len(names) >= 10 and len(set(names)) == len(names)
    assert all(name.upper().startswith(f"{backend.prefix}-") for name in names)
    assert {server["provider"]["kind"] for server in fleet} == {backend.kind.upper()}


def test_pages_concatenate_to_the_whole_list(backend, fleet):
    pages = []
    for index in range(0, (len(fleet) + 6) // 7 + 1):
        page = backend.client.data(
            f"{{ servers(input: {{pageIndex: {index}, pageSize: 7}}) "
            "{ entries { name } isLastPage nextPageIndex entriesTotalCount } }"
        )["servers"]
        pages += [server["name"] for server in page["entries"]]
        assert page["entriesTotalCount"] == len(fleet)
    assert pages == [server["name"] for server in fleet]


def test_lookup_by_every_key_the_backend_reports(backend, fleet):
    server = fleet[0]
    by_name = backend.client.data(f'{{ server(input: {{name: "{server["name"]}"}}) {{ name }} }}')
    assert by_name == {"server": {"name": server["name"]}}
    keys = []
    if server["alias"]:
        keys.append(("alias", f'"{server["alias"]}"', "alias_in", [server["alias"]]))
    if server["network"]["ipAddresses"]:
        ip = server["network"]["ipAddresses"][0]["ip"]
        keys.append(("ip", f'"{ip}"', "ip_in", [ip]))
    if server["network"]["ipmi"]["ip"]:
        ipmi = server["network"]["ipmi"]["ip"]
        keys.append(("ipmiIp", f'"{ipmi}"', "ipmiIp_in", [ipmi]))
    for key, literal, filter_name, values in keys:
        matching = backend.servers(**{filter_name: values})
        body = backend.client.query(f"{{ server(input: {{{key}: {literal}}}) {{ name }} }}")
        if len(matching) == 1:
            assert body["data"] == {"server": {"name": server["name"]}}, key
        else:
            assert error_codes(body) == ["VALIDATION_FAILED"], key


def test_unknown_name_is_not_found(backend):
    body = backend.client.query(f'{{ server(input: {{name: "{backend.prefix}-0"}}) {{ name }} }}')
    assert error_codes(body) == ["NOT_FOUND"]


@pytest.mark.parametrize(
    ("filter_name", "value_of"),
    [
        ("location_in", lambda s: s["location"]["name"]),
        ("region_in", lambda s: s["location"]["region"]),
        ("powerStatus_in", lambda s: s["powerStatus"]),
        ("serverStatusV2_in", lambda s: s["statusV2"]),
        ("name_in", lambda s: s["name"]),
    ],
)
def test_filters_select_exactly_the_matching_servers(backend, fleet, filter_name, value_of):
    wanted = value_of(fleet[-1])
    expected = [s["name"] for s in fleet if value_of(s) == wanted]
    assert [s["name"] for s in backend.servers(**{filter_name: [wanted]})] == expected


def test_a_power_action_is_one_upstream_write_or_refused_without_a_call(backend, fleet):
    server = next(s for s in fleet if s["powerStatus"] != "UNKNOWN" and s["statusV2"] == "ACTIVE")
    name, action = server["name"], "RESET" if server["powerStatus"] == "ON" else "ON"
    backend.log.clear()
    body = backend.client.query(
        f"mutation {{ performServerPowerAction(input: "
        f'{{server: {{name: "{name}"}}, action: {action}}}) {{ server {{ name }} }} }}'
    )
    if Capability.POWER_ACTION in backend.adapter.capabilities:
        assert body.get("data") == {"performServerPowerAction": {"server": {"name": name}}}
        assert backend.writes() == 1
    else:
        assert error_codes(body) == ["NOT_SUPPORTED"]
        assert backend.log.count() == 0


MUTATIONS = {
    Capability.SET_ALIAS: 'setServerAlias(input: {server: {name: "%s"}, alias: "x"}) '
    "{ server { name } }",
    Capability.SET_BOOT_DEVICE: 'setServerBootDevice(input: {server: {name: "%s"}, '
    "bootDevice: PXE}) { server { name } }",
    Capability.SET_PRIMARY_IP: 'setServerPrimaryIp(input: {server: {name: "%s"}, '
    'ip: "192.0.2.1"}) { server { name } }',
    Capability.CHANGE_IPMI_PASSWORD: 'changeServerIpmiPassword(input: {server: {name: "%s"}, '
    'password: "abcdefghij1"}) { server { name } }',
    Capability.SET_TAGS: 'setServerTag(input: {server: {name: "%s"}, key: "k", value: "v"})',
}


@pytest.mark.parametrize("capability", list(MUTATIONS), ids=lambda c: c.value)
def test_a_missing_capability_is_refused_naming_the_provider(backend, fleet, capability):
    if capability in backend.adapter.capabilities:
        pytest.skip(f"{backend.kind} supports {capability.value}")
    backend.log.clear()
    body = backend.client.query("mutation { " + MUTATIONS[capability] % fleet[0]["name"] + " }")
    assert error_codes(body) == ["NOT_SUPPORTED"]
    assert body["errors"][0]["extensions"]["provider"] == backend.kind
    assert backend.log.count() == 0


QUERIES = {
    Capability.INVOICES: "{ invoices { entriesTotalCount } }",
    Capability.SUBSCRIPTIONS: "{ subscriptions { entriesTotalCount } }",
    Capability.SUPPORT_REQUESTS: "{ supportRequests { id } }",
    Capability.ACCOUNT: "{ account { email } }",
    Capability.INSTANT_DELIVERY: "{ instantDeliveryServers { entriesTotalCount } }",
    Capability.TRAFFIC: '{ traffic(input: {from: "2026-01-01T00:00:00Z", '
    'to: "2026-01-02T00:00:00Z"}) { aggregated { statisticsIn { sum } } } }',
}


@pytest.mark.parametrize("capability", list(QUERIES), ids=lambda c: c.value)
def test_queries_answer_or_are_refused_without_a_call(backend, capability):
    backend.log.clear()
    body = backend.client.query(QUERIES[capability])
    if capability in backend.adapter.capabilities:
        assert "errors" not in body, body
    else:
        assert error_codes(body) == ["NOT_SUPPORTED"]
        assert backend.log.count() == 0
