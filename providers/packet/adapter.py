"""Packet / Equinix Metal backend: the devices of configured projects and organizations.

Sources: ``shared/seeds/packet-rest-api.txt`` (the seed) and ``equinix-metal-openapi.yaml``
(the spec, which decides where the seed is garbled or silent). ``base_url`` is the API root:
``https://api.packet.net`` (Packet) or ``https://api.equinix.com/metal/v1`` (Equinix Metal);
paths are the same under both. Auth is the ``X-Auth-Token`` header (seed, L1-3).

Fleet: ``GET /projects/{id}/devices`` for each ``project_ids`` entry and
``GET /organizations/{id}/devices`` for each ``organization_ids`` entry, ``per_page=1000`` (the
spec's maximum), page after page until one is the last by any sign of the spec's ``Meta``: no
``next``, ``current_page`` at ``last_page``, or ``total`` devices read (``providers.paging``:
never past the last page, at most ``MAX_WALKED_PAGES``); a device listed twice (its project
and its organization) counts once. Order: sources in configuration order, each in upstream order.
Device lists embed ``facility``, ``metro``, ``plan``, ``operating_system`` and
``ip_addresses`` (seed L742-920), so no ``include`` is needed for any Server field; the only
extra calls are ``GET /projects/{id}/bgp/sessions`` (one per project, concurrent, bounded by the
provider's ``max_concurrency``) when ``network.hasBgp`` is selected. A device's project is its
``project.id`` when the list carries it, else the configured project it was listed from; for a
device listed from an organization without ``project.id``, ``GET /organizations/{id}/projects``
names the projects to ask. Ids are never read out of an ``href`` (the spec types it as a plain
string): a session names its device by a link compared whole with the device's ``id`` or
``href``. The device lists can filter only by tag among DataPacket's filters: one required
``key=value`` tag is pushed down as ``tag``; every filter is then applied on the mapped servers
(``providers.filtering.window``).
Reads are cached by the shared upstream cache as ``servers`` (devices, BGP sessions) or
``catalog`` (capacity, plans); the read of a tag read-merge-write is never cached.

Device -> Server (``providers/packet/mapping.py``):
  * ``name`` = ``<prefix>-<device id>``; ``hostname``; ``alias`` <- ``description`` ("" -> null).
  * ``location`` from ``metro.code`` or ``facility.code`` through ``METRO_CITIES`` /
    ``FACILITY_CITIES``; unknown codes are shown as given with region "Unknown".
  * ``hardware`` from ``plan.specs``: ``cpus[]`` (``count``, null when absent; ``type`` as the
    name); ``memory.total`` as ONE RAM entry of that size (Packet reports a total, not
    modules); ``drives[]`` with a size and a type of NVMe/SSD/HDD/eMMC (others are left out:
    StorageType has no UNKNOWN).
  * ``network.ipAddresses`` from ``ip_addresses`` (IPv4/IPv6 from ``address_family``;
    ``cidr`` = ``address/cidr``; IPv4 broadcast derived from network/cidr). Packet has no
    primary flag: ``isPrimary`` = the public IPv4 assigned with the device (``management``).
    ``isBgpPrefix`` = false. ``uplinkCapacity`` = the sum of ``plan.specs.nics`` speeds when
    they read like ``"10Gbps"``, else null. ``ipmi`` ip/username null, ``ddosShieldLevel``
    UNKNOWN: Packet exposes neither.
  * ``hasBgp`` = the device has a BGP session whose status reports ``up`` ("established"):
    a session of its project linking to it, or one of ``GET /devices/{id}/bgp/sessions``.
  * ``system.os.name`` <- ``operating_system.name`` ("" when absent), ``raid`` UNKNOWN.
  * ``tags``: Packet tags are strings, read as ``key=value`` (no ``=`` -> value "").
  * ``powerStatus``, ``statusV2`` from ``state`` (``mapping.DEVICE_STATES``: every state value
    of the spec), ``status`` from ``statusV2`` (``providers.statuses``). ``trafficPlan.name``,
    ``uptime``, ``billing``: null.

Mutations (one upstream write each, never retried): power ON/OFF/RESET/CYCLE ->
``POST /devices/{id}/actions`` ``{"type": power_on|power_off|reboot|reboot}`` (SOFT:
NOT_SUPPORTED, the spec's DeviceActionInput has no graceful stop); alias -> ``PUT
/devices/{id}`` ``description``; tags -> ``PUT /devices/{id}`` ``tags`` (setServerTag reads the
device first and merges), serialized per device; boot device PXE/DISK -> ``always_pxe``
true/false (other boot devices NOT_SUPPORTED).

Instant delivery: ``GET /capacity`` names the facility x plan pairs, ``POST /capacity`` checks
one server of each (the documented ``available`` boolean), ``GET /plans`` gives the hardware.
An entry is one available (facility, plan) pair, named ``<prefix>-<facility>-<plan slug>``;
no stock count is reported because the API reports none.

Not supported: account, invoices, subscriptions, support requests, reverse DNS, IPMI
password, primary IP (none in seed or spec), and traffic: neither the seed nor the spec
documents the response body of ``/devices/{id}/traffic`` or ``/bandwidth``.
"""

