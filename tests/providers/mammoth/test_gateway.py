"""End to end: GraphQL clients -> gateway -> Mammoth adapter -> emulator, beside DataPacket."""

from __future__ import annotations

from emulators.mammoth import app as emulator
from tests.conftest import (
    GatewayClient,
    aliased_lookups,
    datapacket_config,
    error_codes,
    start_gateway,
)
from tests.providers.mammoth.conftest import provider_table
from tests.servers import serving

SERVERS = """
query($filter: ServersInput) {
  servers(input: {pageSize: 50, filter: $filter}) {
    entriesTotalCount
    entries {
      name hostname powerStatus statusV2
      location { name region short }
      hardware { cpus { count name } rams { count size } hdds { count storage { size type } } }
      network { ipAddresses { ip cidr type isPrimary } ipmi { ip } ddosShieldLevel }
      system { os { name } raid }
      trafficPlan { name }
      provider { id kind }
    }
  }
}
"""
POWER = """
mutation($name: String!, $action: PowerAction!) {
  performServerPowerAction(input: {server: {name: $name}, action: $action}) {
    server { name powerStatus provider { id } }
  }
}
"""


def _active(upstream):
    return next(s for s in upstream.app.state.fleet.servers.values() if s["status"] == "active")


def test_mammoth_servers_are_listed_beside_datapacket_ones(
    gateway_over, datapacket_upstream, upstream
):
    client = gateway_over(datapacket_config(datapacket_upstream), provider_table(upstream))
    body = client.data(SERVERS, {"filter": {"provider_in": ["mc"]}})["servers"]
    assert body["entriesTotalCount"] == 30
    server = next(s for s in body["entries"] if s["name"] == f"MC-{_active(upstream)['id']}")
    assert server["provider"] == {"id": "mc", "kind": "MAMMOTH"}
    assert server["powerStatus"] == "ON" and server["statusV2"] == "ACTIVE"
    assert server["hostname"].endswith(".outback-analytics.com.au")
    # vcpus are virtual CPUs, not the physical CPUs Cpu.count holds.
    assert server["hardware"]["cpus"][0]["count"] is None
    assert server["network"]["ipAddresses"][0]["isPrimary"] is True
    assert server["network"]["ipmi"] == {"ip": None}
    assert server["system"]["raid"] == "UNKNOWN" and server["system"]["os"]["name"]
    assert server["trafficPlan"]["name"].endswith(" GB")

    london = client.data(SERVERS, {"filter": {"location_in": ["London"]}})["servers"]["entries"]
    assert {s["provider"]["id"] for s in london} == {"dp", "mc"}
    assert {s["location"]["short"] for s in london} == {"LON"}


def test_twenty_mammoth_lookups_in_one_document_are_one_upstream_call(gateway_over, upstream):
    client = gateway_over(provider_table(upstream))
    names = [f"MC-{i}" for i in sorted(upstream.app.state.fleet.servers)[:20]]
    document = aliased_lookups(names, "name powerStatus")
    log = upstream.app.state.emulator.request_log
    log.clear()
    data = client.data(document)
    assert [data[f"s{i}"]["name"] for i in range(20)] == names
    assert log.count() == 1


def test_power_action_end_to_end_is_one_upstream_action(gateway_over, fresh_upstream):
    upstream = fresh_upstream(action_delay=0)
    client = gateway_over(provider_table(upstream))
    server = _active(upstream)
    log = upstream.app.state.emulator.request_log
    log.clear()
    data = client.data(POWER, {"name": f"MC-{server['id']}", "action": "SOFT"})
    result = data["performServerPowerAction"]["server"]
    assert result == {"name": f"MC-{server['id']}", "powerStatus": "OFF", "provider": {"id": "mc"}}
    assert log.count(method="POST") == 1
    assert [e.body for e in log.entries() if e.method == "POST"] == [{"type": "shutdown"}]


def test_a_failing_power_action_is_reported_and_not_repeated(gateway_over, fresh_upstream):
    upstream = fresh_upstream()
    client = gateway_over(provider_table(upstream))
    server = _active(upstream)
    upstream.app.state.emulator.faults.error_rate = 1.0
    body = client.query(POWER, {"name": f"MC-{server['id']}", "action": "OFF"})
    assert error_codes(body) == ["PROVIDER_UNAVAILABLE"]
    assert body["errors"][0]["extensions"]["provider"] == "mc"
    assert body["errors"][0]["extensions"]["outcome"] == "unknown"
    assert upstream.app.state.emulator.request_log.count(method="POST") == 1


def test_reverse_dns_end_to_end(gateway_over, fresh_upstream):
    upstream = fresh_upstream(action_delay=0)
    client = gateway_over(provider_table(upstream))
    ip = _active(upstream)["networks"]["v4"][0]["ip_address"]
    data = client.data(
        "mutation($ip: String!) { setReverseDnsRecord("
        'input: {ip: $ip, hostname: "mx.example.com."}) { ip { ip type } } }',
        {"ip": ip},
    )
    assert data["setReverseDnsRecord"]["ip"] == {"ip": ip, "type": "IPV4"}
    record = client.data(
        "query($ip: String!) { reverseDnsRecord(input: {ip: $ip}) { hostname } }", {"ip": ip}
    )
    assert record["reverseDnsRecord"]["hostname"] == "mx.example.com."
    posts = [e for e in upstream.app.state.emulator.request_log.entries() if e.method == "POST"]
    assert len(posts) == 1 and posts[0].body["type"] == "change_reverse_name"


