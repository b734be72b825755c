"""Control endpoints under ``/_emulator/`` that let a test in another process drive an emulator.

Routes:
    ``GET /_emulator/requests``     every logged request, oldest first, as JSON.
    ``DELETE /_emulator/requests``  forget the logged requests.
    ``GET /_emulator/faults``       the current fault settings.
    ``PUT /_emulator/faults``       partial update of the fault settings (unknown key -> 400).

The control paths are never logged and never subject to injected faults.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

if TYPE_CHECKING:
    from emulators.kit.app import EmulatorState

CONTROL_PREFIX = "/_emulator/"


def control_routes(state: EmulatorState) -> list[Route]:
    """Return the control routes bound to one emulator's fault settings and request log."""

    async def list_requests(_: Request) -> Response:
        return JSONResponse([entry.to_dict() for entry in state.request_log.entries()])

    async def clear_requests(_: Request) -> Response:
        state.request_log.clear()
        return Response(status_code=204)

    async def get_faults(_: Request) -> Response:
        return JSONResponse(state.faults.to_dict())

    async def put_faults(request: Request) -> Response:
        try:
            changes = json.loads(await request.body())
            state.faults.update(changes)
        except (ValueError, TypeError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse(state.faults.to_dict())

    return [
        Route(f"{CONTROL_PREFIX}requests", list_requests, methods=["GET"]),
        Route(f"{CONTROL_PREFIX}requests", clear_requests, methods=["DELETE"]),
        Route(f"{CONTROL_PREFIX}faults", get_faults, methods=["GET"]),
        Route(f"{CONTROL_PREFIX}faults", put_faults, methods=["PUT"]),
    ]


__all__ = ["CONTROL_PREFIX", "control_routes"]
