"""An in-process stand-in for the dashserv REST API v1 (https://api.dashserv.io/v1).

Example:
    with EmulatorServer(create_app(size=40, seed=1)) as server:
        httpx.get(
            f"{server.url}/v1/product/dedicated-server",
            headers={"Authorization": "Bearer dashserv-emulator-read"},
        )

Behaviour, following the seed (``shared/seeds/dashserv-api.txt``):
  * It serves what the adapter calls: both product lists and single products, per-product
    ``status`` and power ``actions``, a dedicated server's ``network`` and
    ``installation/status``, the OS ``templates`` (the adapter's health ping), the marketplace
    ``models``, a model's product info (``GET /v1/manage/product/dedicated-server:{uuid}``, for
    its locations) and a vServer's ``stats``. Ordering, pricing, installation, upgrades,
    termination, images and task lists are not emulated (no adapter calls them).
  * Every answer is the ``{"success": bool, "data": …}`` envelope. Errors: 403 for a missing or
    unknown token (``data: "invalid_token"``, GUESS: the seed gives no body) and for a write
    with a read-only token (``"forbidden"``); 404 ``"ressource_not_found"`` (the seed example's
    spelling) for an unknown product, ``"resource_not_found"`` (the table's spelling) for an
    unknown model, ``"route_not_found"`` (GUESS) for an unknown route; 405 for a wrong
    method; 422 ``"empty_field:<name>"`` or ``{field, value, msg}`` for a bad parameter; 503
    ``"ratelimit_exceeded"`` past ``rate_limit``.
  * ``tokens`` maps a token to "read" or "write" (seed: tokens carry read/write permission).
  * Power actions land after ``power_delay`` seconds, lazily, on the next request.
  * ``GET /v1/product/vserver/{uuid}/stats`` serves a deterministic series (bytes/s) ending now.

Every request is logged with ``operation`` set to a short route name (``"dedicated.status"``,
``"vserver.action"`` …); ``app.state.in_flight`` records the most concurrent API requests.
"""

from __future__ import annotations

import copy
import json
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from emulators.dashserv.fleet import (
    DEDICATED,
    LOCATIONS,
    MODEL_LOCATION,
    PERIODS,
    TEMPLATES,
    VSERVER,
    Fleet,
    Pending,
    Product,
    rate,
)
from emulators.kit import create_emulator_app, logged_request

PREFIX = "/v1"
DEFAULT_TOKENS = {"dashserv-emulator-write": "write", "dashserv-emulator-read": "read"}
PRODUCTS = (DEDICATED, VSERVER)
#: Power actions per product (seed "Dedicated server" / "vServer").
ACTIONS = {
    DEDICATED: ("start", "shutdown", "reset"),
    VSERVER: ("start", "shutdown", "stop", "restart", "reset"),
}
#: Power state an action leads to.
ACTION_TARGET = {
    "start": "online",
    "shutdown": "offline",
    "stop": "offline",
    "restart": "online",
    "reset": "online",
}
#: stats ``timeframe`` -> (points, seconds between points); hour is per minute as in the seed.
TIMEFRAMES = {
    "hour": (60, 60),
    "day": (96, 900),
    "week": (84, 7200),
    "month": (120, 21600),
    "year": (365, 86400),
}


class ApiError(Exception):
    """Answered as ``{"success": false, "data": data}`` with ``status``."""

    def __init__(self, status: int, data: Any) -> None:
        super().__init__(str(data))
        self.status = status
        self.data = data


def _envelope(data: Any, status: int = 200, success: bool = True) -> JSONResponse:
    return JSONResponse({"success": success, "data": data}, status_code=status)


def _fault_body(status: int) -> tuple[bytes, str]:
    data = "ratelimit_exceeded" if status in (429, 503) else "internal_server_error"
    return json.dumps({"success": False, "data": data}).encode(), "application/json"


