"""The embedded default: emulated backends on loopback plus the demo tokens.

``fleetql serve`` without a configuration starts every provider emulator in this process
(each on its own loopback port, serving real HTTP) and configures one provider instance of
each kind against it, so GraphiQL works on a fresh machine with no accounts anywhere.
The emulators' fleets share cities (Amsterdam, Frankfurt, London, New York, Singapore, …).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette

from emulators.dashserv import app as dashserv_emulator
from emulators.datapacket import app as datapacket_emulator
from emulators.dcimanager import app as dcimanager_emulator
from emulators.kit.server import EmulatorServer
from emulators.mammoth import app as mammoth_emulator
from emulators.packet import app as packet_emulator
from gateway.auth import FULL_ACCESS, READ_ONLY
from gateway.settings import Settings, settings_from_dict

__all__ = [
    "DEMO_BACKENDS",
    "DEMO_FULL_ACCESS",
    "DEMO_READ_ONLY",
    "LOCAL_DEV_ORIGINS",
    "DemoBackends",
    "start_demo_backends",
]

DEMO_FULL_ACCESS = "demo-full-access"
DEMO_READ_ONLY = "demo-read-only"
#: Browser origins the demo allows: any port on this machine, where frontends under development
#: run (http://localhost:3000, http://127.0.0.1:5173, …). A configured gateway allows none.
LOCAL_DEV_ORIGINS = r"http://(localhost|127\.0\.0\.1|\[::1\])(:[0-9]{1,5})?"


@dataclass(frozen=True)
class DemoBackend:
    """One emulated provider: how to start its emulator and how to configure the adapter."""

    kind: str
    prefix: str
    emulator: Callable[..., Starlette]  # (size, seed=1) -> app
    path: str  # appended to the emulator's URL to make the provider's base_url
    credentials: dict[str, str]
    options: Callable[[Starlette], dict[str, Any]] = field(default=lambda app: {})


#: In this order ``fleetql emulate all`` gives them consecutive ports (examples/fleet.toml).
#: The emulators' own upstream credentials are credentials of emulated accounts, not secrets.
DEMO_BACKENDS = [
    DemoBackend(
        "datapacket",
        "DP",
        lambda size, seed=1: datapacket_emulator.create_app(size=size, seed=seed),
        "/v0/graphql",
        {"token": "dp-emulator-full"},
    ),
    DemoBackend(
        "packet",
        "PK",
        lambda size, seed=1: packet_emulator.create_app(
            size=size, seed=seed, base_path="/metal/v1"
        ),
        "/metal/v1",
        {"token": "packet-emulator-token"},
        lambda app: {"project_ids": list(app.state.fleet.project_ids)},
    ),
    DemoBackend(
        "mammoth",
        "MC",
        lambda size, seed=1: mammoth_emulator.create_app(size=size, seed=seed),
        "/v2",
        {"token": "mammoth-emulator-token"},
    ),
    DemoBackend(
        "dashserv",
        "DS",
        lambda size, seed=1: dashserv_emulator.create_app(size=size, seed=seed),
        "/v1",
        {"token": "dashserv-emulator-write"},
    ),
    DemoBackend(
        "dcimanager",
        "DCI",
        lambda size, seed=1: dcimanager_emulator.create_app(size=size, seed=seed),
        "",
        {"email": "admin@example.com", "password": "dci-emulator-password"},
    ),
]


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
    """Start every emulator and return settings for a gateway on ``host:port``.

    The settings are validated like a configuration file's, so each kind gets its own
    defaults (DCImanager's retry policy) exactly as a file would give them.
    """
    stack = ExitStack()
    emulators: dict[str, EmulatorServer] = {}
    providers = []
    for backend in DEMO_BACKENDS:
        app = backend.emulator(size)
        server = emulators[backend.kind] = stack.enter_context(EmulatorServer(app))
        providers.append(
            {
                "id": backend.kind,
                "kind": backend.kind,
                "base_url": f"{server.url}{backend.path}",
                "prefix": backend.prefix,
                **backend.credentials,
                **backend.options(app),
            }
        )
    tokens = [
        {"name": "demo full access", "scope": FULL_ACCESS, "token": DEMO_FULL_ACCESS},
        {"name": "demo read only", "scope": READ_ONLY, "token": DEMO_READ_ONLY},
    ]
    server_table = {"host": host, "port": port, "cors_origin_regex": LOCAL_DEV_ORIGINS}
    try:
        settings = settings_from_dict(
            {"server": server_table, "providers": providers, "tokens": tokens},
            source="<embedded demo>",
        )
    except Exception:
        stack.close()  # the emulators must not outlive a demo that cannot start
        raise
    return DemoBackends(settings=settings, emulators=emulators, stack=stack)
