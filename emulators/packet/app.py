"""An in-process stand-in for the Packet / Equinix Metal REST API.

Example:
    app = create_app(size=30, seed=1, base_path="/metal/v1")
    with EmulatorServer(app) as server:
        project = app.state.fleet.project_ids[0]
        httpx.get(
            f"{server.url}/metal/v1/projects/{project}/devices",
            headers={"X-Auth-Token": "packet-emulator-token"},
            params={"per_page": 1000},
        )

It follows the seed (``shared/seeds/packet-rest-api.txt``) and, where the seed is garbled or
silent, the official spec (``equinix-metal-openapi.yaml``):
  * It serves the operations the adapter calls: the configured projects and organizations
    (``findProjectById``, ``findOrganizationById``, an organization's projects), their device
    lists and BGP sessions, one device (read, update, power action, BGP sessions), and the
    plans and capacity of instant delivery. IP assignments, traffic, bandwidth, facilities,
    metros and operating systems are not served on their own (no adapter asks for them; the
    devices embed their facility, metro, plan, operating system and addresses).
  * Every path lives under ``base_path`` ("" like api.packet.net, "/metal/v1" like Equinix);
    hrefs in bodies carry it too.
  * ``X-Auth-Token`` (seed L1-3): missing or unknown -> 401; a read-only token writing -> 403.
    Errors answer ``{"errors": ["..."]}`` (spec, Error), faults included.
  * Lists of devices and projects are paginated: ``page`` (1..100000) and ``per_page``
    (1..1000, default 10; capped at ``page_cap`` to exercise paging) with ``meta`` holding
    ``first/previous/self/next/last`` hrefs, ``total``, ``current_page``, ``last_page``
    (``previous``/``next`` are left out on the first/last page). Device lists filter by
    ``tag`` (exact), as the adapter pushes a tag filter down. ``paging`` makes the
    answers stranger, still within the spec (every ``Meta`` field is optional): ``"next_on_last"``
    links a ``next`` page from every page, the last included, and answers a page past the last
    as the last one (as a server clamping the page number would); ``"endless"`` does the same
    and leaves ``total``, ``current_page`` and ``last_page`` out.
  * Devices embed facility, metro, plan, operating_system and ip_addresses (seed L742-920).
  * ``POST /devices/{id}/actions`` takes ``{"type": ...}`` (spec, DeviceActionInput; the seed's
    query ``type`` is accepted too) and answers 202. ``power_off``: active -> powering_off ->
    inactive after ``power_delay`` seconds; ``power_on``: inactive -> powering_on -> active;
    ``reboot``: active -> powering_off -> powering_on -> active (the adapter's three actions).
    An action the current state does not allow answers 422. States settle lazily when a
    device is read (no background tasks).
  * ``PUT /devices/{id}`` takes DeviceUpdateInput fields; anything else answers 422.

Every request is logged with ``operation`` = the spec's operationId (``findProjectDevices``…).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from emulators.kit import create_emulator_app, logged_request
from emulators.packet.fleet import Entity, Fleet, build_fleet

DEFAULT_TOKENS = {"packet-emulator-token": "read-write", "packet-emulator-read": "read-only"}
MAX_PER_PAGE = 1000
MAX_PAGE = 100_000
#: DeviceUpdateInput properties (spec) and the JSON type each must have.
UPDATE_FIELDS: dict[str, type | tuple[type, ...]] = {
    "always_pxe": bool,
    "billing_cycle": str,
    "customdata": dict,
    "description": str,
    "hostname": str,
    "firmware_set_id": str,
    "ipxe_script_url": str,
    "locked": bool,
    "network_frozen": bool,
    "spot_instance": bool,
    "tags": list,
    "userdata": str,
}
#: action -> (states it applies to, [(fraction of power_delay, state)], final state).
ACTIONS: dict[str, tuple[set[str], list[tuple[float, str]], str]] = {
    "power_on": ({"inactive"}, [(0.0, "powering_on")], "active"),
    "power_off": ({"active"}, [(0.0, "powering_off")], "inactive"),
    "reboot": ({"active"}, [(0.0, "powering_off"), (0.5, "powering_on")], "active"),
}
#: ``paging`` options of ``create_app``.
PAGING = {"spec", "next_on_last", "endless"}

Handler = Callable[[Request], Awaitable[Response]]


class ApiError(Exception):
    """An error answered as ``{"errors": [message]}`` with an HTTP status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def create_app(
    *,
    size: int = 30,
    seed: int = 1,
    base_path: str = "",
    projects: int = 2,
    tokens: dict[str, str] | None = None,
    power_delay: float = 0.5,
    page_cap: int = MAX_PER_PAGE,
    paging: str = "spec",
) -> Starlette:
    """A Packet emulator over ``size`` devices from ``seed``, served under ``base_path``.

    ``app.state.fleet`` holds the data (``fleet.project_ids``, ``fleet.organization["id"]``);
    ``app.state.emulator`` the fault settings and request log.
    """
    base = base_path.rstrip("/")
    fleet = build_fleet(size, seed, base, projects)
    if paging not in PAGING:
        raise ValueError(f"paging must be one of {sorted(PAGING)}")
    tokens = dict(DEFAULT_TOKENS if tokens is None else tokens)
    api = _Api(fleet, tokens, power_delay, page_cap, paging)
    app = create_emulator_app(api.routes(base), fault_body=_fault_body)
    app.state.fleet = fleet
    return app


