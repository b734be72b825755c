"""``Server.powerAction``: the progress of an asynchronous power action, where it is tracked."""

from __future__ import annotations

import pytest

from gateway.demo import DEMO_BACKENDS
from providers.datapacket import emulator as datapacket_emulator
from providers.emulation.server import EmulatorServer
from providers.mammoth import emulator as mammoth_emulator
from tests.conftest import GatewayClient, datapacket_config, start_gateway

MAMMOTH = next(backend for backend in DEMO_BACKENDS if backend.kind == "mammoth")


@pytest.mark.parametrize(("delay", "status"), [(3600.0, "in-progress"), (0.0, "completed")])
def test_a_mammoth_power_action_reports_its_progress(delay, status):
    with (
        EmulatorServer(mammoth_emulator.create_app(size=6, seed=1, action_delay=delay)) as mc,
        EmulatorServer(datapacket_emulator.create_app(size=4, seed=1)) as dp,
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
