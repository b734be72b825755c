"""Assemble an emulator: provider routes + control routes + request log + fault injection.

Example:
    app = create_emulator_app([Route("/v1/devices", list_devices)], fault_body=packet_error)
    app.state.emulator.faults.error_rate = 1.0
    assert app.state.emulator.request_log.count(path="/v1/devices") == 0
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import BaseRoute

from emulators.kit.control import control_routes
from emulators.kit.faults import (
    FaultBody,
    FaultInjectionMiddleware,
    FaultSettings,
    json_fault_body,
)
from emulators.kit.request_log import RequestLog, RequestLogMiddleware


@dataclass
class EmulatorState:
    """What tests drive in-process: ``app.state.emulator.faults`` and ``.request_log``."""

    faults: FaultSettings = field(default_factory=FaultSettings)
    request_log: RequestLog = field(default_factory=RequestLog)


def create_emulator_app(
    routes: Sequence[BaseRoute],
    *,
    fault_body: FaultBody = json_fault_body,
    faults: FaultSettings | None = None,
) -> Starlette:
    """A Starlette app serving ``routes`` behind the shared logging and fault middleware.

    The request log is the outer layer, so requests answered by an injected fault are logged too.
    """
    state = EmulatorState(faults=faults or FaultSettings())
    app = Starlette(
        routes=[*control_routes(state), *routes],
        middleware=[
            Middleware(RequestLogMiddleware, log=state.request_log),
            Middleware(FaultInjectionMiddleware, faults=state.faults, fault_body=fault_body),
        ],
    )
    app.state.emulator = state
    return app


__all__ = ["EmulatorState", "create_emulator_app"]
