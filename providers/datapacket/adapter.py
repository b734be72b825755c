"""DataPacket backend: speaks DataPacket's own GraphQL API, so results need no reshaping.

The adapter forwards the client's selection (minus the gateway-only ``provider`` field) as
the upstream selection, so it asks only for what the client asked for, and it pushes every
``ServersInput`` filter down. Upstream error codes that mean the same thing in FleetQL are
kept; the rest become ``PROVIDER_UNAVAILABLE``.

Every filter is forwarded through ``upstream_filter``: a value DataPacket cannot hold (a member
FleetQL added to one of DataPacket's enums, such as ``Currency.AUD``, or a server name that is
not ``DP-…``) matches nothing here and is never sent, since DataPacket's API rejects such enum
values; a filter left with none of its values matches nothing and makes no upstream call.
"""

from __future__ import annotations

import asyncio
import math
from datetime import timedelta
from typing import Any

from errors import (
    GatewayError,
    NotFound,
    ProviderUnavailable,
    ReverseDnsApiNotAvailable,
    ValidationFailed,
    quoted,
    refused_as_invalid,
    upstream_reason,
)
from providers.base import (
    Capability,
    Page,
    Provider,
    ServerFilter,
    ServerKey,
    TrafficQuery,
    TrafficSeries,
)
from providers.datapacket.options import DataPacketTable
from providers.datetimes import format_datetime
from providers.http import refused
from providers.paging import PageFacts, pages_for_window, walk_pages
from providers.selection import Selection
from providers.traffic import traffic_statistics

__all__ = ["DataPacketProvider"]

MAX_PAGE_SIZE = 50  # seed, "Pagination": the maximum number of results per page is 50

#: Upstream codes passed through as the same FleetQL error (message kept, provider named).
_PASSED_THROUGH: dict[str, type[GatewayError]] = {
    "NOT_FOUND": NotFound,
    "VALIDATION_FAILED": ValidationFailed,
    "REVERSE_DNS_API_NOT_AVAILABLE": ReverseDnsApiNotAvailable,
}


#: Fields only the gateway serves (README "Compatibility"); their resolvers read ``name``,
#: which every Server selection holds (``resolvers.selection.IDENTITY``).
GATEWAY_ONLY_FIELDS = frozenset({"provider", "powerAction"})


def render_selection(selection: Selection) -> str:
    """GraphQL text for a selection, without the gateway-only fields."""
    parts: list[str] = []
    for field_name in selection:
        if field_name.startswith("__") or field_name in GATEWAY_ONLY_FIELDS:
            continue
        sub = selection.get(field_name)
        parts.append(f"{field_name} {{ {render_selection(sub)} }}" if sub else field_name)
    return " ".join(parts) or "__typename"


def server_filter_variables(server_filter: ServerFilter) -> dict[str, Any]:
    """``ServersInput`` variables; DataPacket filters on every field natively."""
    values = {}
    for name, value in vars(server_filter).items():
        if value is None:
            continue
        if name in ("tag_value", "tags_in"):
            value = [{"key": key, "value": tag_value} for key, tag_value in value]
        values[name] = list(value)
    return values


#: The values each enum-typed filter field accepts in DataPacket's own schema
#: (``schema/datapacket.graphql``), by input type. FleetQL's schema adds members
#: to some of these enums (README "Compatibility"); DataPacket refuses them and holds none.
#: A test checks this table against both schemas.
_CURRENCIES = frozenset({"EUR", "GBP", "USD"})
UPSTREAM_ENUM_VALUES: dict[str, dict[str, frozenset[str]]] = {
    "ServersInput": {
        "powerStatus_in": frozenset({"OFF", "ON", "UNKNOWN"}),
        "serverStatusV2_in": frozenset(
            {"ACTIVE", "MAINTENANCE", "PROVISIONING", "UNREACHABLE", "WAITING"}
        ),
        "serverStatus_in": frozenset(
            {"DISCONNECTED", "INSTALLING", "IN_MAINTENANCE", "IN_PRODUCTION", "PROVISIONING"}
        ),
    },
    "InvoicesInput": {
        "currency_in": _CURRENCIES,
        "paymentStatus_in": frozenset({"NOT_PAID", "PAID", "PAST_DUE"}),
    },
    "SubscriptionsInput": {
        "currency_in": _CURRENCIES,
        "type_in": frozenset({"PREPAID", "TRIAL"}),
    },
    "SupportRequestsInput": {
        "categories_in": frozenset(
            {"ABUSE_REPORT", "NETWORK_ISSUE", "NEW", "SALES_INQUIRY", "TECHNICAL_ISSUE"}
        ),
        "status": frozenset({"CLOSED", "OPEN"}),
    },
    "InstantDeliveryServersInput": {},
    "TrafficServersInput": {},
}
#: Filter fields holding server names, which at DataPacket are all ``DP-<number>``.
_SERVER_NAME_FILTERS = {"ServersInput": "name_in", "TrafficServersInput": "name_in"}


