"""One fleet: all five backend kinds behind one gateway, as a user sees them.

Every emulator of the embedded demo runs at once (``DEMO_BACKENDS``, small fleets) and one
provider instance of each kind is configured against it, in the demo's order. The
cross-provider tests check the global order, straddling pages, filters and locations across
kinds, merged invoices and traffic, and capability refusals; the failure tests turn each
emulator's fault knobs and check that the other providers' data survives.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from providers.base import Capability
from providers.locations import CITIES
from providers.registry import PROVIDER_KINDS
from tests.conftest import GatewayClient, error_codes
from tests.fleet import KINDS, Fleet

SIZE = 20
FIELDS = (
    "name alias location { name region short } powerStatus statusV2 "
    "tags { key value } provider { id }"
)
SERVERS = (
    "query Servers($input: PaginatedServersInput) { servers(input: $input) "
    "{ entriesTotalCount pageCount isFirstPage isLastPage nextPageIndex "
    f"entries {{ {FIELDS} }} }} }}"
)


def listing(client: GatewayClient, **filter: Any) -> list[dict]:
    """Every server matching ``filter``, page by page, checking the total on the way."""
    entries: list[dict] = []
    for index in range(100):
        page = client.data(
            SERVERS, {"input": {"pageIndex": index, "pageSize": 50, "filter": filter}}
        )
        entries += page["servers"]["entries"]
        if page["servers"]["isLastPage"]:
            assert len(entries) == page["servers"]["entriesTotalCount"]
            return entries
    raise AssertionError("the listing never reached its last page")


def per_provider(client: GatewayClient, **filter: Any) -> list[dict]:
    """The concatenation, in configuration order, of each provider's own filtered listing."""
    return [server for kind in KINDS for server in listing(client, provider_in=[kind], **filter)]


def names(servers: list[dict]) -> list[str]:
    return [server["name"] for server in servers]


# --- cross-provider semantics -------------------------------------------------------------


@pytest.fixture(scope="module")
def fleet() -> Iterator[Fleet]:
    """All five emulators for read-only tests (nothing here mutates them)."""
    running = Fleet(SIZE)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def client(fleet: Fleet) -> GatewayClient:
    """One gateway over all five kinds, shared by the read-only tests."""
    return fleet.gateway()


@pytest.fixture(scope="module")
def everything(client: GatewayClient) -> list[dict]:
    """The whole merged fleet, as one client lists it."""
    return listing(client)


def test_the_global_order_is_configuration_order_then_each_providers_own(client, everything):
    assert [s["provider"]["id"] for s in everything] == [k for k in KINDS for _ in range(SIZE)]
    assert everything == per_provider(client)
    assert len(set(names(everything))) == len(everything)


def test_every_page_of_seven_is_the_same_window_of_the_concatenation(client):
    concatenation = per_provider(client)
    total = len(concatenation)
    page_count = math.ceil(total / 7)
    straddling = 0
    for index in range(page_count):
        page = client.data(SERVERS, {"input": {"pageIndex": index, "pageSize": 7}})["servers"]
        window = concatenation[index * 7 : index * 7 + 7]
        assert page["entries"] == window, f"page {index}"
        assert (page["entriesTotalCount"], page["pageCount"]) == (total, page_count)
        assert page["isLastPage"] == (index == page_count - 1)
        assert page["nextPageIndex"] == (None if index == page_count - 1 else index + 1)
        straddling += len({s["provider"]["id"] for s in window}) > 1
    assert straddling == len(KINDS) - 1  # 20 is not a multiple of 7: every boundary is inside
    beyond = client.data(SERVERS, {"input": {"pageIndex": page_count, "pageSize": 7}})
    assert beyond["servers"]["entries"] == []


