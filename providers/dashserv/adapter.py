"""dashserv backend: the REST API v1 (https://api.dashserv.io/v1) with a Bearer token.

Both products appear as ``Server`` named ``<prefix>-<product uuid>``: dedicated servers
(``GET /product/dedicated-server``) first, then vServers (``GET /product/vserver``), each in
the API's order. The API has no paging or filtering (seed "Modularity"; every list returns the
whole array), so every listing reads both lists, judges the filter with
``providers.filtering.server_matches`` (making only the per-server calls the filter needs) and
then fills only the requested window. Reads go through the shared cache as ``servers``
(lists, status, network, installation), ``catalog`` (models, product info) and ``traffic``.

Per-server calls, made only when the selection (or the filter) needs them, each at most once
per adapter call, at most ``max_concurrency`` in flight per provider instance:
  * ``powerStatus`` (and vServer ``uptime``) -> ``GET /product/{product}/{uuid}/status``;
  * dedicated ``network.ipAddresses``        -> ``GET /product/dedicated-server/{uuid}/network``;
  * dedicated ``system.os``, ``system.operatingSystem`` -> ``GET .../{uuid}/installation/status``.
vServer IPs and OS come with the vServer object (``network.public``, ``image``).

Honest representations of non-null fields the API does not report (see ``mapping``):
``hardware.hdds`` of a vServer is [] (the disk type is unknown), a vServer CPU is "vCPU",
``system.raid``/``network.ddosShieldLevel`` are UNKNOWN, ``tags`` is [], ``Os.name`` is "" when
the installation status names no OS. ``alias`` is the product's own ``name`` label; hostname,
billing, ipmi ip/username, hasBgp, trafficPlan.name and dedicated uptime are null.

Power actions (seed "Dedicated server" / "vServer" actions; one POST, never retried):

    PowerAction  dedicated-server    vserver
    ON           start               start
    OFF          NOT_SUPPORTED       stop      ("pulling the power plug")
    SOFT         shutdown (ACPI)     shutdown  (ACPI)
    RESET        reset               reset
    CYCLE        reset               reset     (both "pulling the power plug/cord and putting
                                                it back in": a power cycle)

vServer ``restart`` is a graceful ACPI reboot, which no PowerAction asks for. The product of a
server is known only after reading it, so an unsupported combination is refused after that
read and before any write.

Errors (seed "Errors"): the ``{success, data}`` envelope, the HTTP status and the message code
decide together. ``resource_not_found``/``ressource_not_found`` -> NOT_FOUND; 403 or
``forbidden`` (a read-only token writing) -> NOT_AUTHORIZED; ``{field, value, msg}``,
``empty_field:x`` and 422 -> VALIDATION_FAILED naming the field; 412 and the error codes the
API answers with ``success: true`` (vServer upgrade) -> VALIDATION_FAILED; ``ratelimit_exceeded``
/ 503 (and 429) -> reads are retried by the transport's one retry loop (``retries``,
``retry_backoff``, ``Retry-After``, the retry budget, the request's deadline), then
PROVIDER_UNAVAILABLE; 404 without a not-found code (an invalid API route), other statuses, 5xx
and malformed bodies -> PROVIDER_UNAVAILABLE.

Traffic: vServers only, from ``GET /product/vserver/{uuid}/stats?timeframe=`` (the shortest
timeframe reaching back to ``from``); dedicated servers have no traffic data in the API and
are not counted. ``traffic_series`` gives the same summed series at the endpoint's own spacing
(coarser than asked for long periods; the gateway's grid follows).

Instant delivery: marketplace models with ``stock`` > 0, one entry per unit,
located by the product's locations (``GET /manage/product/dedicated-server:{uuid}``, only when
the location is selected or filtered on).
"""

from __future__ import annotations

import asyncio
import re
import time
from datetime import UTC, datetime
from typing import Any

import httpx

