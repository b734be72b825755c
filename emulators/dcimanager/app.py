"""An in-process stand-in for one DCImanager 6 installation (REST API v3, ISPsystem).

Example:
    with EmulatorServer(create_app(size=30, seed=1)) as server:
        httpx.get(
            f"{server.url}/api/dci/v3/server",
            headers={
                "Cookie": "ses6=dci-emulator-session",
                "x-xsrf-token": "dci-emulator-session",
                "isp-box-instance": "true",
            },
        )

Behaviour, from ``shared/seeds/dcimanager-api-examples.txt`` unless marked otherwise:
  * It serves what the adapter calls: the login, the server list, one server, the
    configuration list (free stock) and the ``power_on``, ``power_off`` and ``power_reset``
    actions. IP lists, users and the switch-port ``suspend``/``resume`` actions are not
    served (no adapter calls them).
  * Auth on every ``/api/dci`` and ``/api/ip`` call: cookie ``ses6``, header ``x-xsrf-token``
    with the same session, and ``isp-box-instance: true``; anything else answers 401.
    ``SESSION`` is a pre-issued session that never expires.
  * ``POST /api/auth/v4/public/token`` with ``{"email", "password"}`` answers
    ``{"id", "token"}``, a session valid for ``session_ttl`` seconds (from ISPsystem's guide
    and VMmanager 6 clients, not the seed).
  * Lists are ``{"list": [...]}``; actions answer ``{"id", "task"}`` and land after
    ``power_delay`` seconds (IPMI status ``in_progress`` meanwhile); errors are ISPsystem's
    ``{"error": {"code", "msg", "value"}}`` (codes borrowed from ISPsystem's classic
    panels: 3 no such element, 4 invalid value, 6 access denied, 1 internal).
  * ``app.state.dci.suspend(requests=n)`` or ``suspend(seconds=s)`` makes every API call
    answer 503, as a platform service suspended for inactivity does (ISPsystem's guide);
    ``PUT /_emulator/dci/suspend`` with ``{"requests": n}`` or ``{"seconds": s}`` does the
    same from another process, ``DELETE /_emulator/dci/sessions`` revokes every session.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from emulators.dcimanager.fleet import Fleet, build_fleet
from emulators.kit import LoggedRequest, create_emulator_app, logged_request
from emulators.kit.request_log import REDACTED

__all__ = ["ACCOUNTS", "SESSION", "DciState", "create_app"]

SESSION = "dci-emulator-session"
ACCOUNTS = {"admin@example.com": "dci-emulator-password"}
DCI = "/api/dci/v3"
LOGIN = "/api/auth/v4/public/token"
POWER_ACTIONS = {"power_on": "on", "power_off": "off", "power_reset": "on"}

Handler = Callable[[Request], Awaitable[Response]]


class ApiError(Exception):
    """An answer in ISPsystem's error format."""

    def __init__(self, status: int, code: int, msg: str, value: Any = None) -> None:
        super().__init__(msg)
        self.status, self.code, self.msg, self.value = status, code, msg, value or {}

    def response(self) -> JSONResponse:
        body = {"error": {"code": self.code, "msg": self.msg, "value": self.value}}
        return JSONResponse(body, status_code=self.status)


@dataclass
class DciState:
    """Everything a test drives in-process: ``app.state.dci``."""

    fleet: Fleet
    accounts: dict[str, str]
    power_delay: float
    session_ttl: float
    sessions: dict[str, float | None] = field(default_factory=dict)  # token -> expiry
    suspended_requests: int = 0
    suspended_until: float = 0.0

    def suspend(self, *, requests: int | None = None, seconds: float | None = None) -> None:
        """Answer 503 to the next ``requests`` API calls, or for the next ``seconds``."""
        self.suspended_requests = requests or 0
        self.suspended_until = time.monotonic() + seconds if seconds else 0.0

    def expire_sessions(self) -> None:
        """Revoke every session, the pre-issued one included."""
        self.sessions.clear()

    def take_suspension(self) -> bool:
        """Whether this request is answered 503 (consuming one suspended request)."""
        if self.suspended_requests > 0:
            self.suspended_requests -= 1
            return True
        return time.monotonic() < self.suspended_until

    def authorized(self, request: Request) -> bool:
        """The seed's three-part session auth, with a live session."""
        session = request.cookies.get("ses6")
        expiry = self.sessions.get(session or "", 0.0)
        return (
            bool(session)
            and request.headers.get("x-xsrf-token") == session
            and request.headers.get("isp-box-instance", "").lower() == "true"
            and (expiry is None or expiry > time.monotonic())
        )


def create_app(
    *,
    size: int = 30,
    seed: int = 1,
    power_delay: float = 0.5,
    session_ttl: float = 3600.0,
    accounts: dict[str, str] | None = None,
) -> Starlette:
    """A DCImanager emulator over ``size`` seeded servers; ``app.state.dci`` is its state."""
    state = DciState(
        fleet=build_fleet(size, seed),
        accounts=dict(ACCOUNTS if accounts is None else accounts),
        power_delay=power_delay,
        session_ttl=session_ttl,
        sessions={SESSION: None},
    )
    api = _Api(state)
    app = create_emulator_app([*api.routes(), *_control_routes(state)], fault_body=_fault_body)
    app.state.dci = state
    return app