def tag_in_two_kinds(everything: list[dict]) -> dict[str, str]:
    """A tag carried by servers of at least two providers (the kinds that have tags)."""
    kinds_of: dict[tuple[str, str], set[str]] = {}
    for server in everything:
        for tag in server["tags"]:
            kinds_of.setdefault((tag["key"], tag["value"]), set()).add(server["provider"]["id"])
    key, value = next(tag for tag, kinds in sorted(kinds_of.items()) if len(kinds) > 1)
    return {"key": key, "value": value}


def first_of(everything: list[dict], kind: str) -> dict:
    return next(s for s in everything if s["provider"]["id"] == kind)


# Each case: (filter built from the fleet, predicate a matching server satisfies). Tags exist
# on DataPacket and Packet only; the other kinds report none, so they never match a tag filter.
FILTERS: dict[str, Callable[[list[dict]], tuple[dict, Callable[[dict], bool]]]] = {
    "location_in+powerStatus_in": lambda _: (
        {"location_in": ["Amsterdam", "London"], "powerStatus_in": ["ON"]},
        lambda s: s["location"]["name"] in ("Amsterdam", "London") and s["powerStatus"] == "ON",
    ),
    "region_in": lambda _: (
        {"region_in": ["Europe"]},
        lambda s: s["location"]["region"] == "Europe",
    ),
    "name_in": lambda every: (
        {
            "name_in": [
                first_of(every, "datapacket")["name"],
                first_of(every, "mammoth")["name"],
                first_of(every, "dcimanager")["name"],
                "PK-00000000-0000-0000-0000-000000000000",
            ]
        },
        lambda s: (
            s["name"]
            in {first_of(every, k)["name"] for k in ("datapacket", "mammoth", "dcimanager")}
        ),
    ),
    "tags_in": lambda every: (
        {"tags_in": [tag_in_two_kinds(every)]},
        lambda s: tag_in_two_kinds(every) in s["tags"],
    ),
    "tag_key": lambda every: (
        {"tag_key": [tag_in_two_kinds(every)["key"]]},
        lambda s: tag_in_two_kinds(every)["key"] in {t["key"] for t in s["tags"]},
    ),
}


@pytest.mark.parametrize("case", list(FILTERS))
def test_filters_work_across_kinds(client, everything, case):
    filter, matches = FILTERS[case](everything)
    found = listing(client, **filter)
    assert found == [s for s in everything if matches(s)]
    assert found == per_provider(client, **filter)
    assert len({s["provider"]["id"] for s in found}) >= 2, "the case should span providers"


def test_amsterdam_is_one_location_across_providers(client, everything):
    amsterdam = listing(client, location_in=["Amsterdam"])
    assert len({s["provider"]["id"] for s in amsterdam}) >= 3
    assert {(s["location"]["name"], s["location"]["region"]) for s in amsterdam} == {
        ("Amsterdam", "Europe")
    }
    assert {s["location"]["short"] for s in amsterdam} == {"AMS"}
    assert amsterdam == per_provider(client, location_in=["Amsterdam"])
    assert amsterdam == [s for s in everything if s["location"]["name"] == "Amsterdam"]


def test_locations_are_the_shared_vocabulary_once_each(client, everything):
    locations = client.data("{ locations { name region short } }")["locations"]
    keys = [(loc["region"], loc["name"]) for loc in locations]
    assert len(keys) == len(set(keys))
    assert [loc["name"] for loc in locations].count("Amsterdam") == 1
    assert [loc for loc in locations if loc not in CITIES.values()] == []
    assert all(s["location"] in locations for s in everything)


INVOICES = (
    "query Invoices($input: PaginatedInvoicesInput) { invoices(input: $input) "
    "{ entriesTotalCount isLastPage entries { invoiceNumber } } }"
)


def all_invoices(client: GatewayClient) -> list[str]:
    numbers: list[str] = []
    for index in range(100):
        page = client.data(INVOICES, {"input": {"pageIndex": index, "pageSize": 50}})["invoices"]
        numbers += [invoice["invoiceNumber"] for invoice in page["entries"]]
        if page["isLastPage"]:
            assert len(numbers) == page["entriesTotalCount"]
            return numbers
    raise AssertionError("the invoices never reached their last page")


