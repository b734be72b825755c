"""The provider contract: what every backend implements, and the shapes it speaks.

A provider turns upstream payloads into plain dicts shaped exactly like the GraphQL types
(``Server``, ``Invoice``, …) and fills only the fields the ``Selection`` asks for. Every
operation is optional: a backend lists the ones it implements in ``capabilities``; the
gateway refuses the rest with ``NOT_SUPPORTED`` before any upstream call.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

import httpx

from errors import NotSupported
from providers.cluster import SharedStore
from providers.http import UpstreamClient
from providers.resilience import ResiliencePolicy, UpstreamGuard
from providers.selection import Selection

if TYPE_CHECKING:  # the model builds a ProviderConfig: it imports this module
    from providers.options import ProviderTable

__all__ = [
    "Capability",
    "LazyPage",
    "Page",
    "Provider",
    "ProviderConfig",
    "ServerFilter",
    "ServerKey",
    "TrafficQuery",
    "TrafficSeries",
]

T = TypeVar("T")
U = TypeVar("U")


class Capability(StrEnum):
    """One operation of the contract; the value is the GraphQL field it serves."""

    LIST_SERVERS = "servers"
    ACCOUNT = "account"
    POWER_ACTION = "performServerPowerAction"
    SET_ALIAS = "setServerAlias"
    SET_BOOT_DEVICE = "setServerBootDevice"
    SET_PRIMARY_IP = "setServerPrimaryIp"
    CHANGE_IPMI_PASSWORD = "changeServerIpmiPassword"
    SET_TAGS = "setServerTags"
    REVERSE_DNS_READ = "reverseDnsRecord"
    REVERSE_DNS_WRITE = "setReverseDnsRecord"
    INVOICES = "invoices"
    SUBSCRIPTIONS = "subscriptions"
    SUPPORT_REQUESTS = "supportRequests"
    SUPPORT_REQUEST_WRITE = "createSupportRequest"
    TRAFFIC = "traffic"
    INSTANT_DELIVERY = "instantDeliveryServers"


@dataclass(frozen=True)
class ProviderConfig:
    """One ``[[providers]]`` table of the configuration, validated."""

    id: str
    kind: str
    base_url: str
    prefix: str
    credentials: dict[str, str] = field(repr=False)
    options: dict[str, Any] = field(default_factory=dict)
    connect_timeout: float = 5.0
    read_timeout: float = 20.0
    #: Seconds an upstream read stays cached, per resource kind; empty: no caching.
    cache_ttls: dict[str, float] = field(default_factory=dict)
    resilience: ResiliencePolicy = field(default_factory=ResiliencePolicy)


@dataclass(frozen=True)
class Page(Generic[T]):
    """A window of a provider's list plus the size of the whole filtered list."""

    entries: list[T]
    total: int

    async def head(self, count: int) -> list[T]:
        """The first ``count`` entries."""
        return self.entries[:count]

    def after(self, count: int) -> Page[T]:
        """The same page without its first ``count`` entries."""
        return Page(self.entries[count:], self.total)

    def map(self, convert: Callable[[T], U]) -> Page[U]:
        """The same page with ``convert`` applied to each entry."""
        return Page([convert(entry) for entry in self.entries], self.total)


@dataclass(frozen=True)
class LazyPage(Generic[T]):
    """A window whose upstream items become entries only when read (``head``).

    A merged page asks every provider for a window before it knows whose entries it will
    show; a provider that answers with a ``LazyPage`` maps (and makes any per-entry upstream
    call for) only the entries the page shows. ``convert`` turns a list of items into
    entries and raises the provider's own errors (malformed data) when they are read.
    """

    items: list[Any]
    total: int
    convert: Callable[[list[Any]], Awaitable[list[T]]]

    async def head(self, count: int) -> list[T]:
        """The first ``count`` entries, converted now."""
        return await self.convert(self.items[:count])

    def after(self, count: int) -> LazyPage[T]:
        """The same page without its first ``count`` items (none of them converted)."""
        return LazyPage(self.items[count:], self.total, self.convert)

    def map(self, convert: Callable[[T], U]) -> LazyPage[U]:
        """The same page with ``convert`` applied to each entry once it is read."""
        inner = self.convert

        async def converted(items: list[Any]) -> list[U]:
            return [convert(entry) for entry in await inner(items)]

        return LazyPage(self.items, self.total, converted)


@dataclass(frozen=True)
class ServerFilter:
    """DataPacket's ``ServersInput`` in plain values (enums as names, tags as pairs).

    Fields are ANDed; the values inside one field are ORed, except ``tag_key`` and
    ``tag_value`` (the server must carry all of them). ``None`` means "no condition".
    """

    name_in: tuple[str, ...] | None = None
    alias_in: tuple[str, ...] | None = None
    ip_in: tuple[str, ...] | None = None
    ipmiIp_in: tuple[str, ...] | None = None
    location_in: tuple[str, ...] | None = None
    region_in: tuple[str, ...] | None = None
    powerStatus_in: tuple[str, ...] | None = None
    serverStatusV2_in: tuple[str, ...] | None = None
    serverStatus_in: tuple[str, ...] | None = None
    tag_key: tuple[str, ...] | None = None
    tag_value: tuple[tuple[str, str], ...] | None = None
    tags_in: tuple[tuple[str, str], ...] | None = None

    def is_empty(self) -> bool:
        """True when no condition is set."""
        return all(value is None for value in vars(self).values())