def _fault_body(status: int) -> tuple[bytes, str]:
    message = "Too many requests" if status == 429 else "Internal server error"
    return json.dumps({"errors": [message]}).encode(), "application/json"


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"errors": [message]}, status_code=status)


class _Api:
    """The routes over one fleet."""

    def __init__(
        self, fleet: Fleet, tokens: dict[str, str], power_delay: float, page_cap: int, paging: str
    ) -> None:
        self.fleet = fleet
        self.tokens = tokens
        self.power_delay = power_delay
        self.page_cap = page_cap
        self.paging = paging

    def routes(self, base: str) -> list[Route]:
        """Every route, named by the spec's operationId."""
        table: list[tuple[str, str, str, Handler]] = [
            ("GET", "/projects/{id}", "findProjectById", self.find_project),
            ("GET", "/projects/{id}/devices", "findProjectDevices", self.project_devices),
            ("GET", "/projects/{id}/bgp/sessions", "findProjectBgpSessions", self.project_bgp),
            ("GET", "/organizations/{id}", "findOrganizationById", self.find_organization),
            ("GET", "/organizations/{id}/projects", "findOrganizationProjects", self.org_projects),
            ("GET", "/organizations/{id}/devices", "findOrganizationDevices", self.org_devices),
            ("GET", "/devices/{id}", "findDeviceById", self.find_device),
            ("PUT", "/devices/{id}", "updateDevice", self.update_device),
            ("POST", "/devices/{id}/actions", "performAction", self.perform_action),
            ("GET", "/devices/{id}/bgp/sessions", "findBgpSessions", self.device_bgp),
            ("GET", "/plans", "findPlans", self.plans),
            ("GET", "/capacity", "findCapacityForFacility", self.capacity),
            ("POST", "/capacity", "checkCapacityForFacility", self.check_capacity),
        ]
        return [
            Route(f"{base}{path}", self._endpoint(operation, handler), methods=[method])
            for method, path, operation, handler in table
        ]

    def _endpoint(self, operation: str, handler: Handler) -> Handler:
        async def endpoint(request: Request) -> Response:
            entry = logged_request(request.scope)
            if entry is not None:
                entry.operation = operation
            access = self.tokens.get(request.headers.get("x-auth-token", ""))
            if access is None:
                return _error(401, "Invalid authentication token")
            if request.method != "GET" and operation != "checkCapacityForFacility":
                if access != "read-write":
                    return _error(403, "You are not authorized to perform this action")
            try:
                return await handler(request)
            except ApiError as exc:
                return _error(exc.status, exc.message)

        return endpoint

    # --- helpers --------------------------------------------------------------------

    def _device(self, request: Request) -> Entity:
        device = self.fleet.devices.get(request.path_params["id"])
        if device is None:
            raise ApiError(404, "Not found")
        _settle(device)
        return device

    def _project(self, request: Request) -> Entity:
        for project in self.fleet.projects:
            if project["id"] == request.path_params["id"]:
                return project
        raise ApiError(404, "Not found")

    def _organization(self, request: Request) -> Entity:
        if request.path_params["id"] != self.fleet.organization["id"]:
            raise ApiError(404, "Not found")
        return self.fleet.organization

    @staticmethod
    def _render(device: Entity) -> Entity:
        """A device as the API shows it (without the emulator's private keys)."""
        return {k: v for k, v in device.items() if not k.startswith("_")}

    def _page(self, request: Request, items: list[Any]) -> tuple[list[Any], dict]:
        """One page of ``items`` and its ``meta`` (seed: page, per_page, meta)."""
        page = _int_param(request, "page", 1, MAX_PAGE)
        per_page = min(_int_param(request, "per_page", 1, MAX_PER_PAGE, default=10), self.page_cap)
        last = max(1, math.ceil(len(items) / per_page))
        if self.paging != "spec":
            page = min(page, last)

        def href(number: int) -> dict[str, str]:
            return {"href": f"{request.url.path}?page={number}&per_page={per_page}"}

        meta: dict[str, Any] = {
            "first": href(1),
            "self": href(page),
            "last": href(last),
            "total": len(items),
            "current_page": page,
            "last_page": last,
        }
        if page > 1:
            meta["previous"] = href(page - 1)
        if page < last or self.paging != "spec":
            meta["next"] = href(page + 1)
        if self.paging == "endless":
            for count in ("total", "current_page", "last_page"):
                del meta[count]
        return items[(page - 1) * per_page : page * per_page], meta

    def _device_list(self, request: Request, devices: list[Entity]) -> Response:
        params = request.query_params
        for device in devices:
            _settle(device)
        if "tag" in params:
            devices = [d for d in devices if params["tag"] in d["tags"]]
        page, meta = self._page(request, devices)
        return JSONResponse({"devices": [self._render(d) for d in page], "meta": meta})

    # --- projects and organizations -------------------------------------------------

    async def find_project(self, request: Request) -> Response:
        return JSONResponse(_public_project(self._project(request)))

    async def project_devices(self, request: Request) -> Response:
        project = self._project(request)
        return self._device_list(request, self.fleet.project_devices(project["id"]))

    async def project_bgp(self, request: Request) -> Response:
        project = self._project(request)
        sessions = [
            session
            for device in self.fleet.project_devices(project["id"])
            for session in self.fleet.bgp_sessions.get(device["id"], [])
        ]
        return JSONResponse({"bgp_sessions": sessions})

    async def find_organization(self, request: Request) -> Response:
        return JSONResponse(self._organization(request))

    async def org_projects(self, request: Request) -> Response:
        self._organization(request)
        page, meta = self._page(request, self.fleet.projects)
        return JSONResponse({"projects": [_public_project(p) for p in page], "meta": meta})

    async def org_devices(self, request: Request) -> Response:
        self._organization(request)
        return self._device_list(request, list(self.fleet.devices.values()))

    # --- devices --------------------------------------------------------------------

    async def find_device(self, request: Request) -> Response:
        return JSONResponse(self._render(self._device(request)))

    async def update_device(self, request: Request) -> Response:
        device = self._device(request)
        body = await _json_object(request)
        for name, value in body.items():
            expected = UPDATE_FIELDS.get(name)
            if expected is None:
                raise ApiError(422, f"{name} is not an updatable attribute")
            if not isinstance(value, expected):
                raise ApiError(422, f"{name} has the wrong type")
        if "tags" in body and not all(isinstance(t, str) for t in body["tags"]):
            raise ApiError(422, "tags must be strings")
        device.update(body)
        device["updated_at"] = _now_iso()
        return JSONResponse(self._render(device))

    async def perform_action(self, request: Request) -> Response:
        device = self._device(request)
        body = await _json_object(request) if await request.body() else {}
        action = body.get("type", request.query_params.get("type"))
        if action not in ACTIONS:
            raise ApiError(422, "type must be one of " + ", ".join(ACTIONS))
        allowed, steps, final = ACTIONS[action]
        if device["state"] not in allowed:
            raise ApiError(422, f"Cannot {action} a device that is {device['state']}")
        now = time.monotonic()
        timeline = [(now + fraction * self.power_delay, state) for fraction, state in steps]
        device["_timeline"] = [*timeline, (now + self.power_delay, final)]
        _settle(device)
        return Response(status_code=202)

    async def device_bgp(self, request: Request) -> Response:
        device = self._device(request)
        return JSONResponse({"bgp_sessions": self.fleet.bgp_sessions.get(device["id"], [])})

    # --- instant delivery -----------------------------------------------------------

    async def plans(self, request: Request) -> Response:
        plans = list(self.fleet.plans.values())
        if "slug" in request.query_params:
            plans = [p for p in plans if p["slug"] == request.query_params["slug"]]
        return JSONResponse({"plans": plans})

    async def capacity(self, request: Request) -> Response:
        report = {
            facility: {slug: {"level": level} for slug, level in by_plan.items()}
            for facility, by_plan in self.fleet.capacity.items()
        }
        return JSONResponse({"capacity": report})

    async def check_capacity(self, request: Request) -> Response:
        body = await _json_object(request)
        servers = body.get("servers")
        if not isinstance(servers, list) or not all(isinstance(s, dict) for s in servers):
            raise ApiError(422, "servers must be a list of objects")
        answers = []
        for server in servers:
            facility, plan = server.get("facility"), server.get("plan")
            quantity = str(server.get("quantity", "1"))
            if not quantity.isdigit():
                raise ApiError(422, "quantity must be a number")
            level = self.fleet.capacity.get(facility, {}).get(plan, "unavailable")
            room = {"normal": 10, "limited": 2}.get(level, 0)
            answers.append(
                {
                    "facility": facility,
                    "plan": plan,
                    "quantity": quantity,
                    "available": int(quantity) <= room,
                }
            )
        return JSONResponse({"servers": answers})


def _settle(device: Entity) -> None:
    """Apply the state changes of a pending action that are due by now."""
    timeline = device.get("_timeline") or []
    now = time.monotonic()
    while timeline and timeline[0][0] <= now:
        device["state"] = timeline.pop(0)[1]
    if not timeline:
        device.pop("_timeline", None)


def _public_project(project: Entity) -> Entity:
    return {k: v for k, v in project.items() if not k.startswith("_")}


def _int_param(request: Request, name: str, low: int, high: int, default: int | None = None) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return low if default is None else default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(422, f"{name} must be an integer") from None
    if not low <= value <= high:
        raise ApiError(422, f"{name} must be between {low} and {high}")
    return value


async def _json_object(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.body())
    except ValueError:
        raise ApiError(422, "The request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise ApiError(422, "The request body must be a JSON object")
    return body


def _now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
