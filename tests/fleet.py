"""Every demo emulator running on loopback, and gateways configured over all or some of them.

Shared by the suites that exercise the five backend kinds together (one fleet, faults,
security); each starts its own ``Fleet`` so their emulators' state never mixes.
"""

from __future__ import annotations

from typing import Any

from emulators.kit.faults import FaultSettings
from emulators.kit.request_log import RequestLog
from emulators.kit.server import EmulatorServer
from gateway.app import create_app
from gateway.demo import DEMO_BACKENDS
from gateway.settings import settings_from_dict
from providers.health import ProviderHealth
from tests.conftest import TOKENS, GatewayClient
from tests.servers import InProcessGateway, stop_all, stop_soon

KINDS = [backend.kind for backend in DEMO_BACKENDS]


class Fleet:
    """The demo's emulators (``size`` servers each) and the provider tables that reach them.

    ``table_extras`` are added to every ``[[providers]]`` table (e.g. a short backoff).
    """

    def __init__(self, size: int, **table_extras: Any) -> None:
        self.upstreams: dict[str, EmulatorServer] = {}
        self.tables: dict[str, dict[str, Any]] = {}
        self.gateways: list[InProcessGateway] = []
        for backend in DEMO_BACKENDS:
            app = backend.emulator(size)
            upstream = self.upstreams[backend.kind] = EmulatorServer(app).start()
            self.tables[backend.kind] = {
                "id": backend.kind,
                "kind": backend.kind,
                "base_url": f"{upstream.url}{backend.path}",
                "prefix": backend.prefix,
                **table_extras,
                **backend.credentials,
                **backend.options(app),
            }

    def start(
        self,
        kinds: list[str] | None = None,
        *,
        tokens: list[dict[str, Any]] = TOKENS,
        cache: bool | dict[str, Any] = True,
        server: dict[str, Any] | None = None,
        limits: dict[str, Any] | None = None,
        cluster: dict[str, Any] | None = None,
        health: ProviderHealth | None = None,
        **overrides: dict[str, Any],
    ) -> InProcessGateway:
        """A new in-process gateway (empty cache, closed circuits) over ``kinds`` in the demo's
        order.

        ``cache`` is ``[cache] enabled`` or the whole ``[cache]`` table; ``server``,
        ``limits`` and ``cluster`` are its ``[server]``, ``[limits]`` and ``[cluster]`` tables;
        ``health`` its reachability monitor (default: the gateway's); ``overrides`` changes
        one provider's table, e.g. ``mammoth={"read_timeout": 0.3}``; a value of ``None``
        removes that key.
        """
        providers = []
        for kind in kinds or KINDS:
            table = {**self.tables[kind], **overrides.get(kind, {})}
            providers.append({key: value for key, value in table.items() if value is not None})
        settings = settings_from_dict(
            {
                "server": server or {},
                "limits": limits or {},
                "providers": providers,
                "tokens": tokens,
                "cache": cache if isinstance(cache, dict) else {"enabled": cache},
                "cluster": cluster or {},
            },
            source="<fleet test>",
        )
        return InProcessGateway(create_app(settings, health=health)).start()

    def gateway(self, kinds: list[str] | None = None, **options: Any) -> GatewayClient:
        """Like ``start``, stopped by ``stop_gateways``."""
        server = self.start(kinds, **options)
        self.gateways.append(server)
        return GatewayClient(server)

    def log(self, kind: str) -> RequestLog:
        """The request log of one kind's emulator."""
        return self.upstreams[kind].app.state.emulator.request_log

    def faults(self, kind: str) -> FaultSettings:
        """The live fault knobs of one kind's emulator."""
        return self.upstreams[kind].app.state.emulator.faults

    def clear_logs(self) -> None:
        """Forget every emulator's logged requests."""
        for kind in KINDS:
            self.log(kind).clear()

    def calls(self) -> dict[str, int]:
        """Upstream requests each emulator received since the logs were cleared."""
        return {kind: self.log(kind).count() for kind in KINDS}

    def paths(self, kind: str) -> dict[str, int]:
        """How many times each path of one emulator was requested."""
        counted: dict[str, int] = {}
        for entry in self.log(kind).entries():
            counted[entry.path] = counted.get(entry.path, 0) + 1
        return counted

    def writes(self, kind: str) -> int:
        """Upstream requests that change state: GraphQL mutations, or non-GET REST calls.

        DataPacket's are read from the body, since a request answered by an injected fault
        never reaches the emulator's resolvers that name the operation.
        """
        entries = self.log(kind).entries()
        if kind == "datapacket":
            return sum(
                1
                for e in entries
                if isinstance(e.body, dict)
                and str(e.body.get("query", "")).lstrip().startswith("mutation")
            )
        return sum(1 for e in entries if e.method != "GET" and "/auth/" not in e.path)

    def restart(self, kind: str) -> None:
        """Serve ``kind``'s emulator (same app, same port) again after it was stopped."""
        stopped = self.upstreams[kind]
        self.upstreams[kind] = EmulatorServer(stopped.app, port=stopped.port).start()

    def stop_gateways(self) -> None:
        """Stop the gateways started with ``gateway`` (the emulators keep running)."""
        stop_all(self.gateways)
        self.gateways.clear()

    def stop(self) -> None:
        """Stop every gateway; the emulators finish stopping in the background (``stop_soon``)."""
        self.stop_gateways()
        stop_soon(self.upstreams.values())