def _fault_body(status: int) -> tuple[bytes, str]:
    body = {"error": {"code": 1, "msg": f"Injected fault (HTTP {status})", "value": {}}}
    return json.dumps(body).encode(), "application/json"


class _Api:
    """The seed's endpoints over one ``DciState``."""

    def __init__(self, state: DciState) -> None:
        self.state = state

    def routes(self) -> list[Route]:
        def route(path: str, handler: Handler, method: str, op: str, auth: bool = True):
            return Route(path, self._wrap(handler, op, auth), methods=[method])

        return [
            route(LOGIN, self.login, "POST", "auth.token", auth=False),
            route(f"{DCI}/server", self.servers, "GET", "server.list"),
            route(
                f"{DCI}/server/configuration", self.configurations, "GET", "server.configuration"
            ),
            route(f"{DCI}/server/{{server_id:int}}", self.server, "GET", "server.get"),
            route(
                f"{DCI}/server/{{server_id:int}}/{{action}}", self.action, "POST", "server.{action}"
            ),
        ]

    def _wrap(self, handler: Handler, op: str, auth: bool) -> Handler:
        async def endpoint(request: Request) -> Response:
            entry = logged_request(request.scope)
            if entry is not None:
                entry.operation = op.format(**request.path_params)
                _redact(entry)
            try:
                if self.state.take_suspension():
                    raise ApiError(503, 1, "Service is suspended, repeat the request")
                if auth and not self.state.authorized(request):
                    raise ApiError(401, 6, "Unauthorized", {"reason": "invalid session"})
                self.state.fleet.settle(time.monotonic())
                return await handler(request)
            except ApiError as error:
                return error.response()

        return endpoint

    def _server(self, request: Request) -> dict:
        server = self.state.fleet.servers.get(request.path_params["server_id"])
        if server is None:
            raise ApiError(404, 3, "Server not found", {"object": "server"})
        return server

    async def login(self, request: Request) -> Response:
        body = await _json_body(request)
        email, password = body.get("email"), body.get("password")
        if not isinstance(email, str) or self.state.accounts.get(email) != password:
            raise ApiError(401, 6, "Invalid email or password")
        token = secrets.token_hex(12).upper()
        self.state.sessions[token] = time.monotonic() + self.state.session_ttl
        return JSONResponse({"id": token[:8], "token": token})

    async def servers(self, _: Request) -> Response:
        fleet = self.state.fleet
        return JSONResponse({"list": [fleet.list_item(s) for s in fleet.servers.values()]})

    async def server(self, request: Request) -> Response:
        return JSONResponse(self.state.fleet.single(self._server(request)))

    async def configurations(self, _: Request) -> Response:
        return JSONResponse({"list": [dict(c) for c in self.state.fleet.configurations]})

    async def action(self, request: Request) -> Response:
        server = self._server(request)
        action = request.path_params["action"]
        await _json_body(request)
        if action not in POWER_ACTIONS:
            raise ApiError(404, 3, "Unknown action", {"object": action})
        task = self._power(server, POWER_ACTIONS[action])
        return JSONResponse({"id": server["id"], "task": task})

    def _power(self, server: dict, final: str) -> int:
        server["ipmi"]["status"] = "in_progress"

        def land(s: dict) -> None:
            s["ipmi"]["status"] = final

        return self.state.fleet.schedule(
            server["id"], time.monotonic(), self.state.power_delay, land
        )


def _redact(entry: LoggedRequest) -> None:
    """Keep the session header and the login password out of the request log."""
    # The shared log redacts cookies and form fields, not this header or JSON bodies.
    if "x-xsrf-token" in entry.headers:
        entry.headers["x-xsrf-token"] = REDACTED
    if isinstance(entry.body, dict) and "password" in entry.body:
        entry.body = {**entry.body, "password": REDACTED}


async def _json_body(request: Request) -> dict:
    """The JSON object of a POST (the seed's curl sends ``-d '{}'`` without a content type)."""
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except ValueError:
        raise ApiError(400, 4, "Request body is not JSON") from None
    if not isinstance(body, dict):
        raise ApiError(400, 4, "Request body must be a JSON object")
    return body


def _control_routes(state: DciState) -> list[Route]:
    """Test controls under ``/_emulator/`` (never logged, never faulted)."""

    async def suspend(request: Request) -> Response:
        try:
            body = json.loads(await request.body() or b"{}")
            state.suspend(requests=body.get("requests"), seconds=body.get("seconds"))
        except (ValueError, TypeError, AttributeError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return Response(status_code=204)

    async def resume(_: Request) -> Response:
        state.suspend()
        return Response(status_code=204)

    async def revoke(_: Request) -> Response:
        state.expire_sessions()
        return Response(status_code=204)

    return [
        Route("/_emulator/dci/suspend", suspend, methods=["PUT"]),
        Route("/_emulator/dci/suspend", resume, methods=["DELETE"]),
        Route("/_emulator/dci/sessions", revoke, methods=["DELETE"]),
    ]
