"""Mammoth Cloud backend: the BinaryLane-platform REST API at ``https://api.mammoth.com.au/v2``.

Sources: the seed (``mammoth-cloud-api.txt``, v0.24.3) and the platform's official spec
(``binarylane-openapi.json``, v0.35.1) for every path, nested object and enum the seed's
rendering collapsed. Payload -> dict mapping lives in ``mapping.py`` (its docstring lists every
field Mammoth cannot fill and the representation chosen).

Calls (``Authorization: Bearer <token>``; lists walk ``page``/``per_page`` following
``links.pages.next`` until ``meta.total`` items are read, never past the pages ``total`` implies
and at most ``providers.paging.MAX_WALKED_PAGES``):
  * servers: ``GET /servers`` (the only filter upstream is ``hostname``, so every ServersInput
    filter is applied here after reading every page); up to ``LOOKUP_BY_ID_MAX`` names are read
    with ``GET /servers/{id}`` instead, concurrently under the provider's ``max_concurrency``.
    ``trafficPlan`` adds one ``GET /data_usages/current`` walk, only when selected.
  * power: ``POST /servers/{id}/actions`` with ``{"type": ...}`` (the spec documents each type
    as ``/servers/{server_id}/actions#PowerOn``, a documentation device for this one path), then
    ``GET /servers/{id}`` for the answer. The action is asynchronous; its id is kept per server
    (bounded, ``ActionLog``) and ``power_action_progress`` reads it back.
  * reverse DNS: read from ``networks.v4[].reverse_name`` (spec ``Network``); written with the
    ``change_reverse_name`` action, IPv4 only. FleetQL hostnames end with a dot (DataPacket's
    rule); Mammoth's ``reverse_name`` is sent and read without it.
  * invoices: ``GET /customers/my/invoices`` (all pages; filters applied here). The single
    invoice endpoint takes the numeric ``invoice_id``, while ``InvoiceInput`` carries the
    invoice number, so ``invoice`` searches the list.
  * traffic: ``GET /samplesets/{id}`` per selected server (concurrent). Alone, at the
    finest ``data_interval`` that keeps a server's window within one page of 200 samples; as a
    series to combine with other providers, at the coarsest interval not coarser than the step.
  * stock: ``GET /sizes`` x ``GET /regions``: a size is offered where it is available, listed
    and not in ``regions_out_of_stock`` (no stock counts are invented).
  * account: ``GET /account`` (also the health ping).

Reads name their cache class for the gateway's read cache: ``servers`` (servers, actions),
``billing`` (account, invoices), ``traffic`` (data usages, sample sets), ``catalog`` (sizes,
regions); the health ping is never cached. A successful action evicts the instance's cache.

Errors: the transport's table (``providers.http.status_error``; problem-details bodies are
never echoed, a refused write carries their ``detail``). A 404 is NOT_FOUND for every path
here, and a refusal as invalid names its ``field`` from the body's ``errors`` keys where they
map to an input field (``invalid_field``).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import httpx

from errors import (
    GatewayError,
    NotFound,
    NotSupported,
    ProviderUnavailable,
    ValidationFailed,
    quoted,
)
from providers.base import (
    Capability,
    LazyPage,
    Page,
    Provider,
    ProviderConfig,
    ServerFilter,
    ServerKey,
    TrafficQuery,
    TrafficSeries,
)
from providers.cluster import SharedStore, StoreUnavailable
from providers.filtering import server_matches, stock_filter, stock_named, window
from providers.mammoth import mapping
from providers.mammoth.options import MAX_PER_PAGE, MammothTable
from providers.paging import LinkedPages, walk_linked_pages
from providers.selection import Selection

__all__ = ["ActionLog", "MammothProvider"]

LOOKUP_BY_ID_MAX = 10
ACTION_LOG_SIZE = 1024
#: Seconds a shared action id is kept in Redis (the progress of a day-old action is history).
ACTION_TTL = 24 * 3600

#: PowerAction -> server action ``type``. IPMI RESET is a hard reset; Mammoth has no reset, and
#: ``reboot`` is an orderly restart, so RESET is the hard ``power_cycle`` like CYCLE.
POWER_TYPES = {
    "ON": "power_on",
    "OFF": "power_off",
    "SOFT": "shutdown",
    "CYCLE": "power_cycle",
    "RESET": "power_cycle",
}
#: Upstream validation-error keys -> the GraphQL input field they concern.
_FIELDS = {"ipv4_address": "ip", "reverse_name": "hostname", "type": "action"}
#: ``data_interval`` values (spec ``DataInterval``) and their seconds, finest first.
_INTERVALS = [
    ("five-minute", 300),
    ("half-hour", 1800),
    ("four-hour", 14400),
    ("day", 86400),
    ("week", 604800),
]
_MAX_TRAFFIC_SECONDS = 366 * 86400  # spec: end "at most 1 year after start"
#: Seed, every list: ``links.pages.next`` and ``meta.total`` (always there).
PAGES = LinkedPages(next="links.pages.next", total="meta.total", total_required=True)


class ActionLog:
    """The latest action id per server, bounded: the least recently touched server is dropped.

    ``share`` keeps them in Redis as well, one key per (account, server) expiring after
    ``ACTION_TTL``, read first by ``latest``: an action sent through any replica is known to
    all. While Redis does not answer, this replica's own ids are used.
    """

    def __init__(self, size: int = ACTION_LOG_SIZE) -> None:
        self.size = size
        self._ids: OrderedDict[int, int] = OrderedDict()
        self._store: SharedStore | None = None
        self._account = ""

    def share(self, store: SharedStore, account: str) -> None:
        """Keep the ids in ``store`` too, under ``account`` (a digest, never a credential)."""
        self._store, self._account = store, account

    async def remember(self, server_id: int, action_id: int) -> None:
        """Keep ``action_id`` as the latest action of ``server_id``."""
        self._ids[server_id] = action_id
        self._ids.move_to_end(server_id)
        while len(self._ids) > self.size:
            self._ids.popitem(last=False)
        if (store := self._store) is not None:
            key = self._key(store, server_id)
            with contextlib.suppress(StoreUnavailable):  # kept here; this replica knows it
                await store.attempt(
                    "power_action_write", lambda redis: redis.set(key, action_id, ex=ACTION_TTL)
                )

    async def latest(self, server_id: int) -> int | None:
        """The latest kept action id of a server, if any (another replica's included)."""
        if (store := self._store) is not None:
            key = self._key(store, server_id)
            try:
                shared = await store.attempt("power_action_read", lambda redis: redis.get(key))
            except StoreUnavailable:
                shared = None
            if shared is not None:
                return int(shared)
        return self._ids.get(server_id)

    def _key(self, store: SharedStore, server_id: int) -> str:
        return store.key("mammoth-action", self._account, str(server_id))

    def __len__(self) -> int:
        return len(self._ids)


class MammothProvider(Provider):
    """A Mammoth Cloud account reached through its REST API with a Bearer token."""

    kind = "mammoth"
    capabilities = frozenset(
        {
            Capability.LIST_SERVERS,
            Capability.ACCOUNT,
            Capability.POWER_ACTION,
            Capability.REVERSE_DNS_READ,
            Capability.REVERSE_DNS_WRITE,
            Capability.INVOICES,
            Capability.TRAFFIC,
            Capability.INSTANT_DELIVERY,
        }
    )
    options_model = MammothTable
    # Problem details (seed: "type", "title", "status", "detail", "errors"), never echoed whole.
    error_reason_paths = ("detail", "title")

    def __init__(self, config: ProviderConfig) -> None:
        super().__init__(config)
        self._per_page = int(config.options.get("per_page", MAX_PER_PAGE))
        self.actions = ActionLog()

    def upstream_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.config.credentials['token']}"}

    def share(self, store: SharedStore) -> None:
        """The guard's state and the power-action ids (``ActionLog``)."""
        super().share(store)
        self.actions.share(store, self.account_digest)

    def invalid_field(self, response: httpx.Response) -> str | None:
        """The input field of the first ``errors`` key (ValidationProblemDetails) it maps to."""
        try:
            errors = response.json().get("errors")
        except (ValueError, AttributeError):
            return None
        keys = [key for key in errors or {} if key in _FIELDS] if isinstance(errors, dict) else []
        return _FIELDS[keys[0]] if keys else None

    # --- transport --------------------------------------------------------------------

    async def _request(
        self,
        method: str,
        path: str,
        *,
        what: str = "The requested resource",
        write: bool = False,
        resource: str | None = "servers",
        compact: Callable[[Any], Any] | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """One upstream call; its JSON object, or the transport's error (a 404 is ``what``).

        ``resource`` is the cache class of a read (servers, billing, traffic, catalog; None:
        never cached); ``compact`` trims a large body once (``UpstreamClient.decode_json``).
        """
        body = await self.http.call(
            method, path, write=write, resource=resource, names=what, compact=compact, **kwargs
        )
        if not isinstance(body, dict):
            raise self._malformed()
        return body

    def _malformed(self) -> ProviderUnavailable:
        return ProviderUnavailable(
            f"Provider {quoted(self.id)} answered with an unexpected payload.", provider=self.id
        )

    @contextmanager
    def _reading(self) -> Iterator[None]:
        """Turn a payload that does not fit the spec into PROVIDER_UNAVAILABLE."""
        try:
            yield
        except (KeyError, TypeError, ValueError, AttributeError):
            raise self._malformed() from None

    async def _collect(
        self,
        path: str,
        key: str,
        params: dict | None = None,
        resource: str = "servers",
        compact: Callable[[Any], Any] | None = None,
    ) -> list[dict]:
        """Every item of a paginated list, walked to its end (``paging.walk_linked_pages``).

        A page is the last when ``links.pages.next`` is absent or ``meta.total`` items are read;
        ``total`` and the first page's size bound the pages asked for, so an upstream that keeps
        linking a next page cannot make the walk go on.
        """

        async def page(number: int) -> dict[str, Any]:
            query = {**(params or {}), "page": number, "per_page": self._per_page}
            return await self._request(
                "GET", path, params=query, resource=resource, compact=compact
            )

        return await walk_linked_pages(page, PAGES, key, self.id)

    async def ping(self) -> None:
        # Never cached: the health check must see the upstream as it is now.
        await self._request("GET", "/account", resource=None)

    # --- servers ------------------------------------------------------------------------

    def _server_id(self, name: str) -> int | None:
        prefix, _, native = name.partition("-")
        if prefix.upper() != self.config.prefix.upper() or not native.isdigit():
            return None
        return int(native)

    async def _server_payload(self, server_id: int, name: str) -> dict:
        body = await self._request("GET", f"/servers/{server_id}", what=f"Server {quoted(name)}")
        with self._reading():
            return body["server"]

    async def _payloads_by_id(self, ids: list[int]) -> list[dict]:
        """``GET /servers/{id}`` for each id, concurrently; ids that do not exist are skipped."""

        async def one(server_id: int) -> dict | None:
            try:
                return await self._server_payload(server_id, str(server_id))
            except NotFound:
                return None

        found = await asyncio.gather(*(one(i) for i in sorted(set(ids))))
        return [payload for payload in found if payload is not None]

    async def _payloads(self, server_filter: ServerFilter) -> list[dict]:
        """Upstream servers that may match: by id for a few names, else every page."""
        if server_filter.name_in is not None and len(server_filter.name_in) <= LOOKUP_BY_ID_MAX:
            ids = [self._server_id(name) for name in server_filter.name_in]
            return await self._payloads_by_id([i for i in ids if i is not None])
        return await self._collect("/servers", "servers")

    async def _usages(self) -> dict[int, dict]:
        usages = await self._collect("/data_usages/current", "data_usages", resource="traffic")
        with self._reading():
            return {int(usage["server_id"]): usage for usage in usages}

    async def _usage(self, server_id: int) -> dict | None:
        try:
            body = await self._request(
                "GET", f"/data_usages/{server_id}/current", resource="traffic"
            )
        except NotFound:
            return None
        return body.get("data_usage")

    def _map_servers(self, payloads: list[dict]) -> list[dict]:
        with self._reading():
            return [
                mapping.server_with_observed(payload, self.config.prefix) for payload in payloads
            ]

    async def _with_plans(
        self, servers: list[dict], payloads: list[dict], selection: Selection
    ) -> list[dict]:
        """Add ``trafficPlan`` from the data usages, only when it is selected."""
        if "trafficPlan" not in selection or not servers:
            return servers
        with self._reading():
            ids = [int(payload["id"]) for payload in payloads]
        if len(ids) == 1:
            usages = {ids[0]: await self._usage(ids[0])}
        else:
            usages = await self._usages()
        for server, server_id in zip(servers, ids, strict=True):
            server["trafficPlan"] = mapping.traffic_plan(usages.get(server_id))
        return servers

    async def list_servers(
        self, filter: ServerFilter, offset: int, limit: int, selection: Selection
    ) -> LazyPage[dict]:
        payloads = await self._payloads(filter)
        if filter.is_empty():
            # Nothing to match: map only the servers the merged page shows.
            async def mapped(chosen: list[dict]) -> list[dict]:
                return await self._with_plans(self._map_servers(chosen), chosen, selection)

            return LazyPage(payloads[offset : offset + limit], len(payloads), mapped)
        servers = self._map_servers(payloads)
        page = window(servers, filter, offset, limit)
        by_name = {
            server["name"]: payload for server, payload in zip(servers, payloads, strict=True)
        }

        async def planned(entries: list[dict]) -> list[dict]:
            chosen = [by_name[server["name"]] for server in entries]
            return await self._with_plans(entries, chosen, selection)

        return LazyPage(page.entries, page.total, planned)

    async def servers_by_name(self, names: list[str], selection: Selection) -> dict[str, dict]:
        wanted = {name: self._server_id(name) for name in names}
        ids = [server_id for server_id in wanted.values() if server_id is not None]
        if len(set(ids)) <= LOOKUP_BY_ID_MAX:
            payloads = await self._payloads_by_id(ids)
        else:
            payloads = [p for p in await self._collect("/servers", "servers") if p["id"] in ids]
        servers = await self._with_plans(self._map_servers(payloads), payloads, selection)
        by_id = {
            int(payload["id"]): server for payload, server in zip(payloads, servers, strict=True)
        }
        return {name: by_id[i] for name, i in wanted.items() if i in by_id}

    async def find_servers(self, key: ServerKey, selection: Selection) -> list[dict]:
        if key.ip is None:
            return []  # Mammoth has no aliases, IPMI or tags: nothing can match.
        page = await self.list_servers(ServerFilter(ip_in=(key.ip,)), 0, 10_000, selection)
        return await page.head(page.total)

    async def list_locations(self) -> list[dict]:
        """The locations of this account's servers, from one walk of ``GET /servers``."""
        payloads = await self._collect("/servers", "servers")
        with self._reading():
            return [mapping.location(payload.get("region")) for payload in payloads]

    # --- mutations ----------------------------------------------------------------------

    async def _action(self, server_id: int, name: str, body: dict) -> dict:
        """POST one server action (never retried) and return the accepted Action."""
        answer = await self._request(
            "POST",
            f"/servers/{server_id}/actions",
            what=f"Server {quoted(name)}",
            write=True,
            json=body,
        )
        with self._reading():
            return answer["action"]

    async def perform_power_action(self, name: str, action: str, selection: Selection) -> dict:
        kind = POWER_TYPES.get(action)
        if kind is None:
            raise NotSupported(self.id, "performServerPowerAction", f"no {action} action")
        server_id = self._server_id(name)
        if server_id is None:
            raise NotFound(f"Server {quoted(name)} was not found.", provider=self.id)
        accepted = await self._action(server_id, name, {"type": kind})
        with self._reading():
            action_id = int(accepted["id"])
        await self.actions.remember(server_id, action_id)
        try:
            payload = await self._server_payload(server_id, name)
        except GatewayError:
            raise ProviderUnavailable(
                f"Provider {quoted(self.id)} accepted the power action (action {accepted['id']}) "
                "but the server could not be read back.",
                provider=self.id,
            ) from None
        return (await self._with_plans(self._map_servers([payload]), [payload], selection))[0]

    async def power_action_progress(self, name: str) -> dict | None:
        """The latest power action of a server as ``{id, type, status, startedAt, completedAt}``.

        ``None`` when this gateway has not acted on the server (or has forgotten it).
        """
        server_id = self._server_id(name)
        action_id = await self.actions.latest(server_id) if server_id is not None else None
        if action_id is None:
            return None
        body = await self._request(
            "GET", f"/servers/{server_id}/actions/{action_id}", what=f"Action {action_id}"
        )
        with self._reading():
            action = body["action"]
            completed = action.get("completed_at")
            return {
                "id": str(action["id"]),
                "type": action["type"],
                "status": action["status"],
                "startedAt": mapping.timestamp(action["started_at"]),
                "completedAt": mapping.timestamp(completed) if completed else None,
            }

    # --- reverse DNS ----------------------------------------------------------------------

    async def _holder(self, ip: str) -> tuple[dict, dict, str | None]:
        """(server payload, IpAddress dict, reverse name) of the server holding ``ip``."""
        for payload in await self._collect("/servers", "servers"):
            with self._reading():
                names = mapping.reverse_names(payload)
                if ip in names:
                    address = next(a for a in mapping.ip_addresses(payload) if a["ip"] == ip)
                    return payload, address, names[ip]
        raise NotFound(f"IP {quoted(ip)} was not found.", provider=self.id)

    async def reverse_dns_record(self, ip: str, selection: Selection) -> dict:
        _, address, reverse_name = await self._holder(ip)
        return {"ip": address, "hostname": f"{reverse_name.rstrip('.')}." if reverse_name else None}

    async def set_reverse_dns_record(
        self, ip: str, hostname: str | None, selection: Selection
    ) -> dict:
        try:
            version = ipaddress.ip_address(ip).version
        except ValueError:
            raise ValidationFailed(f"{quoted(ip)} is not an IP address.", field="ip") from None
        if version != 4:
            raise NotSupported(
                self.id, "setReverseDnsRecord", "Mammoth sets PTR records for IPv4 addresses only"
            )
        payload, address, _ = await self._holder(ip)
        name = f"{self.config.prefix}-{payload['id']}"
        body = {
            "type": "change_reverse_name",
            "ipv4_address": ip,
            "reverse_name": hostname.rstrip(".") if hostname else None,
        }
        await self._action(int(payload["id"]), name, body)
        return {"ip": address}

    # --- account and billing ----------------------------------------------------------------

    async def account(self, selection: Selection) -> dict:
        body = await self._request("GET", "/account", resource="billing")
        with self._reading():
            return mapping.account(body["account"])

    async def _invoices(self) -> list[dict]:
        payloads = await self._collect("/customers/my/invoices", "invoices", resource="billing")
        with self._reading():
            return [mapping.invoice(payload) for payload in payloads]

    async def list_invoices(
        self, filter: dict, offset: int, limit: int, selection: Selection
    ) -> Page[dict]:
        currencies = filter.get("currency_in")
        if currencies is not None and "AUD" not in [str(c) for c in currencies]:
            return Page([], 0)  # Mammoth bills in AUD only: nothing to ask upstream.
        numbers, statuses = filter.get("invoiceNumber_in"), filter.get("paymentStatus_in")
        invoices = [
            invoice
            for invoice in await self._invoices()
            if (numbers is None or invoice["invoiceNumber"] in numbers)
            and (statuses is None or invoice["payment"]["status"] in [str(s) for s in statuses])
        ]
        return Page(invoices[offset : offset + limit], len(invoices))

    async def invoice(self, number: str, selection: Selection) -> dict:
        for invoice in await self._invoices():
            if invoice["invoiceNumber"] == number:
                return invoice
        raise NotFound(f"Invoice {quoted(number)} was not found.", provider=self.id)

    # --- traffic and stock ------------------------------------------------------------------

    async def _sample_sets(self, query: TrafficQuery, interval: str) -> list[dict]:
        """Every sample set of the servers matching the query's filter (one walk per server)."""
        if (query.end - query.start).total_seconds() > _MAX_TRAFFIC_SECONDS:
            raise ValidationFailed(
                f"Provider {quoted(self.id)} keeps traffic samples for windows of at most a year.",
                provider=self.id,
                field="to",
            )
        payloads = await self._payloads(query.filter)
        servers = self._map_servers(payloads)
        ids = [
            int(payload["id"])
            for payload, server in zip(payloads, servers, strict=True)
            if server_matches(server, query.filter)
        ]
        params = {"data_interval": interval, "start": _iso(query.start), "end": _iso(query.end)}
        lists = await asyncio.gather(
            *(
                self._collect(
                    f"/samplesets/{i}",
                    "sample_sets",
                    params,
                    "traffic",
                    mapping.compact_sample_sets,
                )
                for i in ids
            )
        )
        return [sample_set for sets in lists for sample_set in sets]

    async def traffic(self, query: TrafficQuery, selection: Selection) -> dict:
        # The finest interval that keeps one server's window within one page of samples.
        seconds = (query.end - query.start).total_seconds()
        interval = next((n for n, s in _INTERVALS if seconds / s <= MAX_PER_PAGE), "week")
        sample_sets = await self._sample_sets(query, interval)
        with self._reading():
            return {"aggregated": mapping.aggregate_traffic(sample_sets, query.start, query.end)}

    async def traffic_series(self, query: TrafficQuery, step: int) -> TrafficSeries:
        # The coarsest spec DataInterval not coarser than ``step`` (the contract: "or finer").
        interval, seconds = next(
            ((n, s) for n, s in reversed(_INTERVALS) if s <= step), _INTERVALS[0]
        )
        sample_sets = await self._sample_sets(query, interval)
        with self._reading():
            first, inbound, outbound = mapping.traffic_series(
                sample_sets, query.start, query.end, seconds
            )
        return TrafficSeries(start=first, step=seconds, inbound=inbound, outbound=outbound)

    async def _stock(self) -> list[dict]:
        sizes, regions = await asyncio.gather(
            self._collect("/sizes", "sizes", resource="catalog"),
            self._collect("/regions", "regions", resource="catalog"),
        )
        with self._reading():
            return [
                mapping.instant_delivery_with_observed(size, slug, self.config.prefix)
                for size in sizes
                for slug in mapping.offered_regions(size, regions)
            ]

    async def list_instant_delivery_servers(
        self, filter: dict, offset: int, limit: int, selection: Selection
    ) -> Page[dict]:
        return window(await self._stock(), stock_filter(filter), offset, limit)

    async def instant_delivery_server(self, name: str, selection: Selection) -> dict:
        return stock_named(await self._stock(), name, self.id)


def _iso(value: datetime) -> str:
    # RFC 3339 (the spec's date-time): a four-digit year, which strftime("%Y") does not promise.
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="seconds") + "Z"
