"""DataPacket's schema with the emulator's resolvers attached.

The schema is the documented SDL (``schema/datapacket.graphql``, unchanged) with the live API's
fields that public clients show (``schema/datapacket-observed.graphql``).

Root fields get resolvers here; every other field is read from the fleet's plain dicts by
graphql-core's default resolver, except ``Server.powerStatus``, which applies a power action once
its delay has elapsed. Mutations refuse read-only tokens with NOT_AUTHORIZED before touching state.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from graphql import GraphQLResolveInfo, GraphQLSchema, build_schema

from emulators.datapacket import rules
from emulators.datapacket.fleet import LOCATIONS, Entity, Fleet, add_post, new_support_request
from emulators.datapacket.rules import ApiError
from emulators.datapacket.traffic import aggregate

_SCHEMA_DIR = Path(__file__).resolve().parent.parent.parent / "schema"
#: The documented SDL, then the observed fields (``extend type``), read as one document.
SCHEMA_PATHS = (_SCHEMA_DIR / "datapacket.graphql", _SCHEMA_DIR / "datapacket-observed.graphql")
Resolver = Callable[..., Any]


@dataclass
class Context:
    """Per-request context: the shared fleet, the caller's token kind and the emulator knobs."""

    fleet: Fleet
    access: str  # "read-only" | "full-access"
    power_delay: float
    seed: int


def _one(items: list[Entity], key: str, value: Any, what: str) -> Entity:
    for item in items:
        if item[key] == value:
            return item
    raise ApiError("NOT_FOUND", f"{what} {value} not found")


def _filtered(
    items: list[Entity], args: dict | None, match: Callable[[Entity, dict], bool]
) -> list[Entity]:
    """The items the ``filter`` of a query's input selects."""
    f = (args or {}).get("filter") or {}
    return [item for item in items if match(item, f)]


# --- queries ---------------------------------------------------------------------------------


def account(ctx: Context) -> Entity:
    return ctx.fleet.account


def instant_delivery_server(ctx: Context, input: dict) -> Entity:
    return _one(ctx.fleet.instant_delivery, "name", input["name"], "Instant delivery server")


def instant_delivery_servers(ctx: Context, input: dict | None = None) -> Entity:
    def match(s: Entity, f: dict) -> bool:
        return (
            rules.in_filter(s["name"], f.get("name_in"))
            and rules.in_filter(s["location"]["name"], f.get("location_in"))
            and rules.in_filter(s["location"]["region"], f.get("region_in"))
        )

    return rules.paginate(_filtered(ctx.fleet.instant_delivery, input, match), input)


def invoice(ctx: Context, input: dict) -> Entity:
    return _one(ctx.fleet.invoices, "invoiceNumber", input["invoiceNumber"], "Invoice")


def invoices(ctx: Context, input: dict | None = None) -> Entity:
    def match(i: Entity, f: dict) -> bool:
        return (
            rules.in_filter(i["currency"], f.get("currency_in"))
            and rules.in_filter(i["invoiceNumber"], f.get("invoiceNumber_in"))
            and rules.in_filter(i["payment"]["status"], f.get("paymentStatus_in"))
        )

    return rules.paginate(_filtered(ctx.fleet.invoices, input, match), input)


def locations(ctx: Context) -> list[Entity]:
    """Every DataPacket location, whether or not the account has a server there (observed field)."""
    return [
        {"name": name, "short": short, "region": region} for name, short, region, _ in LOCATIONS
    ]


def reverse_dns_record(ctx: Context, input: dict) -> Entity:
    rules.check_reverse_dns_available(ctx.fleet)
    ip = rules.owned_ipv4(ctx.fleet, input["ip"])
    return {"ip": ip, "hostname": ctx.fleet.reverse_dns.get(input["ip"])}


def server(ctx: Context, input: dict) -> Entity:
    return rules.find_server(ctx.fleet, input)


def servers(ctx: Context, input: dict | None = None) -> Entity:
    return rules.paginate(_filtered(ctx.fleet.servers, input, rules.server_matches), input)


def subscription(ctx: Context, input: dict) -> Entity:
    return _one(ctx.fleet.subscriptions, "name", input["name"], "Subscription")


