"""``Server.powerAction``: the progress of an asynchronous power action, where it is tracked."""

from __future__ import annotations

import pytest

from emulators.datapacket import app as datapacket_emulator
from emulators.mammoth import app as mammoth_emulator
from gateway.demo import DEMO_BACKENDS
from tests.conftest import GatewayClient, datapacket_config, start_gateway
from tests.servers import serving

MAMMOTH = next(backend for backend in DEMO_BACKENDS if backend.kind == "mammoth")


@pytest.mark.parametrize(("delay", "status"), [(3600.0, "in-progress"), (0.0, "completed")])
def test_a_mammoth_power_action_reports_its_progress(delay, status):
    with (
        serving(mammoth_emulator.create_app(size=6, seed=1, action_delay=delay)) as mc,
        serving(datapacket_emulator.create_app(size=4, seed=1)) as dp,
    ):
        gateway = start_gateway(
            [
                datapacket_config(dp),
                {"id": "mc", "kind": "mammoth", "base_url": f"{mc.url}/v2", **MAMMOTH.credentials},
            ]
        )
        try:
            client = GatewayClient(gateway)
            servers = client.data(
                '{ servers(input: {filter: {provider_in: ["mc"], powerStatus_in: [ON]}}) '
                "{ entries { name powerAction { id } } } }"
            )["servers"]["entries"]
            name = servers[0]["name"]
            assert servers[0]["powerAction"] is None  # nothing sent yet
            client.data(
                f'mutation {{ performServerPowerAction(input: {{server: {{name: "{name}"}}, '
                "action: OFF}) { server { name } } }"
            )
            progress = client.data(
                f'{{ server(input: {{name: "{name}"}}) {{ powerAction {{ type status }} }} }}'
            )["server"]["powerAction"]
            untracked = client.data('{ server(input: {name: "DP-12345"}) { powerAction { id } } }')
        finally:
            gateway.stop()
    assert progress == {"type": "power_off", "status": status}
    assert untracked == {"server": {"powerAction": None}}


#: Where DataPacket's billing data nests servers; ``%s`` is the server's selection.
BILLING_SERVERS = [
    "{ subscriptions { entries { subscriptionItems { subscriptionItemDetail "
    "{ server { %s } } } } } }",
    "{ invoices(input: {pageSize: 5}) { entries { subscription { subscriptionItems "
    "{ subscriptionItemDetail { server { %s } } } } } } }",
]


@pytest.mark.parametrize("fields", ["powerAction { status }", "provider { id }"])
@pytest.mark.parametrize("query", BILLING_SERVERS)
def test_servers_nested_in_billing_answer_their_gateway_fields(gateway, query, fields):
    """Those fields find the server by name, which the client need not select."""
    body = gateway.query(query % fields)
    assert "errors" not in body, body["errors"]
    roots = body["data"].get("subscriptions") or body["data"]["invoices"]
    servers = [
        item["subscriptionItemDetail"]["server"]
        for entry in roots["entries"]
        for item in (entry.get("subscription") or entry)["subscriptionItems"]
        if item["subscriptionItemDetail"]["server"] is not None
    ]
    expected = {"powerAction": None} if fields.startswith("power") else {"provider": {"id": "dp"}}
    assert servers and all(server == expected for server in servers)