def test_invoices_merge_datapacket_then_mammoth_with_exact_pages(fleet, client):
    billing = [kind for kind in KINDS if Capability.INVOICES in PROVIDER_KINDS[kind].capabilities]
    assert billing == ["datapacket", "mammoth"]
    alone = {kind: all_invoices(fleet.gateway([kind])) for kind in billing}
    merged = alone["datapacket"] + alone["mammoth"]
    assert all(alone.values()) and len(set(merged)) == len(merged)
    assert all_invoices(client) == merged
    for index in range(math.ceil(len(merged) / 7)):
        page = client.data(INVOICES, {"input": {"pageIndex": index, "pageSize": 7}})["invoices"]
        assert page["entriesTotalCount"] == len(merged)
        assert [i["invoiceNumber"] for i in page["entries"]] == merged[index * 7 : index * 7 + 7]


TRAFFIC = (
    "query Traffic($input: TrafficInput!) { traffic(input: $input) { aggregated { "
    "statisticsIn { sum average maximum last p95 } "
    "statisticsOut { sum average maximum last p95 } } } }"
)


def recent_period() -> dict[str, str]:
    """Six hours ending an hour ago, on 5-minute boundaries (every kind has data for it)."""
    end = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=1)
    end -= timedelta(minutes=end.minute % 5)
    return {"from": (end - timedelta(hours=6)).isoformat(), "to": end.isoformat()}


def traffic_calls(fleet: Fleet, kind: str) -> int:
    """Upstream reads one traffic query costs a kind with an empty cache.

    DataPacket: one document asking every bucket under an alias. Mammoth: the server list,
    then one sample-set request per server. dashserv: both product lists (the filter may
    name any server), then one stats request per vServer (dedicated servers have none).
    """
    if kind == "datapacket":
        return 1
    if kind == "mammoth":
        return 1 + SIZE
    products = fleet.upstreams[kind].app.state.fleet.products
    return 2 + sum(1 for product in products if product.kind == "vserver")


def test_traffic_is_the_statistics_of_the_summed_series(fleet):
    period = {"input": recent_period()}
    kinds = [kind for kind in KINDS if Capability.TRAFFIC in PROVIDER_KINDS[kind].capabilities]
    assert kinds == ["datapacket", "mammoth", "dashserv"]
    alone = {kind: fleet.gateway([kind]).data(TRAFFIC, period) for kind in kinds}
    fleet.clear_logs()
    together = fleet.gateway().data(TRAFFIC, period)["traffic"]["aggregated"]
    for direction in ("statisticsIn", "statisticsOut"):
        each = [alone[kind]["traffic"]["aggregated"][direction] for kind in kinds]
        combined = together[direction]
        assert combined["sum"] == pytest.approx(sum(one["sum"] for one in each), rel=1e-6)
        assert combined["average"] == pytest.approx(sum(one["average"] for one in each), abs=3)
        # The kinds' series meet on the coarsest grid (dashserv's 15 minutes), a bucket being
        # the mean of a kind's samples in it: no bucket exceeds the kinds' maxima added, while
        # percentiles of a re-gridded sum have no bound in the kinds' own percentiles.
        assert combined["maximum"] <= sum(one["maximum"] for one in each) + len(kinds)
        assert combined["p95"] <= combined["maximum"]
    calls = fleet.calls()
    assert calls["packet"] == calls["dcimanager"] == 0
    assert {kind: calls[kind] for kind in kinds} == {k: traffic_calls(fleet, k) for k in kinds}


# One mutation per capability a kind may lack, written for a server name.
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
POWER = 'performServerPowerAction(input: {server: {name: "%s"}, action: %s}) { server { name } }'
# Power actions a kind has no upstream action for (see each adapter's notes).
UNSUPPORTED_POWER = {"packet": "SOFT", "dcimanager": "CYCLE"}