def subscriptions(ctx: Context, input: dict | None = None) -> Entity:
    def match(s: Entity, f: dict) -> bool:
        return (
            rules.in_filter(s["currency"], f.get("currency_in"))
            and rules.in_filter(s["name"], f.get("name_in"))
            and rules.in_filter(s["type"], f.get("type_in"))
        )

    return rules.paginate(_filtered(ctx.fleet.subscriptions, input, match), input)


def support_request(ctx: Context, input: dict) -> Entity:
    return _one(ctx.fleet.support_requests, "id", input["id"], "Support request")


def support_requests(ctx: Context, input: dict | None = None) -> list[Entity]:
    # The query takes a paginated input but returns a bare list (no page metadata).
    def match(r: Entity, f: dict) -> bool:
        status = f.get("status")
        return rules.in_filter(r["category"], f.get("categories_in")) and (
            status is None or r["status"] == status
        )

    return rules.paginate(_filtered(ctx.fleet.support_requests, input, match), input)["entries"]


def traffic(ctx: Context, input: dict) -> Entity:
    start, end = input["from"], input["to"]
    if end <= start:  # TrafficInput.to: "must be date after the to value" (sic: after `from`)
        raise ApiError("VALIDATION_FAILED", "`to` must be after `from`")
    chosen = _filtered(ctx.fleet.servers, input, rules.server_matches)
    profiles = [ctx.fleet.traffic[s["name"]] for s in chosen]
    stats = aggregate(profiles, start.timestamp(), end.timestamp(), time.time(), ctx.seed)
    return {"aggregated": stats}


# --- mutations -------------------------------------------------------------------------------


def change_server_ipmi_password(ctx: Context, input: dict) -> Entity:
    target = rules.find_server(ctx.fleet, input["server"])
    rules.check_ipmi_password(input["password"])
    return {"server": target}


def create_support_request(ctx: Context, input: dict) -> bool:
    for name in input.get("servers") or []:
        rules.find_server(ctx.fleet, {"name": name})
    if not input["message"].strip():
        raise ApiError("VALIDATION_FAILED", "message must not be empty")
    subject = input["subject"].replace("_", " ").capitalize()
    subject = subject.replace("bgp", "BGP").replace("ips", "IPs")
    next_id = max((r["id"] for r in ctx.fleet.support_requests), default=0) + 1
    request = new_support_request(
        ctx.fleet, next_id, subject, "NEW", ctx.fleet.clock(), input["message"]
    )
    ctx.fleet.support_requests.append(request)
    return True


def perform_server_power_action(ctx: Context, input: dict) -> Entity:
    target = rules.find_server(ctx.fleet, input["server"])
    rules.schedule_power_action(target, input["action"], ctx.power_delay)
    return {"server": target}


def set_reverse_dns_record(ctx: Context, input: dict) -> Entity:
    rules.check_reverse_dns_available(ctx.fleet)
    ip, hostname = rules.owned_ipv4(ctx.fleet, input["ip"]), input.get("hostname")
    if hostname is None:
        ctx.fleet.reverse_dns.pop(input["ip"], None)
    else:
        rules.check_ptr_hostname(hostname)
        ctx.fleet.reverse_dns[input["ip"]] = hostname
    return {"ip": ip}


def set_server_alias(ctx: Context, input: dict) -> Entity:
    target, alias = rules.find_server(ctx.fleet, input["server"]), input.get("alias")
    if alias is not None and any(
        s["alias"] == alias and s is not target for s in ctx.fleet.servers
    ):
        raise ApiError("VALIDATION_FAILED", f"Alias {alias!r} is already used by another server")
    target["alias"] = alias
    return {"server": target}


def set_server_boot_device(ctx: Context, input: dict) -> Entity:
    return {"server": rules.find_server(ctx.fleet, input["server"])}


def set_server_primary_ip(ctx: Context, input: dict) -> Entity:
    target = rules.find_server(ctx.fleet, input["server"])
    addresses = target["network"]["ipAddresses"]
    if all(a["ip"] != input["ip"] for a in addresses):
        raise ApiError("VALIDATION_FAILED", f"IP {input['ip']} is not assigned to the server")
    for address in addresses:
        address["isPrimary"] = address["ip"] == input["ip"]
    return {"server": target}


