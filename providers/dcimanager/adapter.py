"""DCImanager backend: ISPsystem's self-hosted data-centre manager, REST API v3.

Contract: ``shared/seeds/dcimanager-api-examples.txt`` (no machine-readable spec exists).
Each installation is its own host, so there is no default ``base_url``: it is the
installation's root (``https://dci.example.com``); paths are the seed's ``/api/dci/v3/...``.

What the adapter uses:
  * ``GET /api/dci/v3/server`` (``{"list": [...]}``, no paging or filters documented): one
    call serves every listing, batch lookup and key search; filters are applied here
    (``providers.filtering.window``). Everything FleetQL shows (IPs, IPMI, location, OS,
    state, operation) is embedded in each item, so no per-server calls are needed.
  * ``GET /api/dci/v3/server/{id}`` for a single lookup and the read-back after an action.
  * ``POST /api/dci/v3/server/{id}/power_on|power_off|power_reset`` (``{"id", "task"}``).
  * ``GET /api/dci/v3/server/configuration``: instant delivery, one entry per configuration
    with ``free_server_count`` > 0, named ``<prefix>-<configuration>``.

Configuration: credentials ``session``, or ``email`` + ``password`` (login; an expired
session is renewed once per call); options ``locations`` (native location name -> FleetQL city
code, e.g. ``{"DC-2 Slough" = "LON"}``) and ``stock_location`` (city code of the free servers;
the API does not say). The general ``retries`` and ``retry_backoff`` default to 6 and 0.1 s
for this kind (``providers/dcimanager/options.py``): a suspended platform answers 503 until
it has woken up (0.1 … 3.2 s, about 6 s in all with the default jitter's ceiling).

Power actions: ON -> power_on, OFF -> power_off, RESET -> power_reset ("Reboot"). CYCLE and
SOFT are NOT_SUPPORTED: neither the seed nor ISPsystem's guide offers a power cycle or an
ACPI shutdown. Field mapping and its honest defaults: ``providers/dcimanager/mapping.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from errors import GatewayError, NotFound, NotSupported, ProviderUnavailable, quoted
from providers.base import (
    Capability,
    LazyPage,
    Page,
    Provider,
    ProviderConfig,
    ServerFilter,
    ServerKey,
)
from providers.dcimanager.client import DciClient
from providers.dcimanager.mapping import instant_delivery_with_observed, server_with_observed
from providers.dcimanager.options import DciManagerTable
from providers.filtering import server_matches, stock_filter, stock_named, window
from providers.locations import city, unknown_location
from providers.selection import Selection

__all__ = ["DciManagerProvider"]

SERVERS_PATH = "/api/dci/v3/server"
CONFIGURATION_PATH = "/api/dci/v3/server/configuration"
#: PowerAction -> the seed's "Operations with server power" endpoint.
POWER_ENDPOINTS = {"ON": "power_on", "OFF": "power_off", "RESET": "power_reset"}


class DciManagerProvider(Provider):
    """One DCImanager installation, reached with a session (configured or by login)."""

    kind = "dcimanager"
    capabilities = frozenset(
        {Capability.LIST_SERVERS, Capability.POWER_ACTION, Capability.INSTANT_DELIVERY}
    )
    options_model = DciManagerTable
    # ISPsystem's API guide: {"error": {"code", "msg", "value"}}.
    error_reason_paths = ("error.msg",)

    def __init__(self, config: ProviderConfig) -> None:
        super().__init__(config)
        options = config.options
        self._client = DciClient(config, self.http)
        self._locations = {
            name.casefold(): key for name, key in (options.get("locations") or {}).items()
        }
        stock = options.get("stock_location")
        self._stock_location = city(stock) if stock else unknown_location(None)

    def upstream_headers(self) -> dict[str, str]:
        # The session parts are added per call (``DciClient``): a login renews them.
        return {"isp-box-instance": "true"}

    async def ping(self) -> None:
        # Never cached: the health check must see the upstream as it is now.
        await self._client.get(CONFIGURATION_PATH, what="Configuration list", resource=None)

    # --- servers --------------------------------------------------------------------

    async def _all_servers(self) -> list[dict]:
        return await self._mapped(await self._server_items())

    async def _server_items(self) -> list[dict]:
        """The raw server list, sorted by id (no order is documented: pages must be stable)."""
        body = await self._client.get(SERVERS_PATH, what="Server list")
        items = _list_of(body, self.id)
        with _malformed_guard(self.id):
            return sorted(items, key=lambda item: int(item["id"]))

    async def _mapped(self, items: list[dict]) -> list[dict]:
        """Server dicts for raw list items (async: a ``LazyPage`` conversion)."""
        with _malformed_guard(self.id):
            return [
                server_with_observed(item, self.config.prefix, self._locations) for item in items
            ]

    async def _server(self, server_id: int, name: str) -> dict:
        body = await self._client.get(f"{SERVERS_PATH}/{server_id}", what=f"Server {name}")
        with _malformed_guard(self.id):
            return server_with_observed(body, self.config.prefix, self._locations)

    async def list_servers(
        self, filter: ServerFilter, offset: int, limit: int, selection: Selection
    ) -> Page[dict] | LazyPage[dict]:
        if filter.is_empty():
            # Nothing to match: map only the servers the merged page shows.
            items = await self._server_items()
            return LazyPage(items[offset : offset + limit], len(items), self._mapped)
        return window(await self._all_servers(), filter, offset, limit)

    async def list_locations(self) -> list[dict]:
        """The locations of every server, from one list call (there is no location list)."""
        return [server["location"] for server in await self._all_servers()]

    async def servers_by_name(self, names: list[str], selection: Selection) -> dict[str, dict]:
        ids = {name: self._native_id(name) for name in names}
        wanted = {name: server_id for name, server_id in ids.items() if server_id is not None}
        if len(wanted) == 1:
            # One server: the single-server endpoint is the smaller answer.
            ((name, server_id),) = wanted.items()
            try:
                return {name: await self._server(server_id, name)}
            except NotFound:
                return {}
        if not wanted:
            return {}
        by_id = {
            int(server["name"].rpartition("-")[2]): server for server in await self._all_servers()
        }
        return {name: by_id[server_id] for name, server_id in wanted.items() if server_id in by_id}

    async def find_servers(self, key: ServerKey, selection: Selection) -> list[dict]:
        key_filter = ServerFilter(
            alias_in=(key.alias,) if key.alias is not None else None,
            ip_in=(key.ip,) if key.ip is not None else None,
            ipmiIp_in=(key.ipmiIp,) if key.ipmiIp is not None else None,
            tag_value=(key.tag,) if key.tag is not None else None,
        )
        return [s for s in await self._all_servers() if server_matches(s, key_filter)]

    def _native_id(self, name: str) -> int | None:
        """The DCImanager server id in ``<prefix>-<id>``, or None for a foreign name."""
        head, _, tail = name.partition("-")
        if head.upper() != self.config.prefix.upper() or not tail.isdigit():
            return None
        if tail != str(int(tail)):
            return None  # "DCI-007" is not the name of server 7
        return int(tail)

    # --- mutations ------------------------------------------------------------------

    async def perform_power_action(self, name: str, action: str, selection: Selection) -> dict:
        endpoint = POWER_ENDPOINTS.get(action)
        if endpoint is None:
            raise NotSupported(
                self.id,
                Capability.POWER_ACTION.value,
                f"DCImanager has no {action} action (only power on, power off and reset)",
            )
        server_id = self._native_id(name)
        if server_id is None:
            raise NotFound(f"Server {name} was not found.", provider=self.id)
        path = f"{SERVERS_PATH}/{server_id}/{endpoint}"
        await self._client.post(path, {}, what=f"Server {name}")  # {"id", "task"}
        canonical = f"{self.config.prefix}-{server_id}"
        if not selection.without("name", "provider", "__typename"):
            return {"name": canonical}
        try:
            return await self._server(server_id, name)
        except GatewayError:
            raise ProviderUnavailable(
                f"Provider {quoted(self.id)} accepted the {action} action but the server could "
                "not be read back; do not repeat the action.",
                provider=self.id,
            ) from None

    # --- stock ----------------------------------------------------------------------

    async def _stock(self) -> list[dict]:
        body = await self._client.get(
            CONFIGURATION_PATH, what="Configuration list", resource="catalog"
        )
        items = _list_of(body, self.id, key="configuration")
        with _malformed_guard(self.id):
            return [
                instant_delivery_with_observed(item, self.config.prefix, self._stock_location)
                for item in items
                if int(item.get("free_server_count") or 0) > 0
            ]

    async def list_instant_delivery_servers(
        self, filter: dict, offset: int, limit: int, selection: Selection
    ) -> Page[dict]:
        return window(await self._stock(), stock_filter(filter), offset, limit)

    async def instant_delivery_server(self, name: str, selection: Selection) -> dict:
        return stock_named(await self._stock(), name, self.id)


def _list_of(body: dict, provider_id: str, key: str = "id") -> list[dict]:
    """The seed's ``{"list": [...]}`` envelope, every item a dict carrying ``key``."""
    items = body.get("list")
    if not isinstance(items, list) or not all(
        isinstance(item, dict) and key in item for item in items
    ):
        raise ProviderUnavailable(
            f"Provider {quoted(provider_id)} answered with a malformed list.", provider=provider_id
        )
    return items


@contextmanager
def _malformed_guard(provider_id: str) -> Iterator[None]:
    """Turn a payload the mapping cannot read into PROVIDER_UNAVAILABLE."""
    try:
        yield
    except (KeyError, TypeError, ValueError, AttributeError):
        raise ProviderUnavailable(
            f"Provider {quoted(provider_id)} answered with a malformed payload.",
            provider=provider_id,
        ) from None