from errors import (
    GatewayError,
    NotAuthorized,
    NotFound,
    NotSupported,
    ProviderUnavailable,
    quoted,
    refused_as_invalid,
    upstream_reason,
)
from providers.base import (
    Capability,
    LazyPage,
    Page,
    Provider,
    ServerFilter,
    ServerKey,
    TrafficQuery,
    TrafficSeries,
)
from providers.dashserv import mapping
from providers.dashserv.mapping import DEDICATED, VSERVER
from providers.dashserv.options import DashservTable
from providers.filtering import filter_selection, server_matches
from providers.http import INVALID_STATUS, refused
from providers.locations import unknown_location
from providers.selection import Selection
from providers.traffic import traffic_statistics

__all__ = ["DashservProvider"]


#: PowerAction -> action path segment, per product (table in the module docstring).
POWER_ACTIONS: dict[str, dict[str, str]] = {
    DEDICATED: {"ON": "start", "SOFT": "shutdown", "RESET": "reset", "CYCLE": "reset"},
    VSERVER: {"ON": "start", "OFF": "stop", "SOFT": "shutdown", "RESET": "reset", "CYCLE": "reset"},
}

_NOT_FOUND_CODES = {"resource_not_found", "ressource_not_found"}  # both spellings in the seed
_RATE_LIMIT_CODE = "ratelimit_exceeded"
#: Codes answered with ``success: true`` that are failures (seed "Change resources").
_ERRORS_DESPITE_SUCCESS = {"cannot_downgrade_disk", "upgrade_resources_exceeds_limit"}
_CODE = re.compile(r"^[a-z0-9_]{1,60}$")
_UUID = re.compile(r"^[A-Za-z0-9]{1,32}$")
#: Fixed path segments at the level of ``{uuid}`` (``GET /product/dedicated-server/models``).
_RESERVED = {"models", "templates", "image"}


class _RateLimited(Exception):
    """The upstream answered ``ratelimit_exceeded`` / 503: back off before asking again."""