class InFlight:
    """The number of API requests being served now, and the most seen at once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.current = 0
        self.maximum = 0

    def reset(self) -> None:
        """Forget the maximum."""
        with self._lock:
            self.maximum = self.current

    def __enter__(self) -> None:
        with self._lock:
            self.current += 1
            self.maximum = max(self.maximum, self.current)

    def __exit__(self, *_: object) -> None:
        with self._lock:
            self.current -= 1


class _InFlightMiddleware:
    def __init__(self, app: ASGIApp, gauge: InFlight) -> None:
        self.app = app
        self.gauge = gauge

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(PREFIX + "/"):
            await self.app(scope, receive, send)
            return
        with self.gauge:
            await self.app(scope, receive, send)


def create_app(
    *,
    size: int = 40,
    seed: int = 1,
    tokens: dict[str, str] | None = None,
    power_delay: float = 0.5,
    rate_limit: tuple[int, float] | None = None,
) -> Starlette:
    """A dashserv emulator over an account of ``size`` products generated from ``seed``.

    ``rate_limit=(n, seconds)`` answers 503 ``ratelimit_exceeded`` to a token's requests past
    ``n`` in any ``seconds``.
    ``app.state.emulator`` holds faults and the request log, ``app.state.fleet`` the data and
    ``app.state.in_flight`` the concurrency gauge.
    """
    api = _Api(
        Fleet(size, seed),
        dict(DEFAULT_TOKENS if tokens is None else tokens),
        power_delay=power_delay,
        rate_limit=rate_limit,
    )
    app = create_emulator_app(api.routes(), fault_body=_fault_body)
    app.add_exception_handler(HTTPException, _http_error)
    gauge = InFlight()
    app.add_middleware(_InFlightMiddleware, gauge=gauge)
    app.state.fleet = api.fleet
    app.state.in_flight = gauge
    return app


async def _http_error(_: Request, exc: Exception) -> JSONResponse:
    status = getattr(exc, "status_code", 500)
    # Seed "HTTP Error codes": 404 invalid API route, 405 invalid HTTP method.
    data = {404: "route_not_found", 405: "method_not_allowed"}.get(status, "error")
    return _envelope(data, status, success=False)


Handler = Callable[[Request], Awaitable[Any]]


class _Api:
    """The routes over one fleet; each handler returns ``data`` or raises ApiError."""

    def __init__(
        self,
        fleet: Fleet,
        tokens: dict[str, str],
        *,
        power_delay: float,
        rate_limit: tuple[int, float] | None,
    ) -> None:
        self.fleet = fleet
        self.tokens = tokens
        self.power_delay = power_delay
        self.rate_limit = rate_limit
        self._recent: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def routes(self) -> list[Route]:
        """Specific paths before the ``{uuid}`` patterns they would otherwise match."""
        d, v = f"{PREFIX}/product/{DEDICATED}", f"{PREFIX}/product/{VSERVER}"
        table: list[tuple[str, str, Handler, bool, str]] = [
            (f"{PREFIX}/manage/product/{{product}}", "GET", self.product_info, False, "order.info"),
            (f"{d}/models", "GET", self.models, False, "dedicated.models"),
            (f"{d}/templates", "GET", self.templates, False, "dedicated.templates"),
            (f"{d}/{{uuid}}/network", "GET", self.network, False, "dedicated.network"),
            (
                f"{d}/{{uuid}}/installation/status",
                "GET",
                self.installation,
                False,
                "dedicated.installation",
            ),
            (f"{v}/{{uuid}}/stats", "GET", self.stats, False, "vserver.stats"),
            (f"{PREFIX}/product/{{product}}", "GET", self.list, False, "list"),
            (f"{PREFIX}/product/{{product}}/{{uuid}}", "GET", self.single, False, "single"),
            (f"{PREFIX}/product/{{product}}/{{uuid}}/status", "GET", self.status, False, "status"),
            (
                f"{PREFIX}/product/{{product}}/{{uuid}}/actions/{{action}}",
                "POST",
                self.action,
                True,
                "action",
            ),
        ]
        by_path: dict[str, dict[str, Handler]] = {}
        for path, method, handler, write, operation in table:
            by_path.setdefault(path, {})[method] = self._endpoint(handler, write, operation)
        return [
            Route(path, self._dispatch(methods), methods=list(methods))
            for path, methods in by_path.items()
        ]

    @staticmethod
    def _dispatch(methods: dict[str, Handler]) -> Handler:
        async def handle(request: Request) -> Any:
            return await methods[request.method](request)

        return handle

    def _endpoint(self, handler: Handler, write: bool, operation: str) -> Handler:
        async def handle(request: Request) -> JSONResponse:
            entry = logged_request(request.scope)
            product = request.path_params.get("product")
            if entry is not None:
                qualified = operation if "." in operation or product not in PRODUCTS else None
                short = {DEDICATED: "dedicated", VSERVER: "vserver"}.get(product or "")
                entry.operation = qualified or f"{short}.{operation}"
            try:
                self._admit(request, write)
                self.fleet.settle(time.time())
                return _envelope(await handler(request))
            except ApiError as exc:
                return _envelope(exc.data, exc.status, success=False)

        return handle

    def _admit(self, request: Request, write: bool) -> None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        access = self.tokens.get(token.strip()) if scheme.lower() == "bearer" else None
        if access is None:
            raise ApiError(403, "invalid_token")
        if self.rate_limit is not None:
            limit, seconds = self.rate_limit
            now = time.monotonic()
            with self._lock:
                recent = self._recent.setdefault(token, deque())
                while recent and recent[0] <= now - seconds:
                    recent.popleft()
                if len(recent) >= limit:
                    raise ApiError(503, "ratelimit_exceeded")
                recent.append(now)
        if write and access != "write":
            raise ApiError(403, "forbidden")

    # --- helpers --------------------------------------------------------------------

    def _product(self, request: Request, kind: str | None = None) -> Product:
        kind = kind or request.path_params["product"]
        if kind not in PRODUCTS:
            raise ApiError(404, "route_not_found")
        product = self.fleet.find(kind, request.path_params["uuid"])
        if product is None:
            raise ApiError(404, "ressource_not_found")
        return product

    # --- products -------------------------------------------------------------------

    async def list(self, request: Request) -> Any:
        kind = request.path_params["product"]
        if kind not in PRODUCTS:
            raise ApiError(404, "route_not_found")
        return [p.obj for p in self.fleet.products if p.kind == kind]

    async def single(self, request: Request) -> Any:
        return self._product(request).obj

    async def status(self, request: Request) -> Any:
        product = self._product(request)
        if product.kind == DEDICATED:
            return {"status": product.power}
        return self._vserver_status(product)

    @staticmethod
    def _vserver_status(product: Product) -> dict[str, Any]:
        options = product.obj["options"]
        online = product.power == "online"
        uptime = int(time.time() - product.booted) if online else 0
        ram_max = options["ram"] * 2**30
        ram_now = int(ram_max * 0.156) if online else 0
        return {
            "status": product.power,
            "locked": False,
            "stats": {
                "uptime": uptime,
                "ram": {"max": ram_max, "current": ram_now, "usage": 15.56 if online else 0},
                "disk": {
                    "max": options["disk"] * 2**30,
                    "current": 0,
                    "write": 841129984,
                    "read": 269785372,
                },
                "cpu": {"cores": options["cores"], "usage": 3 if online else 0},
                "network": {
                    "limited": False,
                    "ingoing": 59144058,
                    "outgoing": 2588345,
                    "traffic": {"ingoing": 0, "outgoing": 0},
                },
            },
        }

    async def action(self, request: Request) -> Any:
        product = self._product(request)
        action = request.path_params["action"]
        if action not in ACTIONS[product.kind]:
            raise ApiError(404, "route_not_found")
        product.pending_power = Pending(ACTION_TARGET[action], time.time() + self.power_delay)
        if product.kind == DEDICATED:
            return "action_executed_successfully"
        return self.fleet.new_uuid()  # a vServer action answers the uuid of its task

    # --- dedicated servers ----------------------------------------------------------

    async def models(self, _: Request) -> Any:
        return self.fleet.models

    async def templates(self, _: Request) -> Any:
        return TEMPLATES

    async def network(self, request: Request) -> Any:
        return self._product(request, DEDICATED).ips

    async def installation(self, request: Request) -> Any:
        return self._product(request, DEDICATED).installation

    # --- vServers -------------------------------------------------------------------

    async def stats(self, request: Request) -> Any:
        product = self._product(request, VSERVER)
        timeframe = request.query_params.get("timeframe", "")
        if not timeframe:
            raise ApiError(422, "empty_field:timeframe")
        if timeframe not in TIMEFRAMES:
            raise ApiError(422, {"field": "timeframe", "value": timeframe, "msg": "invalid_value"})
        count, step = TIMEFRAMES[timeframe]
        last = int(time.time()) // step * step
        points = []
        for index in range(count):
            t = last - (count - 1 - index) * step
            points.append(
                {
                    "cpu_percentage": 0.1,
                    "ram_percentage": 65.2,
                    "net_in": rate(product.stats_seed, t, 0),
                    "net_out": rate(product.stats_seed, t, 1),
                    "disk_read": 0,
                    "disk_write": 1624.75,
                    "time": time.strftime("%H:%M:%S", time.gmtime(t)),
                }
            )
        return points

    # --- marketplace ----------------------------------------------------------------

    async def product_info(self, request: Request) -> Any:
        """``GET /manage/product/dedicated-server:{uuid}``: a marketplace model's product info."""
        kind, _, model_uuid = request.path_params["product"].partition(":")
        model = self.fleet.model(model_uuid) if kind == DEDICATED else None
        if model is None:
            raise ApiError(404, "resource_not_found")
        return _dedicated_info(model)