def test_what_mammoth_lacks_is_not_supported_without_an_upstream_call(gateway_over, upstream):
    client = gateway_over(provider_table(upstream))
    name = f"MC-{_active(upstream)['id']}"
    log = upstream.app.state.emulator.request_log
    log.clear()
    for mutation in (
        f'setServerAlias(input: {{server: {{name: "{name}"}}, alias: "x"}})'
        " { server { name } }",
        f'setServerBootDevice(input: {{server: {{name: "{name}"}}, bootDevice: PXE}})'
        " { server { name } }",
        f'setServerTag(input: {{server: {{name: "{name}"}}, key: "a", value: "b"}})',
        f'changeServerIpmiPassword(input: {{server: {{name: "{name}"}}, password: "abcdefgh12"}})'
        " { server { name } }",
    ):
        body = client.query(f"mutation {{ {mutation} }}")
        assert error_codes(body) == ["NOT_SUPPORTED"], body
        assert body["errors"][0]["extensions"]["provider"] == "mc"
    assert log.count() == 0


def test_mammoth_invoices_appear_in_aud(gateway_over, upstream):
    client = gateway_over(provider_table(upstream))
    data = client.data(
        "{ invoices(input: {pageSize: 5}) { entriesTotalCount entries { invoiceNumber currency"
        " total totalVat subtotal payment { status } } } }"
    )
    invoices = data["invoices"]
    assert invoices["entriesTotalCount"] == 12
    assert {i["currency"] for i in invoices["entries"]} == {"AUD"}
    first = upstream.app.state.fleet.invoices[0]
    one = client.data(
        "query($n: String!) { invoice(input: {invoiceNumber: $n}) { invoiceNumber total } }",
        {"n": first["invoice_number"]},
    )
    assert one["invoice"] == {"invoiceNumber": first["invoice_number"], "total": first["amount"]}


def test_the_provider_lists_its_capabilities(gateway_over, upstream):
    client = gateway_over(provider_table(upstream))
    providers = client.data("{ providers { id kind reachable capabilities } }")["providers"]
    assert providers == [
        {
            "id": "mc",
            "kind": "MAMMOTH",
            "reachable": True,
            "capabilities": [
                "account",
                "instantDeliveryServers",
                "invoices",
                "performServerPowerAction",
                "reverseDnsRecord",
                "servers",
                "setReverseDnsRecord",
                "traffic",
            ],
        }
    ]


def test_account_traffic_and_stock_through_the_gateway(gateway_over, upstream):
    client = gateway_over(provider_table(upstream))
    data = client.data(
        '{ account { email createdAt } traffic(input: {from: "2020-01-01T00:00:00Z",'
        ' to: "2020-01-02T00:00:00Z"}) { aggregated { statisticsOut { sum } } }'
        ' instantDeliveryServers(input: {filter: {location_in: ["Singapore"]}}) {'
        " entries { name location { short } uplinkCapacity } } }"
    )
    assert data["account"]["email"] == upstream.app.state.fleet.account["email"]
    assert data["traffic"]["aggregated"]["statisticsOut"]["sum"] == 0  # before any server existed
    stock = data["instantDeliveryServers"]["entries"]
    assert stock and {s["location"]["short"] for s in stock} == {"SIN"}
    assert all(s["name"].startswith("MC-") and s["uplinkCapacity"] is None for s in stock)


def test_traffic_combines_with_datapacket(gateway_over, datapacket_upstream, upstream):
    client = gateway_over(datapacket_config(datapacket_upstream), provider_table(upstream))
    log = upstream.app.state.emulator.request_log
    log.clear()
    data = client.data(
        '{ traffic(input: {from: "2025-01-13T00:00:00Z", to: "2025-01-14T00:00:00Z",'
        ' filter: {location_in: ["Sydney"]}}) { aggregated { statisticsOut { sum average } } } }'
    )
    assert data["traffic"]["aggregated"]["statisticsOut"]["sum"] > 0
    assert log.count() > 1  # the server list, then one sample-set read per Sydney server


def test_a_list_claiming_more_pages_than_the_bound_is_refused_after_one_request(mammoth_kind):
    # meta.total is an int32: 2147483647 servers at 200 per page are more pages than any walk
    # reads, so the listing fails at once instead of following next links until the deadline.
    with serving(emulator.create_app(size=30, seed=1, paging="endless")) as upstream:
        gateway = start_gateway([provider_table(upstream)], request_deadline=10)
        try:
            body = GatewayClient(gateway).query("{ servers { entriesTotalCount } }")
        finally:
            gateway.stop()
        requests = upstream.app.state.emulator.request_log.entries()
    assert error_codes(body) == ["PROVIDER_UNAVAILABLE"]
    assert "more than 1000 pages" in body["errors"][0]["message"]
    assert [(e.path, e.query["page"]) for e in requests] == [("/v2/servers", "1")]
