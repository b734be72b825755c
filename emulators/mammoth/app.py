"""An in-process stand-in for Mammoth Cloud's REST API (https://api.mammoth.com.au/v2).

Example:
    with EmulatorServer(create_app(size=40, seed=1)) as server:
        token = {"Authorization": "Bearer mammoth-emulator-token"}
        httpx.get(f"{server.url}/v2/servers", headers=token)

Behaviour follows the seed (v0.24.3) and the platform's official spec (binarylane-openapi.json):
  * It serves the paths the adapter calls: the account, the server list and one server, a
    server's action (post and read back), current data usages (all and one server's), a
    server's sample sets, the invoices and the sizes and regions of instant delivery. Action
    lists, the latest sample set, one invoice and images are not served (no adapter reads
    them; a server embeds its image).
  * Every path is under ``/v2``; ``Authorization: Bearer <token>``: a missing or unknown token gets
    401, a ``read-only`` token's POST gets 403 (both problem-details bodies).
  * Lists take ``page`` (from 1) and ``per_page`` (1..200, default 20) and answer
    ``{"meta": {"total"}, "links": {"pages": {first, prev, next, last}}, "<items>": [...]}``;
    a link is present only where the spec says ("a link to the next page ... if this is not the
    last page"). Out-of-range paging answers 400 with ``errors`` (ValidationProblemDetails).
    ``paging`` makes the answers stranger, still within the spec: ``"next_on_last"`` links a
    ``next`` page from every page, the last included, and answers a page past the last as the
    last one (as a server clamping the page number would); ``"endless"`` does the same and
    reports ``meta.total`` as the largest int32.
  * Errors are problem-details (``type``, ``title``, ``status``, ``detail``, ``instance``), as
    ``application/problem+json``; injected faults answer in the same format.
  * ``POST /v2/servers/{id}/actions`` with ``{"type": ...}`` (the spec's ``#PowerOn``-style paths
    are one path; the body's ``type`` picks the action) answers ``{"action": ...}`` in progress.
    An action completes ``action_delay`` seconds after it started, evaluated lazily on the next
    request (no background task), and only then changes the server: power_on/power_cycle
    -> ``active``, power_off/shutdown -> ``off``, change_reverse_name -> the network's
    ``reverse_name`` (the action types the adapter sends). ``new`` and ``archive`` servers
    refuse power actions (422).
  * ``/samplesets/{id}`` is computed: a daily wave per server sampled at ``data_interval``.

Every request is logged with ``operation`` = the action ``type`` for action POSTs, else the route
name (``servers.list``, ``servers.get``, ``data_usages.list``, ...).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from emulators.kit import create_emulator_app, logged_request
from emulators.mammoth.fleet import Fleet, Payload, build_fleet

BASE = "/v2"
DEFAULT_TOKENS = {"mammoth-emulator-token": "full-access", "mammoth-emulator-read": "read-only"}
MAX_PER_PAGE = 200
INT32_MAX = 2147483647
#: ``paging`` options of ``create_app``.
PAGING = {"spec", "next_on_last", "endless"}
POWER_EFFECTS = {
    "power_on": "active",
    "power_cycle": "active",
    "power_off": "off",
    "shutdown": "off",
}
INTERVALS = {
    "five-minute": 300,
    "half-hour": 1800,
    "four-hour": 14400,
    "day": 86400,
    "week": 604800,
    "month": 2592000,
}
_TITLES = {
    400: "One or more validation errors occurred.",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    422: "Unprocessable Entity",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


def create_app(
    *,
    size: int = 40,
    seed: int = 1,
    tokens: dict[str, str] | None = None,
    action_delay: float = 2.0,
    paging: str = "spec",
) -> Starlette:
    """A Mammoth emulator over ``size`` servers drawn from ``seed``.

    ``app.state.emulator`` holds the fault settings and request log; ``app.state.fleet`` the data.
    """
    if paging not in PAGING:
        raise ValueError(f"paging must be one of {sorted(PAGING)}")
    fleet = build_fleet(size, seed)
    api = _Api(fleet, dict(DEFAULT_TOKENS if tokens is None else tokens), action_delay, paging)
    app = create_emulator_app(api.routes(), fault_body=_fault_body)
    app.state.fleet = fleet
    return app


def problem(status: int, detail: str, instance: str = "", **extra: Any) -> JSONResponse:
    """A problem-details response (the seed's error body)."""
    body = {
        "type": f"https://httpstatuses.io/{status}",
        "title": _TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        "instance": instance,
        **extra,
    }
    return JSONResponse(body, status, media_type="application/problem+json")


def _fault_body(status: int) -> tuple[bytes, str]:
    body = {
        "type": f"https://httpstatuses.io/{status}",
        "title": _TITLES.get(status, "Error"),
        "status": status,
        "detail": "The service is temporarily unable to handle the request.",
        "instance": "",
    }
    return json.dumps(body).encode(), "application/problem+json"


class _Problem(Exception):
    def __init__(self, response: JSONResponse) -> None:
        self.response = response


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class _Api:
    """The routes over one fleet."""

    def __init__(
        self, fleet: Fleet, tokens: dict[str, str], action_delay: float, paging: str
    ) -> None:
        self.fleet = fleet
        self.tokens = tokens
        self.action_delay = action_delay
        self.paging = paging

    def routes(self) -> list[Route]:
        """Every served path (GET unless noted)."""
        table: list[tuple[str, str, Callable, list[str]]] = [
            ("/account", "account.get", self.account, ["GET"]),
            ("/servers", "servers.list", self.list_servers, ["GET"]),
            ("/servers/{server_id:int}", "servers.get", self.get_server, ["GET"]),
            ("/servers/{server_id:int}/actions", "actions.post", self.post_action, ["POST"]),
            (
                "/servers/{server_id:int}/actions/{action_id:int}",
                "actions.get",
                self.get_server_action,
                ["GET"],
            ),
            ("/data_usages/current", "data_usages.list", self.list_data_usages, ["GET"]),
            (
                "/data_usages/{server_id:int}/current",
                "data_usages.get",
                self.get_data_usage,
                ["GET"],
            ),
            ("/samplesets/{server_id:int}", "samplesets.list", self.list_sample_sets, ["GET"]),
            ("/customers/my/invoices", "invoices.list", self.list_invoices, ["GET"]),
            ("/regions", "regions.list", self.list_regions, ["GET"]),
            ("/sizes", "sizes.list", self.list_sizes, ["GET"]),
        ]
        return [
            Route(f"{BASE}{path}", self._wrap(name, handler), methods=methods)
            for path, name, handler, methods in table
        ]

    def _wrap(self, name: str, handler: Callable) -> Callable:
        async def endpoint(request: Request) -> Response:
            entry = logged_request(request.scope)
            if entry is not None:
                entry.operation = name
            try:
                self._authorize(request)
                self._settle(time.time())
                return await handler(request)
            except _Problem as failure:
                return failure.response

        return endpoint

    def _authorize(self, request: Request) -> None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        access = self.tokens.get(token.strip()) if scheme.lower() == "bearer" else None
        if access is None:
            raise _Problem(problem(401, "A valid API token is required.", request.url.path))
        if request.method != "GET" and access != "full-access":
            raise _Problem(problem(403, "This API token is read-only.", request.url.path))

    # --- helpers ------------------------------------------------------------------------

    def _server(self, request: Request) -> Payload:
        server = self.fleet.servers.get(request.path_params["server_id"])
        if server is None:
            raise _Problem(problem(404, "Server not found.", request.url.path))
        return server

    def _paged(
        self, request: Request, key: str, items: Any, build: Callable = lambda item: item
    ) -> JSONResponse:
        page, per_page = self._paging(request)
        total = len(items)
        last = max(1, math.ceil(total / per_page))
        if self.paging != "spec":
            page = min(page, last)

        def link(number: int) -> str:
            return str(request.url.include_query_params(page=number, per_page=per_page))

        pages: dict[str, str] = {}
        if page > 1:
            pages.update(first=link(1), prev=link(min(page - 1, last)))
        if page < last or self.paging != "spec":
            pages.update(next=link(page + 1), last=link(last))
        start = (page - 1) * per_page
        window = [build(item) for item in items[start : start + per_page]]
        reported = INT32_MAX if self.paging == "endless" else total
        body = {"meta": {"total": reported}, "links": {"pages": pages}, key: window}
        return JSONResponse(body)

    @staticmethod
    def _paging(request: Request) -> tuple[int, int]:
        errors: dict[str, list[str]] = {}
        values = {}
        for name, default, high in (("page", 1, INT32_MAX), ("per_page", 20, MAX_PER_PAGE)):
            raw = request.query_params.get(name)
            try:
                values[name] = default if raw is None else int(raw)
            except ValueError:
                values[name] = default
                errors[name] = [f"The value '{raw}' is not valid."]
                continue
            if not 1 <= values[name] <= high:
                errors[name] = [f"The field {name} must be between 1 and {high}."]
        if errors:
            raise _Problem(problem(400, "Invalid paging.", request.url.path, errors=errors))
        return values["page"], values["per_page"]

    # --- actions ----------------------------------------------------------------------------

    def _settle(self, now: float) -> None:
        """Complete every in-progress action whose delay has passed, applying its effect."""
        for action in self.fleet.actions.values():
            if action["status"] != "in-progress":
                continue
            started = datetime.fromisoformat(action["started_at"].replace("Z", "+00:00"))
            if started.timestamp() + self.action_delay > now:
                continue
            action["status"] = "completed"
            action["completed_at"] = _iso(started + timedelta(seconds=self.action_delay))
            action["progress"] = {
                "percent_complete": 100,
                "completed_steps": [action["title"]],
                "current_step": None,
                "current_step_detail": None,
            }
            self._apply(action)

    def _apply(self, action: Payload) -> None:
        server = self.fleet.servers.get(action["resource_id"])
        effect = action.pop("_effect", None)
        if server is None or effect is None:
            return
        if action["type"] in POWER_EFFECTS:
            server["status"] = POWER_EFFECTS[action["type"]]
        elif action["type"] == "change_reverse_name":
            address, reverse_name = effect
            for network in server["networks"]["v4"]:
                if network["ip_address"] == address:
                    network["reverse_name"] = reverse_name

    def _validate_action(self, server: Payload, body: Any, path: str) -> tuple[str, Any]:
        if not isinstance(body, dict) or not isinstance(body.get("type"), str) or not body["type"]:
            raise _Problem(
                problem(400, "Invalid action.", path, errors={"type": ["A type is required."]})
            )
        kind = body["type"]
        if kind in POWER_EFFECTS:
            if server["status"] in ("new", "archive"):
                detail = f"The server is {server['status']} and cannot perform {kind}."
                raise _Problem(problem(422, detail, path))
            return kind, True
        if kind == "change_reverse_name":
            address = body.get("ipv4_address")
            own = [n["ip_address"] for n in server["networks"]["v4"]]
            if not isinstance(address, str) or address not in own:
                errors = {"ipv4_address": ["The IPv4 address is not assigned to this server."]}
                raise _Problem(problem(400, "Invalid action.", path, errors=errors))
            reverse_name = body.get("reverse_name")
            if reverse_name is not None and not isinstance(reverse_name, str):
                errors = {"reverse_name": ["The reverse name must be a string or null."]}
                raise _Problem(problem(400, "Invalid action.", path, errors=errors))
            return kind, (address, reverse_name or None)
        errors = {"type": [f"The action type '{kind}' is not supported by this emulator."]}
        raise _Problem(problem(400, "Invalid action.", path, errors=errors))

    def _new_action(self, server: Payload, kind: str, effect: Any) -> Payload:
        self.fleet.next_action_id += 1
        title = kind.replace("_", " ").capitalize()
        action = {
            "id": self.fleet.next_action_id,
            "status": "in-progress",
            "type": kind,
            "started_at": _iso(datetime.now(UTC)),
            "completed_at": None,
            "resource_type": "server",
            "resource_id": server["id"],
            "region": server["region"],
            "region_slug": server["region"]["slug"],
            "title": title,
            "reason": "Requested via API",
            "progress": {
                "percent_complete": 0,
                "completed_steps": [],
                "current_step": title,
                "current_step_detail": None,
            },
            "result_data": None,
            "blocking_invoice_id": None,
            "user_interaction_required": None,
            "_effect": effect,
        }
        self.fleet.actions[action["id"]] = action
        return action

    @staticmethod
    def _public(action: Payload) -> Payload:
        return {key: value for key, value in action.items() if not key.startswith("_")}

    # --- handlers -------------------------------------------------------------------------

    async def account(self, request: Request) -> Response:
        return JSONResponse({"account": self.fleet.account})

    async def list_servers(self, request: Request) -> Response:
        return self._paged(request, "servers", list(self.fleet.servers.values()))

    async def get_server(self, request: Request) -> Response:
        return JSONResponse({"server": self._server(request)})

    async def post_action(self, request: Request) -> Response:
        server = self._server(request)
        try:
            body = json.loads(await request.body() or b"null")
        except ValueError:
            body = None
        kind, effect = self._validate_action(server, body, request.url.path)
        entry = logged_request(request.scope)
        if entry is not None:
            entry.operation = kind
        action = self._new_action(server, kind, effect)
        if self.action_delay <= 0:
            self._settle(time.time())
        return JSONResponse({"action": self._public(action)})

    async def get_server_action(self, request: Request) -> Response:
        server = self._server(request)
        action = self.fleet.actions.get(request.path_params["action_id"])
        if action is None or action["resource_id"] != server["id"]:
            raise _Problem(problem(404, "Action not found.", request.url.path))
        return JSONResponse({"action": self._public(action)})

    async def list_data_usages(self, request: Request) -> Response:
        return self._paged(request, "data_usages", list(self.fleet.data_usages.values()))

    async def get_data_usage(self, request: Request) -> Response:
        server = self._server(request)
        return JSONResponse({"data_usage": self.fleet.data_usages[server["id"]]})

    def _interval(self, request: Request) -> tuple[str, int]:
        name = request.query_params.get("data_interval") or "five-minute"
        if name not in INTERVALS:
            errors = {"data_interval": [f"The value '{name}' is not valid."]}
            raise _Problem(problem(400, "Invalid interval.", request.url.path, errors=errors))
        return name, INTERVALS[name]

    def _window(self, request: Request, seconds: int) -> tuple[float, float]:
        """``start``/``end`` with the spec's defaults (a week, or a day for five-minute data)."""
        span = 86400 if seconds == 300 else 7 * 86400
        try:
            start = _parse(request.query_params.get("start"))
            end = _parse(request.query_params.get("end"))
        except ValueError:
            errors = {"start": ["Start and end must be ISO 8601 date-times."]}
            raise _Problem(
                problem(400, "Invalid period.", request.url.path, errors=errors)
            ) from None
        if start is None and end is None:
            end = time.time()
        if start is None:
            start = end - span
        if end is None:
            end = min(start + span, time.time())
        if end < start or end - start > 366 * 86400:
            errors = {"end": ["End must be after start and at most a year later."]}
            raise _Problem(problem(400, "Invalid period.", request.url.path, errors=errors))
        return start, end

    def _sample_set(self, server_id: int, begin: float, interval: str, seconds: int) -> Payload:
        out_base, in_share, phase = self.fleet.traffic[server_id]
        middle = begin + seconds / 2
        wave = 1 + 0.4 * math.sin(2 * math.pi * middle / 86400 + phase)
        noise = 1 + 0.1 * math.sin(middle * 0.0137 + server_id)
        outgoing = round(out_base * wave * noise, 3)
        server = self.fleet.servers[server_id]
        return {
            "server_id": server_id,
            "period": {
                "start": _iso(datetime.fromtimestamp(begin, UTC)),
                "end": _iso(datetime.fromtimestamp(begin + seconds, UTC)),
                "data_interval": interval,
            },
            "average": {
                "cpu_usage_percent": round(20 * wave, 2) if out_base else 0.0,
                "cpu_usage_detailed": [round(20 * wave, 2)] * server["vcpus"],
                "memory_usage_bytes": server["memory"] * 1024 * 1024 * 0.6,
                "network_incoming_kbps": round(outgoing * in_share, 3),
                "network_outgoing_kbps": outgoing,
                "storage_usage_megabytes": server["disk"] * 1024 * 0.4,
                "storage_read_kbps": 120.0,
                "storage_write_kbps": 80.0,
                "storage_read_requests_per_second": 3.0,
                "storage_write_requests_per_second": 2.0,
            },
            "maximum_memory_megabytes": server["memory"] * 0.8,
            "maximum_storage_gigabytes": server["disk"] * 0.5,
        }

    async def list_sample_sets(self, request: Request) -> Response:
        server = self._server(request)
        interval, seconds = self._interval(request)
        start, end = self._window(request, seconds)
        now = time.time()
        # Only periods after the server's creation, inside the window and already ended carry
        # samples.
        start = max(start, _parse(server["created_at"]) or start)
        first = math.ceil(start / seconds) * seconds
        stamps = range(int(first), math.ceil(min(end, now - seconds + 1)), seconds)
        return self._paged(
            request,
            "sample_sets",
            stamps,
            lambda t: self._sample_set(server["id"], t, interval, seconds),
        )

    async def list_invoices(self, request: Request) -> Response:
        return self._paged(request, "invoices", self.fleet.invoices)

    async def list_regions(self, request: Request) -> Response:
        return self._paged(request, "regions", self.fleet.regions)

    async def list_sizes(self, request: Request) -> Response:
        return self._paged(request, "sizes", self.fleet.sizes)


def _parse(value: str | None) -> float | None:
    if not value:
        return None
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


__all__ = ["DEFAULT_TOKENS", "create_app", "problem"]
