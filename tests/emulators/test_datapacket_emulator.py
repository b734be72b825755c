"""The DataPacket emulator over HTTP: the seed's examples, its rules, its errors and its knobs."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from emulators.datapacket.app import create_app
from emulators.kit import EmulatorServer
from tests.emulators.datapacket_examples import MUTATIONS, QUERIES, traffic_example
from tests.servers import serving

FULL = "dp-emulator-full"
READ = "dp-emulator-read"
PATH = "/v0/graphql"
DP = {"name": "DP-12345"}
ALIAS = "mutation($i: SetServerAliasInput!) { setServerAlias(input: $i) { server { alias } } }"


def gql(
    client: httpx.Client,
    query: str,
    variables: dict | None = None,
    token: str | None = FULL,
    status: int = 200,
) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = client.post(PATH, json={"query": query, "variables": variables}, headers=headers)
    assert response.status_code == status, response.text
    return response.json()


def codes(body: dict[str, Any]) -> list[str]:
    return [e["extensions"]["code"] for e in body.get("errors", [])]


def code(body: dict[str, Any]) -> str | None:
    """The code of the only error, or None when there is no error."""
    found = codes(body)
    assert len(found) <= 1, found
    return found[0] if found else None


def names(body: dict[str, Any]) -> list[str]:
    return [s["name"] for s in body["data"]["servers"]["entries"]]


@pytest.fixture(scope="module")
def shared() -> Iterator[EmulatorServer]:
    """A read-mostly emulator; tests that mutate state use ``fresh``."""
    with serving(create_app(size=40, seed=1)) as running:
        yield running


@pytest.fixture(scope="module")
def client(shared: EmulatorServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=shared.url, timeout=5) as http:
        yield http


@pytest.fixture
def fresh() -> Iterator[httpx.Client]:
    with serving(create_app(size=40, seed=1, power_delay=0.3)) as running:
        with httpx.Client(base_url=running.url, timeout=5) as http:
            yield http


# --- the seed's examples ------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(QUERIES))
def test_seed_example_queries_run(client: httpx.Client, name: str) -> None:
    body = gql(client, *QUERIES[name])
    assert "errors" not in body
    assert all(value is not None for value in body["data"].values())


def test_seed_example_traffic_runs(client: httpx.Client) -> None:
    body = gql(client, *traffic_example())
    assert "errors" not in body
    stats = body["data"]["traffic"]["aggregated"]["statisticsOut"]
    assert stats["sum"] > 0


def test_seed_example_mutations_run(fresh: httpx.Client) -> None:
    for name, (query, variables) in MUTATIONS.items():
        body = gql(fresh, query, variables)
        assert "errors" not in body, name


def test_seed_example_entities(client: httpx.Client) -> None:
    body = gql(client, *QUERIES["Server"])["data"]["server"]
    assert body["hostname"] == "petermarlowe-45"
    assert body["location"] == {"name": "London", "region": "Europe", "short": "LON"}
    assert body["powerStatus"] == "ON"
    primary = next(a for a in body["network"]["ipAddresses"] if a["isPrimary"])
    assert primary == {
        "broadcast": "123.213.231.255",
        "cidr": "123.213.231.132/26",
        "gateway": "123.213.231.101",
        "ip": "123.213.231.132",
        "isBgpPrefix": False,
        "isPrimary": True,
        "netMask": "255.255.255.192",
        "network": "123.213.231.100",
        "type": "IPV4",
    }
    assert body["network"]["ipmi"] == {"ip": "10.110.120.130", "username": "admin"}
    assert {"key": "env", "value": "production"} in body["tags"]
    assert body["billing"]["subscriptionItem"]["subscriptionItemDetail"]["server"]["name"] == (
        "DP-12345"
    )
    account = gql(client, *QUERIES["Account"])["data"]["account"]
    assert account["createdAt"] == "2024-07-14T17:07:11.144Z"
    rdns = gql(client, *QUERIES["ReverseDnsRecord"])["data"]["reverseDnsRecord"]
    assert rdns["hostname"] == "example.com."


def test_statuses_are_consistent(client: httpx.Client) -> None:
    body = gql(client, "{ servers { entries { status statusV2 powerStatus uptime } } }")
    v1 = {"ACTIVE": "IN_PRODUCTION", "MAINTENANCE": "IN_MAINTENANCE", "WAITING": "INSTALLING"}
    for server in body["data"]["servers"]["entries"]:
        assert server["status"] == v1.get(server["statusV2"], server["status"])
        if server["powerStatus"] != "ON":
            assert server["uptime"] == 0


OBSERVED = """{ servers(input: {pageSize: 50}) { entries {
  deviceType system { os { name } operatingSystem { name } }
  hardware { cpus { name cores } hdds { count storage { size type } } storage { size type } }
  network { uplinkCapacity hasLinkAggregation } trafficPlan { name type bandwidth }
} }
locations { name region short } }"""


def test_the_live_api_fields_beyond_the_documentation(client: httpx.Client) -> None:
    """schema/datapacket-observed.graphql: served, and consistent with the documented fields."""
    body = gql(client, OBSERVED)
    assert "errors" not in body, body["errors"]
    for server in body["data"]["servers"]["entries"]:
        assert server["deviceType"] == "DEDICATED"
        assert server["system"]["operatingSystem"] == server["system"]["os"]
        hardware = server["hardware"]
        assert all(isinstance(cpu["cores"], int) and cpu["cores"] > 0 for cpu in hardware["cpus"])
        drives = [hdd["storage"] for hdd in hardware["hdds"] for _ in range(hdd["count"])]
        assert hardware["storage"] == drives
        network, plan = server["network"], server["trafficPlan"]
        assert network["hasLinkAggregation"] == (network["uplinkCapacity"] >= 20)
        assert plan["type"] == ("UNMETERED" if plan["name"].endswith("unmetered") else "METERED")
        assert plan["bandwidth"] == float(network["uplinkCapacity"])
    locations = body["data"]["locations"]
    assert {"name": "London", "region": "Europe", "short": "LON"} in locations
    assert len({location["name"] for location in locations}) == len(locations)


# --- HTTP and auth ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        {"content": b"{not json", "headers": {"content-type": "application/json"}},
        {"content": b"query=x", "headers": {"content-type": "application/x-www-form-urlencoded"}},
        {"json": {"variables": {}}},
        {"json": {"query": "{ account { name } }", "variables": [1]}},
    ],
)
def test_malformed_http_is_400_bad_request(client: httpx.Client, kwargs: dict) -> None:
    headers = {"Authorization": f"Bearer {FULL}", **kwargs.pop("headers", {})}
    response = client.post(PATH, headers=headers, **kwargs)
    assert response.status_code == 400
    assert codes(response.json()) == ["BAD_REQUEST"]


@pytest.mark.parametrize("token", [None, "not-a-token"])
def test_missing_or_unknown_token(client: httpx.Client, token: str | None) -> None:
    body = gql(client, "{ account { name } }", token=token)
    assert codes(body) == ["NOT_AUTHORIZED"]
    assert body["errors"][0]["message"] == "You are not authorized to perform this action"
    assert "data" not in body


def test_read_only_token_reads_but_cannot_mutate(client: httpx.Client) -> None:
    assert gql(client, "{ account { name } }", token=READ)["data"]["account"]["name"]
    rename = {"i": {"server": DP, "alias": "x"}}
    assert code(gql(client, ALIAS, rename, token=READ)) == "NOT_AUTHORIZED"
    alias = gql(client, '{ server(input: {name: "DP-12345"}) { alias } }')
    assert alias["data"]["server"]["alias"] == "Load Balancer 01"


def test_custom_tokens() -> None:
    with serving(create_app(size=3, tokens={"t1": "read-only"})) as running:
        with httpx.Client(base_url=running.url) as http:
            assert codes(gql(http, "{ account { name } }", token=FULL)) == ["NOT_AUTHORIZED"]
            assert "errors" not in gql(http, "{ account { name } }", token="t1")


def test_parse_validation_and_variable_errors_are_400(client: httpx.Client) -> None:
    # Seed: "Malformed requests will also return an errors field along with HTTP status code 400".
    malformed = [
        ("{ account { name ", None),
        ("{ account { nope } }", None),
        ("query($i: ServerInput!) { server(input: $i) { name } }", {"i": {"x": 1}}),
        ("query($i: ServerInput!) { server(input: $i) { name } }", {"i": None}),
        (
            '{ traffic(input: {from: "yesterday", to: "2025-01-01T00:00:00Z"}) { __typename } }',
            None,
        ),
    ]
    for query, variables in malformed:
        body = gql(client, query, variables, status=400)
        assert codes(body) == ["GRAPHQL_VALIDATION_FAILED"] and "data" not in body


def test_field_errors_are_200_with_data(client: httpx.Client) -> None:
    body = gql(client, '{ server(input: {name: "DP-999999"}) { name } }')
    assert codes(body) == ["NOT_FOUND"] and body["data"] is None


def test_operation_name_picks_one_of_several_operations(client: httpx.Client, shared) -> None:
    log = shared.app.state.emulator.request_log
    log.clear()
    document = """
      query First { account { name } }
      query Second {
        a: server(input: {name: "DP-12345"}) { name }
        b: server(input: {name: "DP-12346"}) { name }
      }
    """

    def run(name: str) -> dict:
        body = {"query": document, "operationName": name}
        return client.post(PATH, json=body, headers={"Authorization": f"Bearer {FULL}"}).json()

    assert run("First")["data"] == {"account": {"name": "Peter Marlowe"}}
    assert run("Second")["data"] == {"a": {"name": "DP-12345"}, "b": {"name": "DP-12346"}}
    assert codes(run("Third")) == ["GRAPHQL_VALIDATION_FAILED"]
    assert codes(gql(client, document, status=400)) == ["GRAPHQL_VALIDATION_FAILED"]
    assert [e.operation for e in log.entries()][:2] == ["account", "server,server"]


def test_request_log_names_operations_and_hides_the_token(client: httpx.Client) -> None:
    client.delete("/_emulator/requests")
    gql(client, "{ servers { entriesTotalCount } }")
    gql(client, "{ account { name } }", token=None)
    entries = client.get("/_emulator/requests").json()
    assert [e["operation"] for e in entries] == ["servers", "account"]
    assert entries[0]["body"]["query"] == "{ servers { entriesTotalCount } }"
    assert FULL not in client.get("/_emulator/requests").text


# --- lookups, filters and pagination ------------------------------------------------------------

SERVER_BY = "query($i: ServerInput!) { server(input: $i) { name } }"


@pytest.mark.parametrize(
    "key",
    [
        {"name": "DP-12345"},
        {"alias": "Load Balancer 01"},
        {"ip": "123.213.231.132"},
        {"ip": "192.168.0.1"},
        {"ipmiIp": "10.110.120.130"},
        {"tag": {"key": "role", "value": "lb"}, "name": "DP-12345"},
    ],
)
def test_server_lookup_keys(client: httpx.Client, key: dict) -> None:
    assert gql(client, SERVER_BY, {"i": key})["data"]["server"]["name"] == "DP-12345"


@pytest.mark.parametrize(
    ("key", "code"),
    [
        ({"name": "DP-999999"}, "NOT_FOUND"),
        ({"ip": "8.8.8.8"}, "NOT_FOUND"),
        ({"name": "DP-12345", "alias": "Backup"}, "NOT_FOUND"),
        ({"alias": "Backup"}, "VALIDATION_FAILED"),
        ({"tag": {"key": "env", "value": "staging"}}, "VALIDATION_FAILED"),
        ({}, "VALIDATION_FAILED"),
    ],
)
def test_server_lookup_failures(client: httpx.Client, key: dict, code: str) -> None:
    body = gql(client, SERVER_BY, {"i": key})
    assert codes(body) == [code]
    assert body["data"] is None
    if code == "VALIDATION_FAILED" and key:
        assert "ambiguous" in body["errors"][0]["message"]


SERVERS = """query($i: PaginatedServersInput) { servers(input: $i) { entriesTotalCount entries {
  name location { name region } powerStatus statusV2 status tags { key value } alias
} } }"""


def all_servers(client: httpx.Client) -> list[dict]:
    return gql(client, SERVERS)["data"]["servers"]["entries"]


def filtered(client: httpx.Client, f: dict) -> list[str]:
    return names(gql(client, SERVERS, {"i": {"filter": f}}))


def has(server: dict, key: str, value: str) -> bool:
    return {"key": key, "value": value} in server["tags"]


def test_servers_are_ordered_by_name(client: httpx.Client) -> None:
    listed = [s["name"] for s in all_servers(client)]
    assert listed == sorted(listed)
    assert len(listed) == 40


@pytest.mark.parametrize(
    ("f", "predicate"),
    [
        (
            {"location_in": ["London", "Amsterdam"]},
            lambda s: s["location"]["name"] in ("London", "Amsterdam"),
        ),
        ({"region_in": ["Asia"]}, lambda s: s["location"]["region"] == "Asia"),
        ({"powerStatus_in": ["OFF", "UNKNOWN"]}, lambda s: s["powerStatus"] != "ON"),
        ({"serverStatusV2_in": ["ACTIVE"]}, lambda s: s["statusV2"] == "ACTIVE"),
        ({"serverStatus_in": ["IN_PRODUCTION"]}, lambda s: s["status"] == "IN_PRODUCTION"),
        (
            {"location_in": ["London"], "powerStatus_in": ["ON"]},
            lambda s: s["location"]["name"] == "London" and s["powerStatus"] == "ON",
        ),
        ({"tag_key": ["env", "role"]}, lambda s: {"env", "role"} <= {t["key"] for t in s["tags"]}),
        (
            {"tag_value": [{"key": "env", "value": "production"}, {"key": "role", "value": "lb"}]},
            lambda s: has(s, "env", "production") and has(s, "role", "lb"),
        ),
        (
            {"tags_each": [{"key": "env", "value": "production"}]},
            lambda s: has(s, "env", "production"),
        ),
        (
            {"tags_in": [{"key": "env", "value": "dev"}, {"key": "role", "value": "db"}]},
            lambda s: has(s, "env", "dev") or has(s, "role", "db"),
        ),
        ({"alias_in": ["Backup"]}, lambda s: s["alias"] == "Backup"),
        ({"name_in": []}, lambda s: False),
    ],
)
def test_server_filters(client: httpx.Client, f: dict, predicate) -> None:
    expected = [s["name"] for s in all_servers(client) if predicate(s)]
    assert filtered(client, f) == expected
    if "name_in" not in f:
        assert expected, "the seeded data should exercise this filter"


def test_ip_filters(client: httpx.Client) -> None:
    assert filtered(client, {"ip_in": ["192.168.0.1", "1.1.1.1"]}) == ["DP-12345"]
    assert filtered(client, {"ipmiIp_in": ["10.110.120.130"]}) == ["DP-12345"]


PAGE = """query($i: PaginatedServersInput) { servers(input: $i) {
  entriesTotalCount pageCount currentPageIndex isFirstPage isLastPage nextPageIndex
  previousPageIndex pageSize entries { name }
} }"""


def page(client: httpx.Client, **i: Any) -> dict:
    body = gql(client, PAGE, {"i": i})
    assert "errors" not in body, body
    result = body["data"]["servers"]
    result["entries"] = len(result["entries"])
    return result


def test_pagination_metadata(client: httpx.Client) -> None:
    meta = {"entriesTotalCount": 40, "pageCount": 3, "pageSize": 15}
    assert page(client, pageSize=15) == {
        **meta,
        "entries": 15,
        "currentPageIndex": 0,
        "isFirstPage": True,
        "isLastPage": False,
        "nextPageIndex": 1,
        "previousPageIndex": None,
    }
    assert page(client, pageSize=15, pageIndex=1)["nextPageIndex"] == 2
    assert page(client, pageSize=15, pageIndex=2) == {
        **meta,
        "entries": 10,
        "currentPageIndex": 2,
        "isFirstPage": False,
        "isLastPage": True,
        "nextPageIndex": None,
        "previousPageIndex": 1,
    }
    beyond = page(client, pageSize=15, pageIndex=7)
    assert (beyond["entries"], beyond["isLastPage"], beyond["nextPageIndex"]) == (0, True, None)
    assert beyond["previousPageIndex"] == 2  # the last page, as the gateway answers
    empty = page(client, filter={"name_in": ["DP-0"]})
    assert empty == {
        "entriesTotalCount": 0,
        "pageCount": 0,
        "pageSize": 50,
        "entries": 0,
        "currentPageIndex": 0,
        "isFirstPage": True,
        "isLastPage": True,
        "nextPageIndex": None,
        "previousPageIndex": None,
    }
    assert page(client)["entries"] == 40


@pytest.mark.parametrize("i", [{"pageSize": 51}, {"pageSize": 0}, {"pageIndex": -1}])
def test_pagination_limits(client: httpx.Client, i: dict) -> None:
    assert codes(gql(client, PAGE, {"i": i})) == ["VALIDATION_FAILED"]


def test_other_lists_filter_and_paginate(client: httpx.Client) -> None:
    stock = gql(
        client,
        """{ instantDeliveryServers(input: {pageSize: 50, pageIndex: 1, filter: {
          region_in: ["Europe", "Asia", "North America", "Oceania", "South America"]
        }}) { entriesTotalCount isLastPage entries { name } } }""",
    )
    assert stock["data"]["instantDeliveryServers"]["entriesTotalCount"] == 75
    assert len(stock["data"]["instantDeliveryServers"]["entries"]) == 25
    paid = gql(
        client,
        """{ invoices(input: {filter: {paymentStatus_in: [PAID], currency_in: [EUR]}}) {
          entries { currency payment { status } }
        } }""",
    )
    entries = paid["data"]["invoices"]["entries"]
    assert entries and all(e == {"currency": "EUR", "payment": {"status": "PAID"}} for e in entries)
    trials = gql(
        client,
        "{ subscriptions(input: {filter: {type_in: [TRIAL]}})"
        " { entries { billingCycle { unit } } } }",
    )
    assert all(s["billingCycle"] is None for s in trials["data"]["subscriptions"]["entries"])
    tickets = gql(client, "{ supportRequests(input: {pageSize: 2}) { id } }")
    assert [t["id"] for t in tickets["data"]["supportRequests"]] == [123, 987]


@pytest.mark.parametrize(
    "query",
    [
        '{ invoice(input: {invoiceNumber: "DP999999"}) { total } }',
        '{ subscription(input: {name: "nope"}) { name } }',
        "{ supportRequest(input: {id: 1}) { id } }",
        '{ instantDeliveryServer(input: {name: "DP-99999"}) { name } }',
        '{ reverseDnsRecord(input: {ip: "8.8.8.8"}) { hostname } }',
    ],
)
def test_not_found(client: httpx.Client, query: str) -> None:
    assert codes(gql(client, query)) == ["NOT_FOUND"]


# --- traffic ------------------------------------------------------------------------------------

TRAFFIC = """query($i: TrafficInput!) { traffic(input: $i) { aggregated {
  statisticsIn { sum average maximum last p95 } statisticsOut { sum average maximum last p95 }
} } }"""


def traffic(client: httpx.Client, hours: float, f: dict | None = None) -> dict:
    now = datetime.now(UTC).replace(second=0, microsecond=0, minute=0)
    i = {"from": (now - timedelta(hours=hours)).isoformat(), "to": now.isoformat(), "filter": f}
    body = gql(client, TRAFFIC, {"i": i})
    assert "errors" not in body, body
    return body["data"]["traffic"]["aggregated"]["statisticsOut"]


def test_traffic_statistics_are_consistent(client: httpx.Client) -> None:
    stats = traffic(client, 24)
    assert stats["sum"] == pytest.approx(stats["average"] * 288 * 300, rel=1e-6)
    assert stats["average"] <= stats["p95"] <= stats["maximum"]
    assert 0 < stats["last"] <= stats["maximum"]
    london = traffic(client, 24, {"location_in": ["London"]})
    one = traffic(client, 24, {"name_in": ["DP-12345"]})
    assert 0 < one["sum"] < london["sum"] < stats["sum"]
    assert traffic(client, 24, {"name_in": ["DP-12345"]}) == one


def test_traffic_window_rules(client: httpx.Client) -> None:
    same = {"from": "2025-01-14T17:07:11.144Z", "to": "2025-01-14T17:07:11.144Z"}
    assert codes(gql(client, TRAFFIC, {"i": same})) == ["VALIDATION_FAILED"]
    ancient = {"from": "2001-01-01T00:00:00Z", "to": "2001-01-02T00:00:00Z"}
    stats = gql(client, TRAFFIC, {"i": ancient})["data"]["traffic"]["aggregated"]["statisticsIn"]
    assert stats == {"sum": 0, "average": 0, "maximum": 0, "last": 0, "p95": 0}


# --- mutations ----------------------------------------------------------------------------------

POWER = """mutation($i: PerformServerPowerActionInput!) {
  performServerPowerAction(input: $i) { server { powerStatus } }
}"""
POWER_NOW = '{ server(input: {name: "DP-12345"}) { powerStatus } }'


def power(client: httpx.Client) -> str:
    return gql(client, POWER_NOW)["data"]["server"]["powerStatus"]


def test_power_actions_land_after_the_delay(fresh: httpx.Client) -> None:
    acted = gql(fresh, POWER, {"i": {"server": {"name": "DP-12345"}, "action": "SOFT"}})
    assert acted["data"]["performServerPowerAction"]["server"]["powerStatus"] == "ON"
    assert power(fresh) == "ON"
    assert "DP-12345" not in filtered(fresh, {"powerStatus_in": ["OFF"]})
    time.sleep(0.35)
    assert power(fresh) == "OFF"
    assert "DP-12345" in filtered(fresh, {"powerStatus_in": ["OFF"]})
    gql(fresh, POWER, {"i": {"server": {"name": "DP-12345"}, "action": "CYCLE"}})
    time.sleep(0.35)
    assert power(fresh) == "ON"


SET_TAG = "mutation($i: SetServerTagInput!) { setServerTag(input: $i) }"
SET_TAGS = "mutation($i: SetServerTagsInput!) { setServerTags(input: $i) }"
TAGS = '{ server(input: {name: "DP-12345"}) { tags { key value } } }'


def tags(client: httpx.Client) -> list[dict]:
    return gql(client, TAGS)["data"]["server"]["tags"]


def set_tag(client: httpx.Client, key: str, value: str | None = None) -> dict:
    return gql(client, SET_TAG, {"i": {"server": DP, "key": key, "value": value}})


def set_tags(client: httpx.Client, pairs: list[dict]) -> dict:
    return gql(client, SET_TAGS, {"i": {"server": DP, "tags": pairs}})


@pytest.mark.parametrize(
    "tag",
    [
        {"key": "bad key", "value": "x"},
        {"key": "", "value": "x"},
        {"key": "k" * 101, "value": "x"},
        {"key": "k", "value": "v" * 151},
    ],
)
def test_tag_validation(client: httpx.Client, tag: dict) -> None:
    before = tags(client)
    assert code(set_tag(client, tag["key"], tag["value"])) == "VALIDATION_FAILED"
    assert code(set_tags(client, [tag])) == "VALIDATION_FAILED"
    assert tags(client) == before


def test_set_server_tag_and_tags(fresh: httpx.Client) -> None:
    assert set_tag(fresh, "a.b-c_1", "v" * 150)["data"]["setServerTag"] is True
    assert {"key": "a.b-c_1", "value": "v" * 150} in tags(fresh)
    set_tag(fresh, "a.b-c_1")
    assert all(t["key"] != "a.b-c_1" for t in tags(fresh))
    assert set_tags(fresh, [{"key": "  team ", "value": " web  "}])["data"]["setServerTags"]
    assert tags(fresh) == [{"key": "team", "value": "web"}]
    eleven = [{"key": f"k{n}", "value": "v"} for n in range(11)]
    assert code(set_tags(fresh, eleven)) == "VALIDATION_FAILED"
    assert set_tags(fresh, eleven[:10])["data"]["setServerTags"] is True
    assert code(set_tag(fresh, "x", "y")) == "VALIDATION_FAILED"


IPMI = """mutation($i: ChangeIpmiPasswordInput!) {
  changeServerIpmiPassword(input: $i) { server { name } }
}"""


@pytest.mark.parametrize(
    ("password", "ok"),
    [
        ("abcdefghi1", True),
        ("1234567890abcdef", True),
        ("abcdefgh1", False),
        ("abcdefghijklmnopq1", False),
        ("abcdefghijkl", False),
    ],
)
def test_ipmi_password_rules(client: httpx.Client, password: str, ok: bool) -> None:
    body = gql(client, IPMI, {"i": {"server": DP, "password": password}})
    assert codes(body) == ([] if ok else ["VALIDATION_FAILED"])


RDNS_SET = (
    "mutation($i: SetReverseDnsRecordInput!) { setReverseDnsRecord(input: $i) { ip { ip } } }"
)
RDNS_GET = "query($i: ReverseDnsRecordInput!) { reverseDnsRecord(input: $i) { hostname } }"


def test_reverse_dns(fresh: httpx.Client) -> None:
    def set_ptr(ip: str, hostname: str | None) -> dict:
        return gql(fresh, RDNS_SET, {"i": {"ip": ip, "hostname": hostname}})

    def ptr(ip: str) -> str | None:
        return gql(fresh, RDNS_GET, {"i": {"ip": ip}})["data"]["reverseDnsRecord"]["hostname"]

    ip = "123.213.231.132"
    assert code(set_ptr(ip, "no-dot.example.com")) == "VALIDATION_FAILED"
    assert code(set_ptr("8.8.8.8", "a.com.")) == "NOT_FOUND"
    assert code(set_ptr("2a02:6ea0:1000::2", "a.com.")) == "VALIDATION_FAILED"
    assert code(set_ptr(ip, "lb.example.org.")) is None
    assert ptr(ip) == "lb.example.org."
    assert code(set_ptr(ip, None)) is None
    assert ptr(ip) is None


PRIMARY = """mutation($i: SetServerPrimaryIpInput!) {
  setServerPrimaryIp(input: $i) { server { network { ipAddresses { ip isPrimary } } } }
}"""


def test_alias_and_primary_ip(fresh: httpx.Client) -> None:
    def set_alias(alias: str | None) -> dict:
        return gql(fresh, ALIAS, {"i": {"server": DP, "alias": alias}})

    assert code(set_alias("Backup")) == "VALIDATION_FAILED"
    assert set_alias("edge-lb")["data"]["setServerAlias"]["server"]["alias"] == "edge-lb"
    assert (
        gql(fresh, SERVER_BY, {"i": {"alias": "edge-lb"}})["data"]["server"]["name"] == DP["name"]
    )
    assert set_alias(None)["data"]["setServerAlias"]["server"]["alias"] is None
    assert code(gql(fresh, PRIMARY, {"i": {"server": DP, "ip": "8.8.8.8"}})) == "VALIDATION_FAILED"
    moved = gql(fresh, PRIMARY, {"i": {"server": DP, "ip": "192.168.0.1"}})
    addresses = moved["data"]["setServerPrimaryIp"]["server"]["network"]["ipAddresses"]
    assert [a["ip"] for a in addresses if a["isPrimary"]] == ["192.168.0.1"]


TICKET = """query($i: SupportRequestInput!) { supportRequest(input: $i) {
  id status category numberOfReplies posts { contents postBy }
} }"""


def test_support_requests(fresh: httpx.Client) -> None:
    query, variables = MUTATIONS["CreateSupportRequest"]
    assert gql(fresh, query, variables)["data"]["createSupportRequest"] is True
    newest = gql(fresh, "{ supportRequests { id } }")["data"]["supportRequests"][-1]["id"]
    ticket = gql(fresh, TICKET, {"i": {"id": newest}})["data"]["supportRequest"]
    assert (ticket["status"], ticket["category"], ticket["numberOfReplies"]) == ("OPEN", "NEW", 0)
    reply = "mutation($i: SupportRequestReplyInput!) { supportRequestReply(input: $i) }"
    assert gql(fresh, reply, {"i": {"id": newest, "message": "ping"}})["data"]
    ticket = gql(fresh, TICKET, {"i": {"id": newest}})["data"]["supportRequest"]
    assert ticket["numberOfReplies"] == 1
    assert ticket["posts"][-1] == {"contents": "ping", "postBy": "USER"}
    assert codes(gql(fresh, reply, {"i": {"id": 5, "message": "x"}})) == ["NOT_FOUND"]
    unknown = {**variables["input"], "servers": ["DP-0"]}
    assert codes(gql(fresh, query, {"input": unknown})) == ["NOT_FOUND"]


# --- faults in DataPacket's format --------------------------------------------------------------


def test_injected_faults_use_datapacket_errors() -> None:
    app = create_app(size=3)
    faults, log = app.state.emulator.faults, app.state.emulator.request_log
    with serving(app) as running, httpx.Client(base_url=running.url) as http:
        faults.error_rate = 1.0
        response = http.post(PATH, json={"query": "{ account { name } }"})
        assert response.status_code == 503
        assert codes(response.json()) == ["INTERNAL_SERVER_ERROR"]
        faults.error_rate, faults.retry_after = 0.0, 0.5
        response = http.post(PATH, json={"query": "{ account { name } }"})
        assert (response.status_code, response.headers["retry-after"]) == (429, "1")
        assert codes(response.json()) == ["INTERNAL_SERVER_ERROR"]
    assert [e.fault for e in log.entries()] == ["error", "rate_limited"]
    assert log.count(operation="account") == 0  # a fault answers before the GraphQL layer
