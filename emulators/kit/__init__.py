"""Shared machinery for provider emulators: fault injection, request log, control API, server.

Every provider emulator builds its app with ``create_emulator_app`` and is run in tests by
``EmulatorServer``; see each module's docstring for an example.
"""

from emulators.kit.app import EmulatorState, create_emulator_app
from emulators.kit.control import CONTROL_PREFIX
from emulators.kit.faults import (
    FaultBody,
    FaultInjectionMiddleware,
    FaultSettings,
    json_fault_body,
)
from emulators.kit.request_log import (
    LoggedRequest,
    RequestLog,
    RequestLogMiddleware,
    logged_request,
)
from emulators.kit.server import EmulatorServer

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
