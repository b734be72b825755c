"""Fixtures for the Packet backend: emulators on loopback, adapters and gateways over them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from emulators.kit import EmulatorServer
from emulators.packet import app as packet_emulator
from providers.packet.adapter import PacketProvider
from providers.registry import PROVIDER_KINDS
from tests.conftest import GatewayClient, start_gateway
from tests.servers import InProcessGateway, stop_all, stop_soon

TOKEN = "packet-emulator-token"
READ_ONLY_TOKEN = "packet-emulator-read"


def packet_table(upstream: EmulatorServer, base_path: str = "", **extra: Any) -> dict[str, Any]:
    """A ``[[providers]]`` table for a Packet emulator (all of its projects by default)."""
    fleet = upstream.app.state.fleet
    return {
        "id": "pk",
        "kind": "packet",
        "base_url": f"{upstream.url}{base_path}",
        "token": TOKEN,
        "project_ids": fleet.project_ids,
        **extra,
    }


@pytest.fixture(scope="module")
def packet_kind() -> Iterator[None]:
    """Register the Packet kind for this module (the registry line is added at integration)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(PROVIDER_KINDS, PacketProvider.kind, PacketProvider)
        yield


@pytest.fixture
def upstream() -> Iterator[Callable[..., EmulatorServer]]:
    """A factory of private Packet emulators, stopped after the test."""
    started: list[EmulatorServer] = []

    def make(**options: Any) -> EmulatorServer:
        server = EmulatorServer(packet_emulator.create_app(**options)).start()
        started.append(server)
        return server

    yield make
    stop_soon(started)


@pytest.fixture
def packet_gateway(
    packet_kind: None, upstream: Callable[..., EmulatorServer]
) -> Iterator[Callable[..., tuple[GatewayClient, EmulatorServer]]]:
    """A factory of (gateway client, Packet emulator) pairs with private state."""
    gateways: list[InProcessGateway] = []

    def make(
        base_path: str = "", table: dict[str, Any] | None = None, **options: Any
    ) -> tuple[GatewayClient, EmulatorServer]:
        server = upstream(base_path=base_path, **options)
        gateway = start_gateway([packet_table(server, base_path, **(table or {}))])
        gateways.append(gateway)
        return GatewayClient(gateway), server

    yield make
    stop_all(gateways)