from __future__ import annotations

import asyncio
import weakref
from typing import Any

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
from providers.filtering import filter_selection, stock_filter, stock_named, window
from providers.locations import city, unknown_location
from providers.observed import add_observed_hardware
from providers.packet.mapping import (
    city_key,
    device_server,
    hardware_from_plan,
    links_device,
    plan_cpu_cores,
    session_is_up,
    tag_string,
    up_session_links,
    uplink_gbps,
)
from providers.packet.options import PacketTable
from providers.paging import LinkedPages, walk_linked_pages
from providers.selection import Selection

__all__ = ["PacketProvider"]

#: Spec, components.parameters.PerPage: maximum 1000 (seed: "items per page ... max 1_000").
#: (A walk stops at ``providers.paging.MAX_WALKED_PAGES``, below the spec's maximum page 100000.)
PER_PAGE = 1000

#: DataPacket PowerAction -> DeviceActionInput.type (spec). SOFT has no counterpart.
POWER_ACTIONS = {"ON": "power_on", "OFF": "power_off", "RESET": "reboot", "CYCLE": "reboot"}
#: DataPacket BootDevice -> DeviceUpdateInput.always_pxe; other boot devices have none.
BOOT_DEVICES = {"PXE": True, "DISK": False}
#: Spec, Meta: a ``next`` link object, and counts that end a walk even while it is there.
PAGES = LinkedPages(
    next="meta.next.href",
    total="meta.total",
    last_page="meta.last_page",
    current_page="meta.current_page",
)