def _select(display: str, icon: str) -> dict[str, Any]:
    return {
        "changeable": False,
        "type": "select",
        "cost": 0,
        "setup": 0,
        "options": [{"display": display, "cost": 0, "setup": 0}],
        "icon": icon,
    }


def _dedicated_info(model: dict[str, Any]) -> dict[str, Any]:
    """Product info of a marketplace model (seed "Get product pricing / options")."""
    uplink = model["network"]["bandwith"]["amount"]
    location = next(x for x in LOCATIONS if x["uuid"] == MODEL_LOCATION[model["uuid"]])
    return {
        "uuid": f"P{model['uuid'][:4]}",
        "name": model["product"],
        "type": "options",
        "available": model["stock"] > 0 or model["allowPreorder"],
        "display": {
            "name": f"Dedizierter Server - {model['string']}",
            "icon": "/assets/img/products/dedicated-server.png",
            "description": "Viel Power für wenig Geld!",
            "content": "",
        },
        "setupTime": 0,
        "locations": [copy.deepcopy(location)],
        "options": {
            "cpu": {**_select(model["cpu"]["name"], "fa-microchip"), "visible": False},
            "ram": _select(f"{model['ram']['amount']} GB {model['ram']['type']} RAM", "fa-memory"),
            "disk": _select(model["disks"]["string"], "fa-hdd"),
            "traffic": _select("5 TB Highspeed Traffic", "fa-network-wired"),
            "bandwidth": {
                "changeable": False,
                "type": "number",
                "cost": 0,
                "setup": 0,
                "suffix": "x 1 Gbit/s",
                "options": {"min": uplink, "max": uplink, "costEach": 0, "setupEach": 0, "step": 1},
                "icon": "fa-plug",
            },
            "os": _select("Installierbar via IPMI", "fa-compact-disc"),
        },
        "children": None,
        "pricing": {"percentage": 1, "periods": copy.deepcopy(PERIODS), "defaultPeriod": "Oha73a"},
    }