REFUSALS = [
    (kind, MUTATIONS[capability].split("(")[0], MUTATIONS[capability])
    for kind in KINDS
    for capability in MUTATIONS
    if capability not in PROVIDER_KINDS[kind].capabilities
] + [
    (kind, Capability.POWER_ACTION.value, POWER % ("%s", action))  # keeps the name slot
    for kind, action in UNSUPPORTED_POWER.items()
]


@pytest.mark.parametrize(
    ("kind", "operation", "mutation"),
    REFUSALS,
    ids=[f"{kind}-{mutation.split('(')[0]}" for kind, _, mutation in REFUSALS],
)
def test_a_mutation_the_provider_cannot_do_calls_no_upstream(
    fleet, client, everything, kind, operation, mutation
):
    name = first_of(everything, kind)["name"]
    fleet.clear_logs()
    body = client.query("mutation { " + mutation % name + " }")
    assert error_codes(body) == ["NOT_SUPPORTED"]
    extensions = body["errors"][0]["extensions"]
    assert (extensions["provider"], extensions["operation"]) == (kind, operation)
    assert fleet.calls() == dict.fromkeys(KINDS, 0)


def test_support_writes_without_datapacket_name_the_operation_and_the_owner(fleet, everything):
    """Only DataPacket takes support requests: the refusal names what was asked, and whom."""
    client = fleet.gateway(["packet", "mammoth"])
    fleet.clear_logs()
    reply = client.query('mutation { supportRequestReply(input: {id: 1, message: "hi"}) }')
    assert error_codes(reply) == ["NOT_SUPPORTED"]
    assert reply["errors"][0]["extensions"] == {
        "code": "NOT_SUPPORTED",
        "operation": "supportRequestReply",
        "providers": ["packet", "mammoth"],
    }
    server = first_of(everything, "packet")["name"]
    created = client.query(
        'mutation { createSupportRequest(input: {subject: HARDWARE_ISSUE, message: "m", '
        "priority: NORMAL, "
        f'servers: ["{server}"]}}) }}'
    )
    extensions = created["errors"][0]["extensions"]
    assert (extensions["provider"], extensions["operation"]) == ("packet", "createSupportRequest")
    assert fleet.calls() == dict.fromkeys(KINDS, 0)


# --- partial failure ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def faulty() -> Iterator[Fleet]:
    """All five emulators for fault tests; each test gets its own gateway and resets faults.

    Retries keep their counts but wait a hundredth of a second (the default backoff is 0.2 s,
    DCImanager's 0.1 s, doubled per retry): these tests count data and errors, not time.
    """
    running = Fleet(SIZE, retry_backoff=0.01)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def healthy(faulty: Fleet) -> list[dict]:
    """The whole fleet read once before any fault (power actions below keep names)."""
    every = listing(faulty.gateway())
    faulty.stop_gateways()
    return every


@pytest.fixture
def inject(faulty: Fleet) -> Iterator[Callable[..., GatewayClient]]:
    """Set faults on some emulators and return a fresh gateway; every knob is reset after."""

    def make(faults: dict[str, str]) -> GatewayClient:
        overrides = {}
        for kind, fault in faults.items():
            knobs = faulty.faults(kind)
            if fault == "down":
                knobs.error_rate = 1.0
            elif fault == "slow":
                knobs.latency_ms = 1000
                overrides[kind] = {"read_timeout": 0.1}  # far below the latency
            else:
                knobs.malformed = True
        faulty.clear_logs()
        return faulty.gateway(**overrides)

    yield make
    for kind in KINDS:
        faulty.faults(kind).update({"error_rate": 0.0, "latency_ms": 0, "malformed": False})
    faulty.stop_gateways()