class DashservProvider(Provider):
    """A dashserv account (dedicated servers and vServers) through its REST API v1."""

    kind = "dashserv"
    capabilities = frozenset(
        {
            Capability.LIST_SERVERS,
            Capability.POWER_ACTION,
            Capability.TRAFFIC,
            Capability.INSTANT_DELIVERY,
        }
    )
    options_model = DashservTable

    def upstream_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.config.credentials['token']}"}

    def retry_when(self, response: httpx.Response) -> bool:
        """``ratelimit_exceeded`` under any status (429 and 503 are retried in any case)."""
        return b"ratelimit_exceeded" in response.content and (
            _code_of(response) == _RATE_LIMIT_CODE
        )

    async def ping(self) -> None:
        # The smallest authenticated answer: the OS template groups; never from the cache.
        await self._get("product/dedicated-server/templates", resource=None)

    # --- transport ------------------------------------------------------------------

    async def _get(
        self,
        path: str,
        params: dict[str, str] | None = None,
        *,
        resource: str | None = "servers",
    ) -> Any:
        """``data`` of a GET (cached for ``resource``'s TTL); the transport retries it while
        rate limited (``retry_when``)."""
        response = await self.http.send("GET", path, write=False, params=params, resource=resource)
        try:
            return self._unwrap(response, write=False)
        except _RateLimited:
            raise self._unavailable("kept rate limiting the requests") from None

    async def _post(self, path: str) -> Any:
        """``data`` of one POST; never retried (the action must not run twice)."""
        response = await self.http.send("POST", path, write=True)
        try:
            return self._unwrap(response, write=True)
        except _RateLimited:
            # 503 ratelimit_exceeded: the request was refused, so nothing happened.
            raise self._unavailable("is rate limiting the requests; nothing was changed") from None

    def _unwrap(self, response: httpx.Response, *, write: bool) -> Any:
        """``data`` of a successful envelope, or the translated error."""
        status = response.status_code
        if status in (429, 503):
            # Seed "Errors": 503 is "Rate limit hit. Try your request again later" (whatever
            # the body); 429 is not documented but means the same everywhere.
            raise _RateLimited()
        if status >= 500:
            raise self.http.error(response, write=write)
        if status in (401, 403):
            # "Invalid or missing API authentication", whatever the body says; "forbidden"
            # is the seed's code for a token without write permission.
            raise self._refused(_code_of(response))
        body = self.http.decode_json(response)
        if not isinstance(body, dict) or "success" not in body or "data" not in body:
            raise self._unavailable("answered with a malformed body")
        data = body["data"]
        code = data if isinstance(data, str) else None
        failed = status != 200 or body["success"] is not True or code in _ERRORS_DESPITE_SUCCESS
        if not failed:
            return data
        raise self._translate(status, data, code, write)

    def _translate(self, status: int, data: Any, code: str | None, write: bool) -> Exception:
        if code == _RATE_LIMIT_CODE:
            return _RateLimited()
        if code in _NOT_FOUND_CODES:
            return NotFound(f"Provider {quoted(self.id)} has no such resource.", provider=self.id)
        if code == "forbidden":
            return self._refused(code)
        if isinstance(data, dict) and "field" in data:
            return self._invalid(status, write, str(data.get("field")), data.get("msg"))
        if code and code.startswith("empty_field:"):
            return self._invalid(status, write, code.partition(":")[2], "empty_field")
        if status in INVALID_STATUS or code in _ERRORS_DESPITE_SUCCESS:
            # The transport's statuses of a refusal as invalid; the code is the reason.
            return self._invalid(status, write, None, code)
        # 404 without a not-found code is "Invalid API route": a wrong base_url, not a resource.
        return self._unavailable(
            f"answered HTTP {status} ({'route' if status == 404 else 'error'})"
        )

    def _refused(self, code: str | None) -> NotAuthorized:
        return refused(
            self.id, ": the token has no write permission" if code == "forbidden" else ""
        )

    def _invalid(self, status: int, write: bool, field: str | None, msg: Any) -> GatewayError:
        """A refusal as invalid; the seed's error codes (``number_out_of_range``) are its reason."""
        code = str(msg) if isinstance(msg, str) and _CODE.match(msg) else "invalid request"
        field = upstream_reason(field[:60]) if field else None
        return refused_as_invalid(
            self.id,
            write=write,
            status=status,
            reason=f"field {quoted(field)}: {code}" if field else code,
            field=field,
        )

    def _unavailable(self, what: str, *, write: bool = False) -> ProviderUnavailable:
        return ProviderUnavailable.failed(self.id, what, outcome_unknown=write)

    def _objects(self, data: Any) -> list[dict]:
        if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
            raise self._unavailable("answered with a malformed list")
        return data

    # --- servers --------------------------------------------------------------------

    async def _records(self) -> list[tuple[str, dict]]:
        """Every product as ``(product, object)``: dedicated servers, then vServers."""
        dedicated, vservers = await asyncio.gather(
            self._get(f"product/{DEDICATED}"), self._get(f"product/{VSERVER}")
        )
        return [(DEDICATED, item) for item in self._objects(dedicated)] + [
            (VSERVER, item) for item in self._objects(vservers)
        ]

    async def _record(self, name: str) -> tuple[str, dict]:
        """One product by server name, from whichever product list has its uuid."""
        uuid = self._uuid(name)
        results = await asyncio.gather(
            *(self._get(f"product/{product}/{uuid}") for product in (DEDICATED, VSERVER)),
            return_exceptions=True,
        )
        for product, result in zip((DEDICATED, VSERVER), results, strict=True):
            if isinstance(result, dict):
                return product, result
        for result in results:
            if isinstance(result, BaseException) and not isinstance(result, NotFound):
                raise result
        raise NotFound(f"Server {quoted(name)} was not found.", provider=self.id)

    def _uuid(self, name: str) -> str:
        uuid = name[len(self.config.prefix) + 1 :]
        if not self.owns(name) or not _UUID.match(uuid) or uuid in _RESERVED:
            raise NotFound(f"Server {quoted(name)} was not found.", provider=self.id)
        return uuid

    async def _servers(
        self,
        records: list[tuple[str, dict]],
        selection: Selection,
        calls: dict[tuple[str, str], asyncio.Future],
    ) -> list[dict]:
        """Server dicts for ``records``, making the per-server calls ``selection`` needs."""

        async def one(product: str, native: dict) -> dict:
            needed = _extras_needed(product, selection)
            values = await asyncio.gather(
                *(self._extra(kind, product, str(native.get("uuid")), calls) for kind in needed)
            )
            extras = dict(zip(needed, values, strict=True))
            return mapping.server_with_observed(product, native, self.config.prefix, extras)

        return list(await asyncio.gather(*(one(product, native) for product, native in records)))

    def _extra(
        self, kind: str, product: str, uuid: str, calls: dict[tuple[str, str], asyncio.Future]
    ) -> asyncio.Future:
        """The per-server call ``kind`` for one product, made once per adapter call."""
        key = (kind, uuid)
        if key not in calls:
            path = {
                "status": f"product/{product}/{uuid}/status",
                "network": f"product/{DEDICATED}/{uuid}/network",
                "installation": f"product/{DEDICATED}/{uuid}/installation/status",
            }[kind]
            calls[key] = asyncio.ensure_future(self._get(path))
        return calls[key]

    async def _matching(self, server_filter: ServerFilter, calls: dict) -> list[tuple[str, dict]]:
        """The products matching the filter, in the provider's order."""
        records = await self._records()
        if server_filter.is_empty():
            return records
        judged = await self._servers(records, filter_selection(server_filter), calls)
        return [
            record
            for record, server in zip(records, judged, strict=True)
            if server_matches(server, server_filter)
        ]

    async def list_servers(
        self, filter: ServerFilter, offset: int, limit: int, selection: Selection
    ) -> LazyPage[dict]:
        calls: dict = {}
        matching = await self._matching(filter, calls)
        chosen = matching[offset : offset + limit] if limit > 0 else []
        # Per-server calls (status, network) only for the entries the merged page shows.
        return LazyPage(
            chosen, len(matching), lambda records: self._servers(records, selection, calls)
        )

    async def servers_by_name(self, names: list[str], selection: Selection) -> dict[str, dict]:
        wanted = set(names)
        records = [
            record
            for record in await self._records()
            if f"{self.config.prefix}-{record[1].get('uuid')}" in wanted
        ]
        servers = await self._servers(records, selection, {})
        return {server["name"]: server for server in servers}

    async def find_servers(self, key: ServerKey, selection: Selection) -> list[dict]:
        if key.ipmiIp is not None or key.tag is not None:
            return []  # dashserv exposes no IPMI address and has no tags
        server_filter = ServerFilter(
            alias_in=(key.alias,) if key.alias is not None else None,
            ip_in=(key.ip,) if key.ip is not None else None,
        )
        calls: dict = {}
        return await self._servers(await self._matching(server_filter, calls), selection, calls)

    # --- power ----------------------------------------------------------------------

    async def perform_power_action(self, name: str, action: str, selection: Selection) -> dict:
        product, native = await self._record(name)
        upstream_action = POWER_ACTIONS[product].get(action)
        if upstream_action is None:
            kind = "dedicated servers" if product == DEDICATED else "vServers"
            raise NotSupported(
                self.id, "performServerPowerAction", f"{action} is not available for {kind}"
            )
        await self._post(f"product/{product}/{native['uuid']}/actions/{upstream_action}")
        # The product object does not change with power; per-server fields are read afresh.
        return (await self._servers([(product, native)], selection, {}))[0]

    # --- traffic --------------------------------------------------------------------

    async def _traffic_grid(self, query: TrafficQuery):
        """The matching vServers' stats summed on one grid (``mapping.traffic_grid``)."""
        calls: dict = {}
        records = [r for r in await self._matching(query.filter, calls) if r[0] == VSERVER]
        start = query.start.timestamp()
        if start >= min(query.end.timestamp(), time.time() + 1) or not records:
            return mapping.traffic_grid([], start, start, time.time())
        timeframe = mapping.timeframe_for(start, time.time())
        series = await asyncio.gather(
            *(self._stats(str(native.get("uuid")), timeframe) for _, native in records)
        )
        points = [self._objects(items) for items in series]
        # Points carry only a time of day and end at or before "now": read the clock after
        # the series arrived, or a point stamped while the request was in flight lands a day
        # early.
        now = time.time()
        return mapping.traffic_grid(points, start, min(query.end.timestamp(), now + 1), now)

    async def traffic(self, query: TrafficQuery, selection: Selection) -> dict:
        _, step, inbound, outbound = await self._traffic_grid(query)
        return {
            "aggregated": {
                "statisticsIn": traffic_statistics(inbound, step),
                "statisticsOut": traffic_statistics(outbound, step),
            }
        }

    async def traffic_series(self, query: TrafficQuery, step: int) -> TrafficSeries:
        # The stats endpoint has a fixed spacing per timeframe; when that is coarser than
        # ``step`` (a long period), the series keeps it and the gateway's grid follows.
        first, native_step, inbound, outbound = await self._traffic_grid(query)
        begins = query.start if first is None else datetime.fromtimestamp(first, UTC)
        return TrafficSeries(start=begins, step=native_step, inbound=inbound, outbound=outbound)

    async def _stats(self, uuid: str, timeframe: str) -> Any:
        path = f"product/{VSERVER}/{uuid}/stats"
        return await self._get(path, {"timeframe": timeframe}, resource="traffic")

    # --- instant delivery -----------------------------------------------------------

    async def _stock(self, stock_filter: dict, selection: Selection) -> list[dict]:
        """Every in-stock unit matching the filter, in marketplace order."""
        server_filter = ServerFilter(
            **{
                key: tuple(stock_filter[key])
                for key in ("name_in", "location_in", "region_in")
                if stock_filter.get(key) is not None
            }
        )
        models = self._objects(await self._get(f"product/{DEDICATED}/models", resource="catalog"))
        in_stock = [model for model in models if mapping.stock(model) > 0 and model.get("uuid")]
        wants_location = "location" in selection or not (
            server_filter.location_in is None and server_filter.region_in is None
        )
        locations = (
            await asyncio.gather(*(self._model_location(model) for model in in_stock))
            if wants_location
            else [None] * len(in_stock)
        )
        entries = []
        for model, place in zip(in_stock, locations, strict=True):
            for entry in mapping.instant_delivery_with_observed(model, self.config.prefix):
                if place is not None:
                    entry["location"] = dict(place)
                if server_filter.is_empty() or server_matches(entry, server_filter):
                    entries.append(entry)
        return entries

    async def _model_location(self, model: dict) -> dict[str, str]:
        """The one location a model is offered in (Unknown when the product offers several)."""
        product = model.get("product") or f"{DEDICATED}:{model.get('uuid')}"
        info = await self._get(f"manage/product/{product}", resource="catalog")
        natives = (info or {}).get("locations") if isinstance(info, dict) else None
        places = {tuple(mapping.location(n).items()) for n in natives or [] if isinstance(n, dict)}
        return dict(places.pop()) if len(places) == 1 else unknown_location(None)

    async def list_instant_delivery_servers(
        self, filter: dict, offset: int, limit: int, selection: Selection
    ) -> Page[dict]:
        entries = await self._stock(filter, selection)
        return Page(
            entries=entries[offset : offset + limit] if limit > 0 else [], total=len(entries)
        )

    async def instant_delivery_server(self, name: str, selection: Selection) -> dict:
        entries = await self._stock({"name_in": [name]}, selection)
        if not entries:
            raise NotFound(
                f"Instant delivery server {quoted(name)} was not found.", provider=self.id
            )
        return entries[0]


def _code_of(response: httpx.Response) -> str | None:
    """The message code of an error envelope, or None when the body is not one."""
    try:
        data = response.json().get("data")
    except (ValueError, AttributeError):
        return None
    return data if isinstance(data, str) else None


def _extras_needed(product: str, selection: Selection) -> list[str]:
    """The per-server calls a selection needs for one product (sorted, for stable order)."""
    needed = set()
    if "powerStatus" in selection or (product == VSERVER and "uptime" in selection):
        needed.add("status")
    if product == DEDICATED and selection.has("network.ipAddresses"):
        needed.add("network")
    if product == DEDICATED and (
        selection.has("system.os") or selection.has("system.operatingSystem")
    ):
        needed.add("installation")
    return sorted(needed)