@dataclass(frozen=True)
class ServerKey:
    """DataPacket's ``ServerInput`` by a non-name key: alias, ip, ipmiIp or tag."""

    alias: str | None = None
    ip: str | None = None
    ipmiIp: str | None = None
    tag: tuple[str, str] | None = None


@dataclass(frozen=True)
class TrafficQuery:
    """DataPacket's ``TrafficInput`` with the period parsed."""

    start: datetime
    end: datetime
    filter: ServerFilter


@dataclass(frozen=True)
class TrafficSeries:
    """Traffic of a provider's selected servers, summed: one rate per step, in bits per second.

    Sample ``i`` is the average rate over ``[start + i * step, start + (i + 1) * step)``.
    """

    start: datetime
    step: int
    inbound: list[float]
    outbound: list[float]


class Provider:
    """Base class of every backend adapter; subclasses override what they support.

    Example:
        ``class DataPacketProvider(Provider): kind = "datapacket"; capabilities = frozenset(...)``
    """

    kind: ClassVar[str]
    capabilities: ClassVar[frozenset[Capability]] = frozenset()
    #: The model of this kind's ``[[providers]]`` table (``providers/<kind>/options.py``).
    options_model: ClassVar[type[ProviderTable]]
    #: Where this provider's error bodies keep their reason, tried in order
    #: (``errors.upstream_reason``: ``"errors.0"``, ``"error.msg"``, ``"detail"``).
    error_reason_paths: ClassVar[tuple[str, ...]] = ()

    def __init__(self, config: ProviderConfig) -> None:
        self.config = config
        self.id = config.id
        #: Breaker, retry budget and outbound limits of every upstream call.
        self.guard = UpstreamGuard(config.resilience)
        #: The upstream transport (``providers.http``); it closes with the provider.
        self.http = UpstreamClient(
            config,
            guard=self.guard,
            headers=self.upstream_headers(),
            reason_paths=self.error_reason_paths,
            invalid_field=self.invalid_field,
            retry_when=self.retry_when,
        )

    # --- what the transport asks of the kind ----------------------------------------

    def upstream_headers(self) -> dict[str, str]:
        """Headers of every upstream request (auth); none by default."""
        return {}

    def invalid_field(self, response: httpx.Response) -> str | None:
        """The input field an upstream refusal as invalid is about, read from its answer."""
        return None

    def retry_when(self, response: httpx.Response) -> bool:
        """Whether an answer the general rule does not retry means "try again" (reads only)."""
        return False

    def supports(self, capability: Capability) -> bool:
        """Whether this backend implements ``capability``."""
        return capability in self.capabilities

    def require(self, capability: Capability, operation: str | None = None) -> None:
        """Raise ``NOT_SUPPORTED`` naming this provider and ``operation`` (the GraphQL field,
        by default the capability's own) unless it implements ``capability``."""
        if capability not in self.capabilities:
            raise NotSupported(self.id, operation or capability.value)

    def owns(self, server_name: str) -> bool:
        """Whether a server name belongs to this provider instance (by its prefix)."""
        return server_name.upper().startswith(f"{self.config.prefix.upper()}-")

    def _unsupported(self, capability: Capability) -> NotSupported:
        return NotSupported(self.id, capability.value)

    # --- lifecycle ------------------------------------------------------------------

    @property
    def account_digest(self) -> str:
        """A SHA-256 digest naming the upstream account (kind, URL, credentials): the name of
        what replicas share for it, which never holds the credentials themselves."""
        digest = hashlib.sha256(f"{self.kind}\0{self.config.base_url}".encode())
        for name, value in sorted(self.config.credentials.items()):
            digest.update(f"\0{name}\0{value}".encode())
        return digest.hexdigest()

    def share(self, store: SharedStore) -> None:
        """Share this instance's state with the other replicas through ``store``: its read
        cache, its account's outbound rate and open circuit (a kind may share more, e.g.
        Mammoth's action ids)."""
        self.http.share(store)
        self.guard.share(store, self.account_digest)

    async def start(self) -> None:
        """Open pooled upstream connections."""

    async def close(self) -> None:
        """Close upstream connections."""
        await self.http.close()

    async def ping(self) -> None:
        """Make the cheapest authenticated upstream call; raise if it fails."""
        raise NotImplementedError

    # --- servers --------------------------------------------------------------------

    async def list_servers(
        self, filter: ServerFilter, offset: int, limit: int, selection: Selection
    ) -> Page[dict] | LazyPage[dict]:
        """A window of the provider's servers matching ``filter``, in its stable order."""
        raise self._unsupported(Capability.LIST_SERVERS)

    async def servers_by_name(self, names: list[str], selection: Selection) -> dict[str, dict]:
        """Batch lookup by name; names that do not exist are absent from the result."""
        raise self._unsupported(Capability.LIST_SERVERS)

    async def find_servers(self, key: ServerKey, selection: Selection) -> list[dict]:
        """All servers matching a non-name key (alias, ip, ipmiIp or tag)."""
        raise self._unsupported(Capability.LIST_SERVERS)

    async def list_locations(self) -> list[dict]:
        """The locations of this provider's servers; backends with a catalogue override it."""
        selection = Selection.of({"location": {"name": {}, "region": {}, "short": {}}})
        total = (await self.list_servers(ServerFilter(), 0, 0, selection)).total
        page = await self.list_servers(ServerFilter(), 0, total, selection)
        return [server["location"] for server in await page.head(total)]

    # --- server mutations (each returns the server as it is now) --------------------

    async def perform_power_action(self, name: str, action: str, selection: Selection) -> dict:
        raise self._unsupported(Capability.POWER_ACTION)

    async def power_action_progress(self, name: str) -> dict | None:
        """The latest power action sent to ``name`` and its progress; ``None`` if untracked.

        Only backends whose actions are asynchronous with an id (Mammoth) track them.
        """
        return None

    async def set_server_alias(self, name: str, alias: str | None, selection: Selection) -> dict:
        raise self._unsupported(Capability.SET_ALIAS)

    async def set_server_boot_device(self, name: str, device: str, selection: Selection) -> dict:
        raise self._unsupported(Capability.SET_BOOT_DEVICE)

    async def set_server_primary_ip(self, name: str, ip: str, selection: Selection) -> dict:
        raise self._unsupported(Capability.SET_PRIMARY_IP)

    async def change_ipmi_password(self, name: str, password: str, selection: Selection) -> dict:
        raise self._unsupported(Capability.CHANGE_IPMI_PASSWORD)

    async def set_server_tag(self, name: str, key: str, value: str | None) -> bool:
        raise NotSupported(self.id, "setServerTag")

    async def set_server_tags(self, name: str, tags: list[tuple[str, str]]) -> bool:
        raise self._unsupported(Capability.SET_TAGS)

    # --- reverse DNS ----------------------------------------------------------------

    async def reverse_dns_record(self, ip: str, selection: Selection) -> dict:
        raise self._unsupported(Capability.REVERSE_DNS_READ)

    async def set_reverse_dns_record(
        self, ip: str, hostname: str | None, selection: Selection
    ) -> dict:
        raise self._unsupported(Capability.REVERSE_DNS_WRITE)

    # --- account and billing --------------------------------------------------------

    async def account(self, selection: Selection) -> dict:
        raise self._unsupported(Capability.ACCOUNT)

    async def list_invoices(
        self, filter: dict, offset: int, limit: int, selection: Selection
    ) -> Page[dict]:
        raise self._unsupported(Capability.INVOICES)

    async def invoice(self, number: str, selection: Selection) -> dict:
        raise self._unsupported(Capability.INVOICES)

    async def list_subscriptions(
        self, filter: dict, offset: int, limit: int, selection: Selection
    ) -> Page[dict]:
        raise self._unsupported(Capability.SUBSCRIPTIONS)

    async def subscription(self, name: str, selection: Selection) -> dict:
        raise self._unsupported(Capability.SUBSCRIPTIONS)

    # --- support --------------------------------------------------------------------

    async def list_support_requests(self, filter: dict, selection: Selection) -> list[dict]:
        """Every support request matching ``filter`` (the API answers lists without totals)."""
        raise self._unsupported(Capability.SUPPORT_REQUESTS)

    async def support_request(self, request_id: int, selection: Selection) -> dict:
        raise self._unsupported(Capability.SUPPORT_REQUESTS)

    async def create_support_request(self, request: dict) -> bool:
        raise self._unsupported(Capability.SUPPORT_REQUEST_WRITE)

    async def support_request_reply(self, request_id: int, message: str) -> bool:
        raise NotSupported(self.id, "supportRequestReply")

    # --- traffic and stock ----------------------------------------------------------

    async def traffic(self, query: TrafficQuery, selection: Selection) -> dict:
        """``Traffic`` as the provider aggregates it (used when it is the only provider)."""
        raise self._unsupported(Capability.TRAFFIC)

    async def traffic_series(self, query: TrafficQuery, step: int) -> TrafficSeries:
        """The summed rate series, at ``step`` seconds or finer (to combine providers exactly)."""
        raise self._unsupported(Capability.TRAFFIC)

    async def list_instant_delivery_servers(
        self, filter: dict, offset: int, limit: int, selection: Selection
    ) -> Page[dict]:
        raise self._unsupported(Capability.INSTANT_DELIVERY)

    async def instant_delivery_server(self, name: str, selection: Selection) -> dict:
        raise self._unsupported(Capability.INSTANT_DELIVERY)
