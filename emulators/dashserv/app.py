"""An in-process stand-in for the dashserv REST API v1 (https://api.dashserv.io/v1).

Example:
    with EmulatorServer(create_app(size=40, seed=1)) as server:
        httpx.get(
            f"{server.url}/v1/product/dedicated-server",
            headers={"Authorization": "Bearer dashserv-emulator-read"},
        )

Behaviour, following the seed (``shared/seeds/dashserv-api.txt``):
  * Every answer is the ``{"success": bool, "data": …}`` envelope. Errors: 403 for a missing or
    unknown token (``data: "invalid_token"``, GUESS: the seed gives no body) and for a write
    with a read-only token (``"forbidden"``); 404 ``"ressource_not_found"`` (the seed example's
    spelling) for an unknown product, ``"resource_not_found"`` (the table's spelling) for an
    unknown order or model, ``"route_not_found"`` (GUESS) for an unknown route; 405 for a wrong
    method; 422 ``"empty_field:<name>"`` or ``{field, value, msg}`` for a bad parameter; 412 for
    a request that cannot be done (``"product_not_available"``, GUESS); 503
    ``"ratelimit_exceeded"`` past ``rate_limit``; the vServer upgrade answers its errors with
    ``success: true`` as the seed shows.
  * ``tokens`` maps a token to "read" or "write" (seed: tokens carry read/write permission).
  * Write parameters are multipart form fields (``curl -F``; ``data[os]=0`` for orders);
    ``application/x-www-form-urlencoded`` is accepted too.
  * Power actions land after ``power_delay`` seconds, OS installations after
    ``install_delay``, orders move ``installing`` -> ``okay`` after ``order_delay`` and the
    product then appears in its list; all lazily, on the next request.
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
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from emulators.dashserv.fleet import (
    DEDICATED,
    IMAGES,
    LOCATIONS,
    MODEL_LOCATION,
    PERIODS,
    TEMPLATES,
    VSERVER,
    VSERVER_PLANS,
    Fleet,
    Order,
    Pending,
    Product,
    rate,
    template_name,
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
VAT = 0.19


class ApiError(Exception):
    """Answered as ``{"success": false, "data": data}`` with ``status``."""

    def __init__(self, status: int, data: Any, *, success: bool = False) -> None:
        super().__init__(str(data))
        self.status = status
        self.data = data
        self.success = success


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


async def read_form(request: Request) -> dict[str, str]:
    """Fields of a multipart/form-data or urlencoded body (no python-multipart needed)."""
    body = await request.body()
    content_type = request.headers.get("content-type", "")
    if not body:
        return {}
    if content_type.startswith("multipart/form-data"):
        message = BytesParser(policy=HTTP).parsebytes(
            f"Content-Type: {content_type}\r\n\r\n".encode("latin-1") + body
        )
        fields = {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            if name is not None:
                fields[str(name)] = part.get_payload(decode=True).decode("utf-8", "replace")
        return fields
    if content_type.startswith("application/x-www-form-urlencoded"):
        return dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    return {}


def create_app(
    *,
    size: int = 40,
    seed: int = 1,
    tokens: dict[str, str] | None = None,
    power_delay: float = 0.5,
    install_delay: float = 5.0,
    order_delay: float = 2.0,
    rate_limit: tuple[int, float] | None = None,
    reseller: bool = False,
) -> Starlette:
    """A dashserv emulator over an account of ``size`` products generated from ``seed``.

    ``rate_limit=(n, seconds)`` answers 503 ``ratelimit_exceeded`` to a token's requests past
    ``n`` in any ``seconds``. ``reseller`` allows ``DELETE /v1/product/{product}/{uuid}``.
    ``app.state.emulator`` holds faults and the request log, ``app.state.fleet`` the data and
    ``app.state.in_flight`` the concurrency gauge.
    """
    api = _Api(
        Fleet(size, seed),
        dict(DEFAULT_TOKENS if tokens is None else tokens),
        power_delay=power_delay,
        install_delay=install_delay,
        order_delay=order_delay,
        rate_limit=rate_limit,
        reseller=reseller,
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
        install_delay: float,
        order_delay: float,
        rate_limit: tuple[int, float] | None,
        reseller: bool,
    ) -> None:
        self.fleet = fleet
        self.tokens = tokens
        self.power_delay = power_delay
        self.install_delay = install_delay
        self.order_delay = order_delay
        self.rate_limit = rate_limit
        self.reseller = reseller
        self._recent: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def routes(self) -> list[Route]:
        """Specific paths before the ``{uuid}`` patterns they would otherwise match."""
        d, v = f"{PREFIX}/product/{DEDICATED}", f"{PREFIX}/product/{VSERVER}"
        table: list[tuple[str, str, Handler, bool, str]] = [
            (f"{PREFIX}/manage/product/{{product}}", "GET", self.product_info, False, "order.info"),
            (f"{PREFIX}/manage/product/{{product}}", "POST", self.place_order, True, "order.place"),
            (f"{PREFIX}/manage/order/{{uuid}}", "GET", self.check_order, False, "order.check"),
            (f"{d}/models", "GET", self.models, False, "dedicated.models"),
            (f"{d}/templates", "GET", self.templates, False, "dedicated.templates"),
            (f"{v}/image", "GET", self.images, False, "vserver.images"),
            (f"{d}/{{uuid}}/network", "GET", self.network, False, "dedicated.network"),
            (
                f"{d}/{{uuid}}/installation/status",
                "GET",
                self.installation,
                False,
                "dedicated.installation",
            ),
            (
                f"{d}/{{uuid}}/installation/create",
                "POST",
                self.install,
                True,
                "dedicated.install",
            ),
            (f"{v}/{{uuid}}/upgrade", "PUT", self.upgrade, True, "vserver.upgrade"),
            (f"{v}/{{uuid}}/stats", "GET", self.stats, False, "vserver.stats"),
            (f"{v}/{{uuid}}/tasks", "GET", self.tasks, False, "vserver.tasks"),
            (f"{PREFIX}/product/{{product}}", "GET", self.list, False, "list"),
            (f"{PREFIX}/product/{{product}}/{{uuid}}", "GET", self.single, False, "single"),
            (f"{PREFIX}/product/{{product}}/{{uuid}}", "DELETE", self.terminate, True, "delete"),
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
                return _envelope(exc.data, exc.status, success=exc.success)

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

    @staticmethod
    def _required(form: dict[str, str], *names: str) -> list[str]:
        for name in names:
            if not form.get(name, "").strip():
                raise ApiError(422, f"empty_field:{name}")
        return [form[name].strip() for name in names]

    @staticmethod
    def _integer(field: str, value: str, low: int, high: int, msg: str = "number_out_of_range"):
        try:
            number = int(value)
        except ValueError:
            raise ApiError(422, {"field": field, "value": value, "msg": "not_a_number"}) from None
        if not low <= number <= high:
            raise ApiError(422, {"field": field, "value": value, "msg": msg})
        return number

    # --- products -------------------------------------------------------------------

    async def list(self, request: Request) -> Any:
        kind = request.path_params["product"]
        if kind not in PRODUCTS:
            raise ApiError(404, "route_not_found")
        return [p.obj for p in self.fleet.products if p.kind == kind]

    async def single(self, request: Request) -> Any:
        return self._product(request).obj

    async def terminate(self, request: Request) -> Any:
        product = self._product(request)
        if not self.reseller:
            # Seed "Terminate product": "forbidden for normal customers".
            raise ApiError(403, "forbidden")
        self.fleet.products.remove(product)
        return "product_terminate_success"

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
        now = time.time()
        product.pending_power = Pending(ACTION_TARGET[action], now + self.power_delay)
        if product.kind == DEDICATED:
            return "action_executed_successfully"
        # vServer actions answer a task uuid; the task list names a restart "reboot".
        task = "reboot" if action == "restart" else action
        product.tasks.insert(
            0, {"unix": {"start": int(now), "end": None}, "task": task, "status": "OK"}
        )
        return self.fleet.new_uuid()

    # --- dedicated servers ----------------------------------------------------------

    async def models(self, _: Request) -> Any:
        return self.fleet.models

    async def templates(self, _: Request) -> Any:
        return TEMPLATES

    async def network(self, request: Request) -> Any:
        return self._product(request, DEDICATED).ips

    async def installation(self, request: Request) -> Any:
        return self._product(request, DEDICATED).installation

    async def install(self, request: Request) -> Any:
        product = self._product(request, DEDICATED)
        template, _hostname = self._required(await read_form(request), "template", "hostname")
        name = template_name(int(template)) if template.isdigit() else None
        if name is None:
            raise ApiError(422, {"field": "template", "value": template, "msg": "invalid_template"})
        product.installation.update({"installation": True, "log": "Booting installer via PXE"})
        product.pending_install = Pending(
            {"installation": False, "log": None, "os": name}, time.time() + self.install_delay
        )
        return "dedicated_server_installation_create_success"

    # --- vServers -------------------------------------------------------------------

    async def images(self, _: Request) -> Any:
        return IMAGES

    async def upgrade(self, request: Request) -> Any:
        product = self._product(request, VSERVER)
        form = await read_form(request)
        cpu, ram, disk = (
            self._integer(name, value, 1, 10**6)
            for name, value in zip(
                ("cpu", "ram", "disk"), self._required(form, "cpu", "ram", "disk"), strict=True
            )
        )
        options = product.obj["options"]
        # Seed "Change resources": these errors come back with success: true.
        if disk < options["disk"]:
            raise ApiError(200, "cannot_downgrade_disk", success=True)
        if cpu > 32 or ram > 128 or disk > 2000:
            raise ApiError(200, "upgrade_resources_exceeds_limit", success=True)
        options.update({"cores": cpu, "ram": ram, "disk": disk})
        product.pending_power = Pending("online", time.time() + self.power_delay)
        return "vserver_upgrade_success"

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

    async def tasks(self, request: Request) -> Any:
        return self._product(request, VSERVER).tasks

    # --- orders ---------------------------------------------------------------------

    def _info(self, name: str) -> dict[str, Any]:
        """``GET /manage/product/{product}`` data for ``vserver`` or ``dedicated-server:{uuid}``."""
        kind, _, model_uuid = name.partition(":")
        if kind == VSERVER and not model_uuid:
            return _vserver_info()
        model = self.fleet.model(model_uuid) if kind == DEDICATED else None
        if model is None:
            raise ApiError(404, "resource_not_found")
        return _dedicated_info(model)

    async def product_info(self, request: Request) -> Any:
        return _public(self._info(request.path_params["product"]))

    async def place_order(self, request: Request) -> Any:
        name = request.path_params["product"]
        info = self._info(name)
        form = await read_form(request)
        values = self._order_values(info, form)
        if form.get("calculate", "").lower() in ("true", "1"):
            return _calculation(info, values)
        model = self.fleet.model(name.partition(":")[2]) if name.startswith(DEDICATED) else None
        due: float | None = time.time() + self.order_delay
        if model is not None:
            if model["stock"] > 0:
                model["stock"] -= 1
            elif model["allowPreorder"]:
                due = None  # preordered: waits for hardware
            else:
                raise ApiError(412, "product_not_available")
        order = Order(
            uuid=self.fleet.new_uuid(),
            product_info=_public(info),
            product_uuid=self.fleet.new_uuid(),
            product_data={
                key: form[f"data[{key}]"] for key in [*info["options"], "location", "interval"]
            },
            created=time.time(),
            due=due,
            build=lambda: None,
            status="installing" if due is not None else "wait_for_host",
        )
        order.build = self._builder(order, model, values)
        self.fleet.orders[order.uuid] = order
        return order.uuid

    def _order_values(self, info: dict[str, Any], form: dict[str, str]) -> dict[str, Any]:
        """Validated ``data[...]`` fields: option indexes/numbers, location and period."""
        values: dict[str, Any] = {}
        for key, option in info["options"].items():
            (raw,) = self._required(form, f"data[{key}]")
            if option["type"] == "number":
                bounds = option["options"]
                values[key] = self._integer(key, raw, bounds["min"], bounds["max"])
            else:
                values[key] = self._integer(key, raw, 0, len(option["options"]) - 1)
        location, interval = self._required(form, "data[location]", "data[interval]")
        places = {place["uuid"]: place for place in info["locations"]}
        if location not in places:
            raise ApiError(422, {"field": "location", "value": location, "msg": "invalid_location"})
        if interval not in {period["uuid"] for period in PERIODS}:
            raise ApiError(422, {"field": "interval", "value": interval, "msg": "invalid_period"})
        values["location"] = places[location]
        return values

    def _builder(
        self, order: Order, model: dict | None, values: dict[str, Any]
    ) -> Callable[[], Product]:
        def build() -> Product:
            if model is not None:
                return self.fleet.new_dedicated(values["location"], model, uuid=order.product_uuid)
            cores, ram, disk, price = VSERVER_PLANS[values["cpu"]]
            return self.fleet.new_vserver(
                values["location"],
                (cores, ram, disk, price),
                uuid=order.product_uuid,
                image=IMAGES[values["os"]],
            )

        return build

    async def check_order(self, request: Request) -> Any:
        order = self.fleet.orders.get(request.path_params["uuid"])
        if order is None:
            raise ApiError(404, "resource_not_found")
        return {
            "uuid": order.uuid,
            "product": order.product_info,
            "productuuid": order.product_uuid,
            "unix": {"created": int(order.created), "ready": order.ready and int(order.ready)},
            "status": order.status,
            "statusData": None,
            "productData": order.product_data,
        }


def _public(info: dict[str, Any]) -> dict[str, Any]:
    """Product info as the API shows it (without the emulator's base price)."""
    return {key: value for key, value in info.items() if key != "monthly"}


def _select(display: list[str], icon: str, costs: list[float] | None = None) -> dict[str, Any]:
    return {
        "changeable": len(display) > 1,
        "type": "select",
        "cost": 0,
        "setup": 0,
        "options": [
            {"display": text, "cost": (costs or [0] * len(display))[i], "setup": 0}
            for i, text in enumerate(display)
        ],
        "icon": icon,
    }


def _pricing() -> dict[str, Any]:
    return {"percentage": 1, "periods": copy.deepcopy(PERIODS), "defaultPeriod": "Oha73a"}


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
            "cpu": {**_select([model["cpu"]["name"]], "fa-microchip"), "visible": False},
            "ram": _select(
                [f"{model['ram']['amount']} GB {model['ram']['type']} RAM"], "fa-memory"
            ),
            "disk": _select([model["disks"]["string"]], "fa-hdd"),
            "traffic": _select(["5 TB Highspeed Traffic"], "fa-network-wired"),
            "bandwidth": {
                "changeable": False,
                "type": "number",
                "cost": 0,
                "setup": 0,
                "suffix": "x 1 Gbit/s",
                "options": {"min": uplink, "max": uplink, "costEach": 0, "setupEach": 0, "step": 1},
                "icon": "fa-plug",
            },
            "os": _select(["Installierbar via IPMI"], "fa-compact-disc"),
        },
        "children": None,
        "pricing": _pricing(),
        "monthly": model["price"]["monthly"],
    }