class PacketProvider(Provider):
    """The devices of some Packet / Equinix Metal projects and organizations."""

    kind = "packet"
    capabilities = frozenset(
        {
            Capability.LIST_SERVERS,
            Capability.POWER_ACTION,
            Capability.SET_ALIAS,
            Capability.SET_BOOT_DEVICE,
            Capability.SET_TAGS,
            Capability.INSTANT_DELIVERY,
        }
    )
    options_model = PacketTable
    # Seed "HTTP status code summary" and spec Error: {"errors": [...]} or {"error": "..."}.
    error_reason_paths = ("errors.0", "error")

    def __init__(self, config: ProviderConfig) -> None:
        super().__init__(config)
        options = config.options
        self.project_ids: list[str] = list(options.get("project_ids") or [])
        self.organization_ids: list[str] = list(options.get("organization_ids") or [])
        self._tag_locks: weakref.WeakValueDictionary[str, asyncio.Lock] = (
            weakref.WeakValueDictionary()
        )

    def upstream_headers(self) -> dict[str, str]:
        """Seed L1-3: the ``X-Auth-Token`` header."""
        return {"X-Auth-Token": self.config.credentials["token"], "Accept": "application/json"}

    async def ping(self) -> None:
        # Never cached: the health check must see the upstream as it is now.
        if self.project_ids:
            await self._call("GET", f"/projects/{self.project_ids[0]}", resource=None)
        else:
            await self._call("GET", f"/organizations/{self.organization_ids[0]}", resource=None)

    # --- transport ------------------------------------------------------------------

    async def _call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        write: bool = False,
        resource: str | None = "servers",
        server: str | None = None,
        field: str | None = None,
    ) -> Any:
        """One upstream request; the JSON body (None when empty) or the transport's error.

        ``resource`` is the cache kind of a read (``None``: never cached); ``server`` names
        the server a 404 means (otherwise a 404 is a configured project or organization that
        does not exist: the provider's failure); ``field`` the input field a 422 is about.
        """
        return await self.http.call(
            method,
            path,
            write=write,
            resource=resource,
            names=f"Server {quoted(server)}" if server is not None else None,
            field=field,
            params=params,
            json=json,
        )

    def _device_id(self, name: str) -> str:
        if not self.owns(name):
            raise NotFound(f"Server {quoted(name)} was not found.", provider=self.id)
        return name[len(self.config.prefix) + 1 :]

    # --- servers --------------------------------------------------------------------

    async def _list(self, path: str, key: str, params: dict[str, Any]) -> list[dict]:
        """Every item (``key`` of each page) of one paginated list, walked to its end.

        ``meta.next`` is not trusted alone: ``total``, ``current_page`` and ``last_page`` (spec,
        Meta) end the walk too, and no page past the last is asked for.
        """

        async def page(number: int) -> Any:
            return await self._call("GET", path, params={**params, "page": number})

        return await walk_linked_pages(page, PAGES, key, self.id)

    async def _devices(self, server_filter: ServerFilter) -> list[dict]:
        """The fleet's devices, each with ``_project`` and ``_organization`` (None if unknown).

        ``_project`` is ``project.id`` when the device list carries it, else the configured
        project the device was listed from; ``_organization`` is the configured organization
        it was listed from.
        """
        params: dict[str, Any] = {"per_page": PER_PAGE}
        tag = _pushed_tag(server_filter)
        if tag is not None:
            params["tag"] = tag
        sources = [("projects", i) for i in self.project_ids]
        sources += [("organizations", i) for i in self.organization_ids]
        lists = await asyncio.gather(
            *(self._list(f"/{k}/{i}/devices", "devices", params) for k, i in sources)
        )
        seen: dict[str, dict] = {}
        for (kind, source_id), devices in zip(sources, lists, strict=True):
            for device in devices:
                if device["id"] not in seen:
                    # A copy: the decoded list may be shared with the read cache.
                    project = (device.get("project") or {}).get("id")
                    if not isinstance(project, str) or not project:
                        project = source_id if kind == "projects" else None
                    organization = source_id if kind == "organizations" else None
                    seen[device["id"]] = {
                        **device,
                        "_project": project,
                        "_organization": organization,
                    }
        return list(seen.values())

    async def _bgp_links(self, devices: list[dict]) -> set[str]:
        """Links to the devices with an established BGP session, one call per project.

        The projects are those of the devices; a device listed from an organization without
        its ``project.id`` is covered by every project of that organization.
        """
        project_ids = {d["_project"] for d in devices if d["_project"]}
        organizations = sorted({d["_organization"] for d in devices if not d["_project"]})
        listed = await asyncio.gather(
            *(
                self._list(f"/organizations/{o}/projects", "projects", {"per_page": PER_PAGE})
                for o in organizations
            )
        )
        project_ids.update(
            p["id"] for group in listed for p in group if isinstance(p.get("id"), str) and p["id"]
        )

        async def sessions(project_id: str) -> list[dict]:
            body = await self._call("GET", f"/projects/{project_id}/bgp/sessions")
            return (body or {}).get("bgp_sessions") or []

        found = await asyncio.gather(*(sessions(p) for p in sorted(project_ids)))
        return up_session_links(s for group in found for s in group)

    async def _servers(self, server_filter: ServerFilter, selection: Selection) -> list[dict]:
        return await self._mapped(await self._devices(server_filter), selection)

    async def _mapped(self, devices: list[dict], selection: Selection) -> list[dict]:
        if not selection.has("network.hasBgp"):
            return [device_server(device, self.config.prefix) for device in devices]
        links = await self._bgp_links(devices)
        return [
            device_server(device, self.config.prefix, links_device(links, device))
            for device in devices
        ]

    async def list_servers(
        self, filter: ServerFilter, offset: int, limit: int, selection: Selection
    ) -> Page[dict] | LazyPage[dict]:
        if filter.is_empty():
            # Nothing to match: map only the devices the merged page shows.
            devices = await self._devices(filter)
            return LazyPage(
                devices[offset : offset + limit],
                len(devices),
                lambda chosen: self._mapped(chosen, selection),
            )
        servers = await self._servers(filter, selection.merge(filter_selection(filter)))
        return window(servers, filter, offset, limit)

    async def servers_by_name(self, names: list[str], selection: Selection) -> dict[str, dict]:
        wanted = {name: self._device_id(name) for name in names if self.owns(name)}
        if not wanted:
            return {}
        servers = await self._servers(ServerFilter(), selection)
        by_id = {server["name"][len(self.config.prefix) + 1 :]: server for server in servers}
        return {name: by_id[i] for name, i in wanted.items() if i in by_id}

    async def find_servers(self, key: ServerKey, selection: Selection) -> list[dict]:
        if key.ipmiIp is not None:
            return []  # Packet reports no IPMI addresses.
        server_filter = ServerFilter(
            alias_in=(key.alias,) if key.alias is not None else None,
            ip_in=(key.ip,) if key.ip is not None else None,
            tag_value=(key.tag,) if key.tag is not None else None,
        )
        servers = await self._servers(
            server_filter, selection.merge(filter_selection(server_filter))
        )
        return window(servers, server_filter, 0, len(servers)).entries

    async def _server(self, name: str, device: dict | None, selection: Selection) -> dict:
        """The server as it is now: ``device`` when given (a PUT answer), else read back."""
        device_id = self._device_id(name)
        if device is None:
            device = await self._call("GET", f"/devices/{device_id}", server=name)
        if not isinstance(device, dict) or "id" not in device:
            raise ProviderUnavailable(
                f"Provider {quoted(self.id)} answered with a malformed device.", provider=self.id
            )
        has_bgp = None
        if selection.has("network.hasBgp"):
            # Every session of this endpoint is the device's own.
            body = await self._call("GET", f"/devices/{device_id}/bgp/sessions", server=name)
            has_bgp = any(session_is_up(s) for s in (body or {}).get("bgp_sessions") or [])
        return device_server(device, self.config.prefix, has_bgp)

    # --- mutations ------------------------------------------------------------------

    async def perform_power_action(self, name: str, action: str, selection: Selection) -> dict:
        if action not in POWER_ACTIONS:
            raise NotSupported(
                self.id,
                Capability.POWER_ACTION.value,
                f"Packet has no {action} action (only power_on, power_off and reboot)",
            )
        device_id = self._device_id(name)
        await self._call(
            "POST",
            f"/devices/{device_id}/actions",
            json={"type": POWER_ACTIONS[action]},
            write=True,
            server=name,
            field="action",
        )
        try:
            return await self._server(name, None, selection)
        except GatewayError:
            raise ProviderUnavailable(
                f"Provider {quoted(self.id)} accepted the power action but the server could not be "
                "read back; do not repeat the action.",
                provider=self.id,
            ) from None

    async def _update(self, name: str, body: dict, field: str) -> dict:
        return await self._call(
            "PUT",
            f"/devices/{self._device_id(name)}",
            json=body,
            write=True,
            server=name,
            field=field,
        )

    async def set_server_alias(self, name: str, alias: str | None, selection: Selection) -> dict:
        device = await self._update(name, {"description": alias or ""}, "alias")
        return await self._server(name, device, selection)

    async def set_server_boot_device(self, name: str, device: str, selection: Selection) -> dict:
        if device not in BOOT_DEVICES:
            raise NotSupported(
                self.id,
                Capability.SET_BOOT_DEVICE.value,
                f"Packet can only PXE boot or not (always_pxe), not {device}",
            )
        updated = await self._update(name, {"always_pxe": BOOT_DEVICES[device]}, "bootDevice")
        return await self._server(name, updated, selection)

    def _tag_lock(self, device_id: str) -> asyncio.Lock:
        lock = self._tag_locks.get(device_id)
        if lock is None:
            lock = self._tag_locks[device_id] = asyncio.Lock()
        return lock

    async def set_server_tag(self, name: str, key: str, value: str | None) -> bool:
        device_id = self._device_id(name)
        # Tags are one list written whole (DeviceUpdateInput.tags): read, merge, write, with
        # the device's lock held so two concurrent tag writes cannot lose one another.
        async with self._tag_lock(device_id):
            # Never cached: the read of a read-merge-write must see the current device.
            device = await self._call("GET", f"/devices/{device_id}", resource=None, server=name)
            tags = _merged_tags((device or {}).get("tags") or [], key, value)
            await self._update(name, {"tags": tags}, "key")
        return True

    async def set_server_tags(self, name: str, tags: list[tuple[str, str]]) -> bool:
        # "Tags not provided will be deleted" (DataPacket setServerTags): a plain replace.
        async with self._tag_lock(self._device_id(name)):
            await self._update(name, {"tags": [tag_string(k, v) for k, v in tags]}, "tags")
        return True

    # --- instant delivery -----------------------------------------------------------

    async def _stock(self) -> list[dict]:
        capacity, plans = await asyncio.gather(
            self._call("GET", "/capacity", resource="catalog"),
            self._call("GET", "/plans", resource="catalog"),
        )
        pairs = [
            (facility, slug)
            for facility, by_plan in ((capacity or {}).get("capacity") or {}).items()
            for slug in by_plan or {}
        ]
        if not pairs:
            return []
        # POST /capacity only checks availability (seed "Check capacity"); it changes nothing.
        checked = await self._call(
            "POST",
            "/capacity",
            resource="catalog",
            json={"servers": [{"facility": f, "plan": p, "quantity": "1"} for f, p in pairs]},
        )
        available = {
            (item.get("facility"), item.get("plan"))
            for item in (checked or {}).get("servers") or []
            if item.get("available") is True
        }
        by_slug = {plan.get("slug"): plan for plan in (plans or {}).get("plans") or []}
        return [
            _stock_entry(self.config.prefix, facility, by_slug.get(slug), slug)
            for facility, slug in pairs
            if (facility, slug) in available
        ]

    async def list_instant_delivery_servers(
        self, filter: dict, offset: int, limit: int, selection: Selection
    ) -> Page[dict]:
        return window(await self._stock(), stock_filter(filter), offset, limit)

    async def instant_delivery_server(self, name: str, selection: Selection) -> dict:
        return stock_named(await self._stock() if self.owns(name) else [], name, self.id)