def is_datapacket_name(name: str) -> bool:
    """Whether a server name can be DataPacket's (``DP-12345``; names are global)."""
    return name.upper().startswith("DP-")


def upstream_filter(input_type: str, filter: dict[str, Any]) -> dict[str, Any] | None:
    """``filter`` (of GraphQL type ``input_type``) as DataPacket can take it; None: no match.

    A value DataPacket cannot hold matches nothing there, so it is left out of its list; a
    list left without any of the values it had, or a single such value, matches nothing at
    all. An empty list from the client is kept as it is.
    """
    accepted: dict[str, Any] = {
        field: values.__contains__ for field, values in UPSTREAM_ENUM_VALUES[input_type].items()
    }
    if input_type in _SERVER_NAME_FILTERS:
        accepted[_SERVER_NAME_FILTERS[input_type]] = is_datapacket_name
    narrowed = dict(filter)
    for field, holds in accepted.items():
        value = filter.get(field)
        if value is None:
            continue
        if not isinstance(value, list):
            if not holds(value):
                return None
            continue
        kept = [item for item in value if holds(item)]
        if value and not kept:
            return None
        narrowed[field] = kept
    return narrowed


class DataPacketProvider(Provider):
    """A DataPacket account reached through its GraphQL API with a Bearer token."""

    kind = "datapacket"
    capabilities = frozenset(Capability)
    options_model = DataPacketTable

    def upstream_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.config.credentials['token']}"}

    def owns(self, server_name: str) -> bool:
        # DataPacket names are global (DP-12345); every DataPacket account may own one.
        return is_datapacket_name(server_name)

    # --- transport ------------------------------------------------------------------

    async def _execute(
        self,
        document: str,
        variables: dict[str, Any] | None = None,
        *,
        write: bool = False,
        resource: str | None = "servers",
    ) -> dict[str, Any]:
        # base_url is the GraphQL endpoint itself, so the request goes to it verbatim.
        response = await self.http.send(
            "POST",
            self.config.base_url,
            write=write,
            resource=resource,
            json={"query": document, "variables": variables or {}},
        )
        # DataPacket answers 200 (or 400 for a malformed request) with an ``errors`` body;
        # any other status is read by the transport's table.
        if response.status_code not in (200, 400):
            raise self.http.error(response, write=write)
        body = self.http.decode_json(response)
        if not isinstance(body, dict):
            raise ProviderUnavailable(
                f"Provider {quoted(self.id)} answered with a malformed body.", provider=self.id
            )
        if body.get("errors"):
            raise self._translate(body["errors"][0], write)
        data = body.get("data")
        if not isinstance(data, dict):
            raise ProviderUnavailable(
                f"Provider {quoted(self.id)} answered without data.", provider=self.id
            )
        return data

    def _translate(self, error: Any, write: bool) -> GatewayError:
        extensions = (error or {}).get("extensions") or {}
        code = extensions.get("code")
        # DataPacket's own wording, as a DataPacket client expects it (sanitised, bounded).
        message = upstream_reason(str((error or {}).get("message") or "")) or str(code)
        if code == "VALIDATION_FAILED" and not write:
            # FleetQL checks the documented rules of reads itself: the gateway built this one.
            return refused_as_invalid(self.id, write=False, status=code, reason=message)
        if code in _PASSED_THROUGH:
            field = extensions.get("field") if code == "VALIDATION_FAILED" else None
            return _PASSED_THROUGH[code](
                message, provider=self.id, field=field if isinstance(field, str) else None
            )
        if code == "NOT_AUTHORIZED":
            return refused(self.id, " for this operation")
        return ProviderUnavailable(
            f"Provider {quoted(self.id)} failed to process the request.", provider=self.id
        )

    async def _paged(
        self, field: str, filter: dict, offset: int, limit: int, selection: Selection
    ) -> Page[dict]:
        resource = _RESOURCE[field]
        filter = upstream_filter(_FILTER_INPUT[field], filter)
        if filter is None:
            return Page(entries=[], total=0)  # Nothing DataPacket holds can match.
        document = (
            f"query($input: {_PAGINATED_INPUT[field]}) {{ {field}(input: $input) "
            f"{{ entriesTotalCount entries {{ {render_selection(selection)} }} }} }}"
        )
        pages = pages_for_window(offset, limit, MAX_PAGE_SIZE)
        results = await asyncio.gather(
            *(
                self._execute(
                    document,
                    {"input": {"pageIndex": page.index, "pageSize": page.size, "filter": filter}},
                    resource=resource,
                )
                for page in pages
            )
        )
        entries: list[dict] = []
        for page, data in zip(pages, results, strict=True):
            entries.extend(data[field]["entries"][page.skip : page.skip + page.take])
        return Page(entries=entries, total=results[-1][field]["entriesTotalCount"])

    async def ping(self) -> None:
        # Never cached: the health check must see the upstream as it is now.
        await self._execute("query { account { email } }", resource=None)

    # --- servers --------------------------------------------------------------------

    async def list_servers(
        self, filter: ServerFilter, offset: int, limit: int, selection: Selection
    ) -> Page[dict]:
        return await self._paged(
            "servers", server_filter_variables(filter), offset, limit, selection
        )

    async def servers_by_name(self, names: list[str], selection: Selection) -> dict[str, dict]:
        selection = selection.merge(Selection.of({"name": {}}))
        chunks = [names[i : i + MAX_PAGE_SIZE] for i in range(0, len(names), MAX_PAGE_SIZE)]
        pages = await asyncio.gather(
            *(
                self.list_servers(ServerFilter(name_in=tuple(chunk)), 0, len(chunk), selection)
                for chunk in chunks
            )
        )
        return {server["name"]: server for page in pages for server in page.entries}

    async def find_servers(self, key: ServerKey, selection: Selection) -> list[dict]:
        server_filter = ServerFilter(
            alias_in=(key.alias,) if key.alias is not None else None,
            ip_in=(key.ip,) if key.ip is not None else None,
            ipmiIp_in=(key.ipmiIp,) if key.ipmiIp is not None else None,
            tag_value=(key.tag,) if key.tag is not None else None,
        )
        page = await self.list_servers(server_filter, 0, MAX_PAGE_SIZE, selection)
        return page.entries

    # --- server mutations -----------------------------------------------------------

    async def _server_mutation(
        self, field: str, input_type: str, variables: dict[str, Any], selection: Selection
    ) -> dict:
        document = (
            f"mutation($input: {input_type}!) {{ {field}(input: $input) "
            f"{{ server {{ {render_selection(selection)} }} }} }}"
        )
        data = await self._execute(document, {"input": variables}, write=True)
        return data[field]["server"]

    async def perform_power_action(self, name: str, action: str, selection: Selection) -> dict:
        return await self._server_mutation(
            "performServerPowerAction",
            "PerformServerPowerActionInput",
            {"server": {"name": name}, "action": action},
            selection,
        )

    async def set_server_alias(self, name: str, alias: str | None, selection: Selection) -> dict:
        return await self._server_mutation(
            "setServerAlias",
            "SetServerAliasInput",
            {"server": {"name": name}, "alias": alias},
            selection,
        )

    async def set_server_boot_device(self, name: str, device: str, selection: Selection) -> dict:
        return await self._server_mutation(
            "setServerBootDevice",
            "SetServerBootDeviceInput",
            {"server": {"name": name}, "bootDevice": device},
            selection,
        )

    async def set_server_primary_ip(self, name: str, ip: str, selection: Selection) -> dict:
        return await self._server_mutation(
            "setServerPrimaryIp",
            "SetServerPrimaryIpInput",
            {"server": {"name": name}, "ip": ip},
            selection,
        )

    async def change_ipmi_password(self, name: str, password: str, selection: Selection) -> dict:
        return await self._server_mutation(
            "changeServerIpmiPassword",
            "ChangeIpmiPasswordInput",
            {"server": {"name": name}, "password": password},
            selection,
        )

    async def _boolean_mutation(self, field: str, input_type: str, variables: dict) -> bool:
        document = f"mutation($input: {input_type}!) {{ {field}(input: $input) }}"
        data = await self._execute(document, {"input": variables}, write=True)
        return bool(data[field])

    async def set_server_tag(self, name: str, key: str, value: str | None) -> bool:
        return await self._boolean_mutation(
            "setServerTag",
            "SetServerTagInput",
            {"server": {"name": name}, "key": key, "value": value},
        )

    async def set_server_tags(self, name: str, tags: list[tuple[str, str]]) -> bool:
        return await self._boolean_mutation(
            "setServerTags",
            "SetServerTagsInput",
            {"server": {"name": name}, "tags": [{"key": k, "value": v} for k, v in tags]},
        )

    # --- reverse DNS ----------------------------------------------------------------

    async def reverse_dns_record(self, ip: str, selection: Selection) -> dict:
        document = (
            "query($input: ReverseDnsRecordInput!) { reverseDnsRecord(input: $input) "
            f"{{ {render_selection(selection)} }} }}"
        )
        data = await self._execute(document, {"input": {"ip": ip}})
        return data["reverseDnsRecord"]

    async def set_reverse_dns_record(
        self, ip: str, hostname: str | None, selection: Selection
    ) -> dict:
        document = (
            "mutation($input: SetReverseDnsRecordInput!) { setReverseDnsRecord(input: $input) "
            f"{{ {render_selection(selection)} }} }}"
        )
        data = await self._execute(
            document, {"input": {"ip": ip, "hostname": hostname}}, write=True
        )
        return data["setReverseDnsRecord"]

    # --- account and billing --------------------------------------------------------

    async def account(self, selection: Selection) -> dict:
        data = await self._execute(
            f"query {{ account {{ {render_selection(selection)} }} }}", resource="billing"
        )
        return data["account"]

    async def list_invoices(
        self, filter: dict, offset: int, limit: int, selection: Selection
    ) -> Page[dict]:
        return await self._paged("invoices", filter, offset, limit, selection)

    async def invoice(self, number: str, selection: Selection) -> dict:
        return await self._single("invoice", "InvoiceInput", {"invoiceNumber": number}, selection)

    async def list_subscriptions(
        self, filter: dict, offset: int, limit: int, selection: Selection
    ) -> Page[dict]:
        return await self._paged("subscriptions", filter, offset, limit, selection)

    async def subscription(self, name: str, selection: Selection) -> dict:
        return await self._single("subscription", "SubscriptionInput", {"name": name}, selection)

    async def _single(
        self, field: str, input_type: str, variables: dict, selection: Selection
    ) -> dict:
        document = (
            f"query($input: {input_type}!) {{ {field}(input: $input) "
            f"{{ {render_selection(selection)} }} }}"
        )
        data = await self._execute(document, {"input": variables}, resource=_RESOURCE[field])
        return data[field]

    # --- support --------------------------------------------------------------------

    async def list_support_requests(self, filter: dict, selection: Selection) -> list[dict]:
        # supportRequests answers a bare list with no total: read pages until a short one.
        request_filter = upstream_filter("SupportRequestsInput", filter)
        if request_filter is None:
            return []
        document = (
            "query($input: PaginatedSupportRequestsInput) { supportRequests(input: $input) "
            f"{{ {render_selection(selection)} }} }}"
        )

        async def page(number: int) -> PageFacts:
            variables = {
                "input": {
                    "pageIndex": number - 1,
                    "pageSize": MAX_PAGE_SIZE,
                    "filter": request_filter,
                }
            }
            found = await self._execute(document, variables, resource="support")
            requests = found["supportRequests"]
            return PageFacts(items=requests, has_next=len(requests) >= MAX_PAGE_SIZE)

        return await walk_pages(page, self.id, "support request")

    async def support_request(self, request_id: int, selection: Selection) -> dict:
        return await self._single(
            "supportRequest", "SupportRequestInput", {"id": request_id}, selection
        )

    async def create_support_request(self, request: dict) -> bool:
        return await self._boolean_mutation(
            "createSupportRequest", "CreateSupportRequestInput", request
        )

    async def support_request_reply(self, request_id: int, message: str) -> bool:
        return await self._boolean_mutation(
            "supportRequestReply",
            "SupportRequestReplyInput",
            {"id": request_id, "message": message},
        )

    # --- traffic and stock ----------------------------------------------------------

    async def traffic(self, query: TrafficQuery, selection: Selection) -> dict:
        document = (
            "query($input: TrafficInput!) { traffic(input: $input) "
            f"{{ {render_selection(selection)} }} }}"
        )
        traffic_filter = _traffic_filter(query)
        if traffic_filter is None:
            # No DataPacket server is selected: DataPacket's own answer for that is zeros.
            zeros = traffic_statistics([], 1)
            return {"aggregated": {"statisticsIn": zeros, "statisticsOut": dict(zeros)}}
        variables = {
            "input": {
                "from": format_datetime(query.start),
                "to": format_datetime(query.end),
                "filter": traffic_filter,
            }
        }
        data = await self._execute(document, variables, resource="traffic")
        return data["traffic"]

    async def traffic_series(self, query: TrafficQuery, step: int) -> TrafficSeries:
        # DataPacket only aggregates, but one document can ask for every bucket under an
        # alias: one upstream call yields the bucket averages, i.e. the series at ``step``.
        traffic_filter = _traffic_filter(query)
        if traffic_filter is None:
            return TrafficSeries(start=query.start, step=step, inbound=[], outbound=[])
        span = (query.end - query.start).total_seconds()
        count = math.ceil(span / step)
        # The last bucket ends at ``to``: never a moment past it (year 9999 has no successor).
        buckets = [query.start + timedelta(seconds=min(i * step, span)) for i in range(count + 1)]
        fields = " ".join(
            f'b{i}: traffic(input: {{from: "{format_datetime(buckets[i])}", '
            f'to: "{format_datetime(buckets[i + 1])}", filter: $filter}}) '
            "{ aggregated { statisticsIn { average } statisticsOut { average } } }"
            for i in range(count)
        )
        data = await self._execute(
            f"query($filter: TrafficServersInput) {{ {fields} }}",
            {"filter": traffic_filter},
            resource="traffic",
        )
        aggregated = [data[f"b{i}"]["aggregated"] for i in range(count)]
        return TrafficSeries(
            start=query.start,
            step=step,
            inbound=[(a["statisticsIn"] or {}).get("average") or 0.0 for a in aggregated],
            outbound=[(a["statisticsOut"] or {}).get("average") or 0.0 for a in aggregated],
        )

    async def list_instant_delivery_servers(
        self, filter: dict, offset: int, limit: int, selection: Selection
    ) -> Page[dict]:
        return await self._paged("instantDeliveryServers", filter, offset, limit, selection)

    async def instant_delivery_server(self, name: str, selection: Selection) -> dict:
        return await self._single(
            "instantDeliveryServer", "InstantDeliveryServerInput", {"name": name}, selection
        )


