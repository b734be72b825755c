"""Shared machinery for provider emulators: fault injection, request log, control API, server.

Every provider emulator builds its app with ``create_emulator_app`` and is run in tests by
``EmulatorServer``; see each module's docstring for an example.
"""

from providers.emulation.app import EmulatorState, create_emulator_app
from providers.emulation.control import CONTROL_PREFIX
from providers.emulation.faults import (
    FaultBody,
    FaultInjectionMiddleware,
    FaultSettings,
    json_fault_body,
)
from providers.emulation.request_log import (
    LoggedRequest,
    RequestLog,
    RequestLogMiddleware,
    logged_request,
)
from providers.emulation.server import EmulatorServer

__all__ = [
    "CONTROL_PREFIX",
    "EmulatorServer",
    "EmulatorState",
    "FaultBody",
    "FaultInjectionMiddleware",
    "FaultSettings",
    "LoggedRequest",
    "RequestLog",
    "RequestLogMiddleware",
    "create_emulator_app",
    "json_fault_body",
    "logged_request",
]