def _pushed_tag(server_filter: ServerFilter) -> str | None:
    """One tag every match must carry, as the upstream ``tag`` filter, when there is one.

    A tag with an empty value may be stored as ``key`` or ``key=``, so it is not pushed.
    """
    required = list(server_filter.tag_value or [])
    if server_filter.tags_in is not None and len(server_filter.tags_in) == 1:
        required += server_filter.tags_in
    return next((f"{key}={value}" for key, value in required if value), None)


def _merged_tags(tags: list[str], key: str, value: str | None) -> list[str]:
    """``tags`` with ``key`` set to ``value`` in place (deleted when ``value`` is None)."""
    merged: list[str] = []
    placed = value is None
    for tag in tags:
        if tag.partition("=")[0] != key:
            merged.append(tag)
        elif not placed:
            merged.append(tag_string(key, value))
            placed = True
    if not placed:
        merged.append(tag_string(key, value))
    return merged


def _stock_entry(prefix: str, facility: str, plan: dict | None, slug: str) -> dict:
    key = city_key(None, facility)
    return {
        "name": f"{prefix}-{facility}-{slug}",
        "location": city(key) if key else unknown_location(facility),
        "hardware": add_observed_hardware(hardware_from_plan(plan), plan_cpu_cores(plan)),
        "uplinkCapacity": uplink_gbps(plan),
    }