_PAGINATED_INPUT = {
    "servers": "PaginatedServersInput",
    "invoices": "PaginatedInvoicesInput",
    "subscriptions": "PaginatedSubscriptionsInput",
    "instantDeliveryServers": "PaginatedInstantDeliveryServersInput",
}
#: The filter input type of each paginated field.
_FILTER_INPUT = {
    "servers": "ServersInput",
    "invoices": "InvoicesInput",
    "subscriptions": "SubscriptionsInput",
    "instantDeliveryServers": "InstantDeliveryServersInput",
}
#: Cache resource kind (TTL class) of each upstream read.
_RESOURCE = {
    "servers": "servers",
    "invoices": "billing",
    "invoice": "billing",
    "subscriptions": "billing",
    "subscription": "billing",
    "supportRequest": "support",
    "instantDeliveryServers": "catalog",
    "instantDeliveryServer": "catalog",
}
_TRAFFIC_FILTERS = ("alias_in", "ip_in", "ipmiIp_in", "location_in", "name_in", "region_in")


def _traffic_filter(query: TrafficQuery) -> dict[str, list[str]] | None:
    """``TrafficServersInput``: the server filters DataPacket's traffic query accepts."""
    return upstream_filter(
        "TrafficServersInput",
        {
            name: list(values)
            for name, values in vars(query.filter).items()
            if values is not None and name in _TRAFFIC_FILTERS
        },
    )