def assert_partial(client: GatewayClient, failed: set[str], healthy: list[dict]) -> None:
    """Every healthy provider's servers, one error per failed provider, reachability false."""
    expected = [s["name"] for s in healthy if s["provider"]["id"] not in failed]
    found: list[str] = []
    for index in range(3):
        body = client.query(SERVERS, {"input": {"pageIndex": index, "pageSize": 50}})
        page = body["data"]["servers"]
        found += names(page["entries"])
        assert page["entriesTotalCount"] == len(expected)
        assert error_codes(body) == ["PROVIDER_UNAVAILABLE"] * len(failed), body.get("errors")
        assert sorted(e["extensions"]["provider"] for e in body["errors"]) == sorted(failed)
        assert all(e["path"] == ["servers"] for e in body["errors"])
        if page["isLastPage"]:
            break
    assert found == expected
    providers = client.data("{ providers { id reachable } }")["providers"]
    assert providers == [{"id": kind, "reachable": kind not in failed} for kind in KINDS]


@pytest.mark.parametrize("fault", ["down", "slow", "malformed"])
@pytest.mark.parametrize("kind", KINDS)
def test_one_failing_provider_leaves_the_others_answering(inject, healthy, kind, fault):
    assert_partial(inject({kind: fault}), {kind}, healthy)


@pytest.mark.parametrize(
    "faults",
    [
        {"datapacket": "down", "dcimanager": "malformed"},
        {"packet": "slow", "mammoth": "down"},
        {"mammoth": "malformed", "dashserv": "slow"},
    ],
    ids=lambda faults: "+".join(f"{kind}-{fault}" for kind, fault in faults.items()),
)
def test_two_failing_providers_at_once(inject, healthy, faults):
    assert_partial(inject(faults), set(faults), healthy)


def test_other_merged_fields_keep_the_answering_providers_share(faulty, inject):
    client = inject({"mammoth": "down"})
    period = {"input": recent_period()}
    without = faulty.gateway(["datapacket", "dashserv"]).data(TRAFFIC, period)["traffic"]
    dp_invoices = all_invoices(faulty.gateway(["datapacket"]))
    traffic = client.query(TRAFFIC, period)
    invoices = client.query(INVOICES, {"input": {"pageSize": 50}})
    locations = client.query("{ locations { name } }")
    for body, field in ((traffic, "traffic"), (invoices, "invoices"), (locations, "locations")):
        assert error_codes(body) == ["PROVIDER_UNAVAILABLE"], field
        assert (body["errors"][0]["extensions"]["provider"], body["errors"][0]["path"]) == (
            "mammoth",
            [field],
        )
    for direction, stats in traffic["data"]["traffic"]["aggregated"].items():
        assert stats == pytest.approx(without["aggregated"][direction], rel=1e-6), direction
    page = invoices["data"]["invoices"]
    assert page["entriesTotalCount"] == len(dp_invoices)
    assert [i["invoiceNumber"] for i in page["entries"]] == dp_invoices[:50]
    assert {"name": "Amsterdam"} in locations["data"]["locations"]


DOWN_DURING_POWER = ["datapacket", "mammoth"]


@pytest.mark.parametrize("down", DOWN_DURING_POWER)
def test_power_actions_work_on_healthy_providers_while_one_is_down(faulty, inject, healthy, down):
    # A server of each kind that is running; each case takes its own, since an emulator may
    # refuse a second reset while the first is still in progress.
    running = [s for s in healthy if s["powerStatus"] == "ON" and s["statusV2"] == "ACTIVE"]
    nth = DOWN_DURING_POWER.index(down)
    targets = {
        kind: [s["name"] for s in running if s["provider"]["id"] == kind][nth] for kind in KINDS
    }
    client = inject({down: "down"})
    for kind, name in targets.items():
        faulty.clear_logs()
        body = client.query("mutation { " + POWER % (name, "RESET") + " }")
        if kind == down:
            assert error_codes(body) == ["PROVIDER_UNAVAILABLE"]
            assert body["errors"][0]["extensions"]["provider"] == down
        else:
            assert body == {"data": {"performServerPowerAction": {"server": {"name": name}}}}
        assert faulty.writes(kind) == 1, "sent once, never retried"
        assert all(faulty.log(other).count() == 0 for other in KINDS if other != kind)
