"""The embedded default: emulated backends on loopback plus the demo tokens.

``fleetql serve`` without a configuration starts every provider emulator in this process
(each on its own loopback port, serving real HTTP) and configures one provider instance of
each kind against it, so GraphiQL works on a fresh machine with no accounts anywhere.
"""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass

from gateway.auth import FULL_ACCESS, READ_ONLY, TokenEntry
from gateway.settings import Settings
from providers.base import ProviderConfig
from providers.cache import DEFAULT_TTLS
from providers.datapacket import emulator as datapacket_emulator
from providers.emulation.server import EmulatorServer

__all__ = ["DEMO_FULL_ACCESS", "DEMO_READ_ONLY", "DemoBackends", "start_demo_backends"]

DEMO_FULL_ACCESS = "demo-full-access"
DEMO_READ_ONLY = "demo-read-only"
#: The emulator's own upstream token (a credential of the emulated account, not a client token).
DATAPACKET_UPSTREAM_TOKEN = "dp-emulator-full"


@dataclass
class DemoBackends:
    """Running emulators and the settings that point the gateway at them."""

    settings: Settings
    emulators: dict[str, EmulatorServer]
    stack: ExitStack

    def stop(self) -> None:
        """Stop every emulator."""
        self.stack.close()


def start_demo_backends(host: str = "127.0.0.1", port: int = 8000, size: int = 120) -> DemoBackends:
    """Start the emulators and return settings for a gateway on ``host:port``."""
    stack = ExitStack()
    datapacket = stack.enter_context(
        EmulatorServer(datapacket_emulator.create_app(size=size, seed=1))
    )
    settings = Settings(
        providers=[
            ProviderConfig(
                id="datapacket",
                kind="datapacket",
                base_url=f"{datapacket.url}/v0/graphql",
                prefix="DP",
                credentials={"token": DATAPACKET_UPSTREAM_TOKEN},
                cache_ttls=DEFAULT_TTLS,
            )
        ],
        tokens=[
            TokenEntry.from_token("demo full access", FULL_ACCESS, DEMO_FULL_ACCESS),
            TokenEntry.from_token("demo read only", READ_ONLY, DEMO_READ_ONLY),
        ],
        host=host,
        port=port,
        graphiql=True,
        source="<embedded demo>",
    )
    return DemoBackends(settings=settings, emulators={"datapacket": datapacket}, stack=stack)
