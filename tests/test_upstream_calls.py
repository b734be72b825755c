"""Batching: the upstream work of a query is bounded by providers and pages, not by servers."""

from __future__ import annotations

from tests.conftest import aliased_lookups

NESTED_PAGE = """
query {
  servers(input: {pageSize: 50}) {
    entriesTotalCount
    entries {
      name alias hostname
      hardware { cpus { count name } hdds { count storage { size type } } rams { count size } }
      network { ipAddresses { ip cidr isPrimary type } ipmi { ip username } uplinkCapacity }
      location { name region short }
      tags { key value }
      provider { id kind }
    }
  }
}
"""


def test_a_page_of_servers_with_nested_fields_is_one_upstream_call(fresh):
    client, upstream = fresh(size=60)
    log = upstream.app.state.emulator.request_log
    log.clear()
    page = client.data(NESTED_PAGE)["servers"]
    assert len(page["entries"]) == 50 and page["entriesTotalCount"] == 60
    assert all(server["hardware"]["cpus"] for server in page["entries"])
    assert log.count() == 1


def test_twenty_servers_by_name_in_one_document_are_one_upstream_call(fresh):
    client, upstream = fresh()
    names = [
        s["name"]
        for s in client.data("{ servers(input: {pageSize: 20}) { entries { name } } }")["servers"][
            "entries"
        ]
    ]
    assert len(names) == 20
    document = aliased_lookups(names, "name location { name } powerStatus")
    log = upstream.app.state.emulator.request_log
    log.clear()
    data = client.data(document)
    assert [data[f"s{i}"]["name"] for i in range(20)] == names
    assert log.count() == 1


def test_the_upstream_is_asked_only_for_selected_fields(fresh):
    client, upstream = fresh()
    log = upstream.app.state.emulator.request_log
    log.clear()
    client.data("{ servers(input: {pageSize: 5}) { entries { name provider { id } } } }")
    (request,) = log.entries()
    sent = request.body["query"]
    assert "name" in sent
    for unselected in ("hardware", "network", "billing", "provider", "tags"):
        assert unselected not in sent


def test_a_power_action_is_one_upstream_call(fresh):
    client, upstream = fresh()
    log = upstream.app.state.emulator.request_log
    log.clear()
    client.data(
        'mutation { performServerPowerAction(input: {server: {name: "DP-12345"}, action: CYCLE})'
        " { server { name powerStatus } } }"
    )
    assert log.count() == 1
    assert log.count(operation="performServerPowerAction") == 1
