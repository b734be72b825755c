"""Fixtures of the Mammoth tests: emulators on loopback, adapters and gateways over them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from emulators.kit.server import EmulatorServer
from emulators.mammoth import app as emulator
from providers import registry
from providers.base import ProviderConfig
from providers.mammoth.adapter import MammothProvider
from tests.conftest import GatewayClient, start_gateway
from tests.openapi_contract import CONTRACTS, OpenApiSpec
from tests.servers import InProcessGateway, serving, stop_all, stop_soon

TOKEN = "mammoth-emulator-token"


def provider_table(upstream: EmulatorServer, **extra: Any) -> dict[str, Any]:
    """A ``[[providers]]`` table for a Mammoth emulator."""
    return {
        "id": "mc",
        "kind": "mammoth",
        "base_url": f"{upstream.url}/v2",
        "token": TOKEN,
        **extra,
    }


def adapter_for(upstream: EmulatorServer, **options: Any) -> MammothProvider:
    """A Mammoth adapter talking to ``upstream`` (close it after use)."""
    config = ProviderConfig(
        id="mc",
        kind="mammoth",
        base_url=f"{upstream.url}/v2",
        prefix="MC",
        credentials={"token": options.pop("token", TOKEN)},
        options=options,
    )
    return MammothProvider(config)


@pytest.fixture(scope="session")
def spec() -> OpenApiSpec:
    """The platform's official OpenAPI spec, served under /v2."""
    return OpenApiSpec.load(CONTRACTS / "binarylane-openapi.json", base_path="/v2")


@pytest.fixture(scope="module")
def upstream() -> Iterator[EmulatorServer]:
    """A Mammoth emulator shared by the read-only tests of a module."""
    with serving(emulator.create_app(size=30, seed=1)) as server:
        yield server


@pytest.fixture
def fresh_upstream() -> Iterator[Callable[..., EmulatorServer]]:
    """A factory of private emulators, for tests that change state or inject faults."""
    started: list[EmulatorServer] = []

    def make(**options: Any) -> EmulatorServer:
        server = EmulatorServer(emulator.create_app(**{"size": 30, **options})).start()
        started.append(server)
        return server

    yield make
    stop_soon(started)


@pytest.fixture(scope="module")
def mammoth_kind() -> Iterator[None]:
    """Register the ``mammoth`` kind for this module (until the registry lists it)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(registry.PROVIDER_KINDS, MammothProvider.kind, MammothProvider)
        yield


@pytest.fixture
def gateway_over(mammoth_kind: None) -> Iterator[Callable[..., GatewayClient]]:
    """A factory of gateways over given provider tables."""
    started: list[InProcessGateway] = []

    def make(*tables: dict[str, Any]) -> GatewayClient:
        server = start_gateway(list(tables))
        started.append(server)
        return GatewayClient(server)

    yield make
    stop_all(started)