def set_server_tag(ctx: Context, input: dict) -> bool:
    target = rules.find_server(ctx.fleet, input["server"])
    key, value = input["key"], input.get("value")
    rules.check_tag(key, value)
    tags = [t for t in target["tags"] if t["key"] != key]
    if value is not None:  # SetServerTagInput: "If ... value ... is omitted or null, ... deleted"
        tags.append({"key": key, "value": value})
    rules.check_tag_count(len(tags))
    target["tags"] = tags
    return True


def set_server_tags(ctx: Context, input: dict) -> bool:
    target = rules.find_server(ctx.fleet, input["server"])
    # SetServerTagsInput.tags: "both key and value are trimmed of whitespace at the start and end"
    tags = [{"key": t["key"].strip(), "value": t["value"].strip()} for t in input["tags"]]
    for tag in tags:
        rules.check_tag(tag["key"], tag["value"])
    if len({t["key"] for t in tags}) != len(tags):
        raise ApiError("VALIDATION_FAILED", "Tag keys must be unique")
    rules.check_tag_count(len(tags))
    target["tags"] = tags
    return True


def support_request_reply(ctx: Context, input: dict) -> bool:
    request = support_request(ctx, {"id": input["id"]})
    if not input["message"].strip():
        raise ApiError("VALIDATION_FAILED", "message must not be empty")
    add_post(ctx.fleet, request, input["message"], ctx.fleet.clock(), by_staff=False)
    return True


QUERIES: dict[str, Resolver] = {
    "account": account,
    "instantDeliveryServer": instant_delivery_server,
    "instantDeliveryServers": instant_delivery_servers,
    "invoice": invoice,
    "invoices": invoices,
    "locations": locations,
    "reverseDnsRecord": reverse_dns_record,
    "server": server,
    "servers": servers,
    "subscription": subscription,
    "subscriptions": subscriptions,
    "supportRequest": support_request,
    "supportRequests": support_requests,
    "traffic": traffic,
}
MUTATIONS: dict[str, Resolver] = {
    "changeServerIpmiPassword": change_server_ipmi_password,
    "createSupportRequest": create_support_request,
    "performServerPowerAction": perform_server_power_action,
    "setReverseDnsRecord": set_reverse_dns_record,
    "setServerAlias": set_server_alias,
    "setServerBootDevice": set_server_boot_device,
    "setServerPrimaryIp": set_server_primary_ip,
    "setServerTag": set_server_tag,
    "setServerTags": set_server_tags,
    "supportRequestReply": support_request_reply,
}


def _root(fn: Resolver, *, mutation: bool) -> Resolver:
    def resolve(_: Any, info: GraphQLResolveInfo, **args: Any) -> Any:
        ctx: Context = info.context
        if mutation and ctx.access != "full-access":
            raise ApiError("NOT_AUTHORIZED", "You are not authorized to perform this action")
        return fn(ctx, **args)

    return resolve


def _format_datetime(value: Any) -> str:
    if isinstance(value, str):
        return value
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def _parse_datetime(value: Any) -> datetime:
    if not isinstance(value, str):
        raise TypeError("DateTime must be an ISO 8601 string")
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def datapacket_sdl() -> str:
    """The documented SDL followed by the observed fields, as one SDL document."""
    return "\n".join(path.read_text(encoding="utf-8") for path in SCHEMA_PATHS)


@functools.cache
def datapacket_schema() -> GraphQLSchema:
    """DataPacket's SDL with resolvers and the DateTime scalar wired in (built once)."""
    schema = build_schema(datapacket_sdl())
    for fields, table, mutation in (
        (schema.query_type.fields, QUERIES, False),
        (schema.mutation_type.fields, MUTATIONS, True),
    ):
        missing = set(fields) ^ set(table)
        if missing:
            raise RuntimeError(f"resolver table and schema disagree on {sorted(missing)}")
        for name, fn in table.items():
            fields[name].resolve = _root(fn, mutation=mutation)
    schema.type_map["Server"].fields["powerStatus"].resolve = lambda s, _: rules.current_power(s)
    # graphql-core 3.3 renamed serialize/parse_value to coerce_*; set both so 3.2 works as well.
    date_time = schema.type_map["DateTime"]
    date_time.serialize = date_time.coerce_output_value = _format_datetime
    date_time.parse_value = date_time.coerce_input_value = _parse_datetime
    return schema