def _vserver_info() -> dict[str, Any]:
    """Product info of ``vserver``: one plan (cpu index) in every location."""
    plans = [f"{c} vCores - {r} GB RAM - {d} GB SSD" for c, r, d, _ in VSERVER_PLANS]
    return {
        "uuid": "Vs3rv",
        "name": "vserver",
        "type": "options",
        "available": True,
        "display": {
            "name": "vServer",
            "icon": "/assets/img/products/vserver.png",
            "description": "KVM vServer",
            "content": "",
        },
        "setupTime": 0,
        "locations": copy.deepcopy(LOCATIONS),
        "options": {
            "cpu": _select(plans, "fa-microchip", [p[3] for p in VSERVER_PLANS]),
            "os": _select([image["displayName"] for image in IMAGES], "fa-compact-disc"),
        },
        "children": None,
        "pricing": _pricing(),
        "monthly": 0,  # the plan (cpu option) carries the whole price
    }


def _money(brut: float) -> dict[str, float]:
    net = round(brut / (1 + VAT), 3)
    return {"net": net, "tax": round(brut - net, 3), "brut": round(brut, 2)}


def _calculation(info: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    """The ``calculate=true`` answer: positions and prices for the chosen options."""
    period = PERIODS[0]
    positions = [
        {
            "name": "basePrice",
            "type": None,
            "value": "",
            "setup": _money(0),
            "costs": _money(info["monthly"]),
            "children": [],
        }
    ]
    total = info["monthly"]
    for key, option in info["options"].items():
        if option["type"] == "number":
            value, cost = f"{values[key]}{option['suffix']}", 0
        else:
            chosen = option["options"][values[key]]
            value, cost = chosen["display"], chosen["cost"]
        total += cost
        positions.append(
            {
                "name": key,
                "type": option["type"],
                "value": value,
                "setup": _money(0),
                "costs": _money(cost),
                "children": [],
            }
        )
    positions.append(
        {
            "name": "location",
            "type": None,
            "value": values["location"]["display"]["name"],
            "setup": _money(0),
            "costs": _money(0),
            "children": [],
        }
    )
    price = _money(total * period["priceMultiplier"])
    return {
        "positions": positions,
        "price": price,
        "realPrice": price,
        "setup": _money(0),
        "realSetup": _money(0),
        "todayPrice": price,
        "coupon": None,
        "period": None,
    }
