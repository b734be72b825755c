"""Input types of the DataPacket schema, plus the gateway's additive fields (README "Compatibility")."""

from __future__ import annotations

import strawberry

from schema.enums import (
    BootDevice,
    Currency,
    PaymentStatus,
    PowerAction,
    PowerStatus,
    ServerStatus,
    ServerStatusV2,
    SubscriptionType,
    SupportRequestCategory,
    SupportRequestPriority,
    SupportRequestStatus,
    SupportRequestSubject,
)
from schema.scalars import DateTime


@strawberry.input(
    description="It is not a security best practice to limit the maximum length of a password, but there are different limits set by individual manufacturers. Therefore, we have to set the maximum length to 16 characters."
)
class ChangeIpmiPasswordInput:
    password: str = strawberry.field(
        description="Minimum 10, maximum 16 characters long, at least one number."
    )
    server: ServerInput


@strawberry.input
class CreateSupportRequestInput:
    destinations: list[str] | None = strawberry.field(
        default=strawberry.UNSET,
        description="Network issues only - Location of the destination for the faulty network requests.",
    )
    message: str
    priority: SupportRequestPriority = strawberry.field(
        description="Priority requested for of the support request."
    )
    servers: list[str] | None = strawberry.field(
        default=strawberry.UNSET, description="Unique server identifier. Format: DP-12345."
    )
    sources: list[str] | None = strawberry.field(
        default=strawberry.UNSET,
        description="Network issues only - Location of the source for the faulty network requests.",
    )
    subject: SupportRequestSubject = strawberry.field(description="Subject of the support request.")


@strawberry.input
class InstantDeliveryServerInput:
    name: str


@strawberry.input
class InstantDeliveryServersInput:
    location_in: list[str] | None = strawberry.field(default=strawberry.UNSET)
    name_in: list[str] | None = strawberry.field(default=strawberry.UNSET)
    region_in: list[str] | None = strawberry.field(default=strawberry.UNSET)


@strawberry.input
class InvoiceInput:
    invoiceNumber: str = strawberry.field(
        description="Unique alpha numeric code identifying invoice."
    )


@strawberry.input
class InvoicesInput:
    currency_in: list[Currency] | None = strawberry.field(
        default=strawberry.UNSET, description="Array of supported currencies for filtering."
    )
    invoiceNumber_in: list[str] | None = strawberry.field(
        default=strawberry.UNSET, description="Array of invoice numbers for filtering."
    )
    paymentStatus_in: list[PaymentStatus] | None = strawberry.field(
        default=strawberry.UNSET, description="Array of payment statuses for filtering."
    )


@strawberry.input
class PaginatedInstantDeliveryServersInput:
    filter: InstantDeliveryServersInput | None = strawberry.field(default=strawberry.UNSET)
    pageIndex: int | None = strawberry.field(
        default=0, description="First page has pageIndex value 0. Default = 0"
    )
    pageSize: int = strawberry.field(
        default=50, description="The maximum number of results per page is 50. Default = 50"
    )


@strawberry.input
class PaginatedInvoicesInput:
    filter: InvoicesInput | None = strawberry.field(default=strawberry.UNSET)
    pageIndex: int | None = strawberry.field(
        default=0, description="First page has pageIndex value 0. Default = 0"
    )
    pageSize: int = strawberry.field(
        default=50, description="The maximum number of results per page is 50. Default = 50"
    )


@strawberry.input
class PaginatedServersInput:
    filter: ServersInput | None = strawberry.field(default=strawberry.UNSET)
    pageIndex: int | None = strawberry.field(
        default=0, description="First page has pageIndex value 0. Default = 0"
    )
    pageSize: int = strawberry.field(
        default=50, description="The maximum number of results per page is 50. Default = 50"
    )


@strawberry.input
class PaginatedSubscriptionsInput:
    filter: SubscriptionsInput | None = strawberry.field(default=strawberry.UNSET)
    pageIndex: int | None = strawberry.field(
        default=0, description="First page has pageIndex value 0. Default = 0"
    )
    pageSize: int = strawberry.field(
        default=50, description="The maximum number of results per page is 50. Default = 50"
    )


@strawberry.input
class PaginatedSupportRequestsInput:
    filter: SupportRequestsInput | None = strawberry.field(default=strawberry.UNSET)
    pageIndex: int | None = strawberry.field(
        default=0, description="First page has pageIndex value 0. Default = 0"
    )
    pageSize: int = strawberry.field(
        default=50, description="The maximum number of results per page is 50. Default = 50"
    )


@strawberry.input
class PerformServerPowerActionInput:
    action: PowerAction
    server: ServerInput


@strawberry.input
class ReverseDnsRecordInput:
    ip: str = strawberry.field(
        description="IP address for the reverse DNS (PTR) record. Currently only IPv4 addresses are supported."
    )


@strawberry.input
class ServerInput:
    alias: str | None = strawberry.field(
        default=strawberry.UNSET,
        description="Make sure all server aliases are unique, otherwise you will get an error.",
    )
    ip: str | None = strawberry.field(
        default=strawberry.UNSET, description="One of the IP adresses of the server"
    )
    ipmiIp: str | None = strawberry.field(
        default=strawberry.UNSET, description="The IPMI IP address"
    )
    name: str | None = strawberry.field(
        default=strawberry.UNSET, description="Unique server identifier. Format: DP-12345."
    )
    tag: ServerTagInput | None = strawberry.field(
        default=strawberry.UNSET,
        description="The key-value tag pair which is unique for the server",
    )


@strawberry.input
class ServerTagInput:
    key: str = strawberry.field(
        description="The key of the tag. Can only contain alphanumeric characters, hyphens, underscores and periods. Maximal length is 100 characters."
    )
    value: str = strawberry.field(
        description="The value of the tag. Maximum length of 150 characters."
    )


@strawberry.input
class ServersInput:
    alias_in: list[str] | None = strawberry.field(
        default=strawberry.UNSET, description="The alias of the server."
    )
    ip_in: list[str] | None = strawberry.field(
        default=strawberry.UNSET, description="One of the IP adresses is assigned to the server."
    )
    ipmiIp_in: list[str] | None = strawberry.field(
        default=strawberry.UNSET,
        description="One of the IP adresses is assigned to the server, has to be adressed to IPMI interface.",
    )
    location_in: list[str] | None = strawberry.field(
        default=strawberry.UNSET, description="The location of the server."
    )
    name_in: list[str] | None = strawberry.field(
        default=strawberry.UNSET, description="The name of the server."
    )
    powerStatus_in: list[PowerStatus] | None = strawberry.field(
        default=strawberry.UNSET, description="The power status of the server."
    )
    region_in: list[str] | None = strawberry.field(
        default=strawberry.UNSET, description="The region of the server."
    )
    serverStatusV2_in: list[ServerStatusV2] | None = strawberry.field(
        default=strawberry.UNSET, description="The status of the server."
    )
    serverStatus_in: list[ServerStatus] | None = strawberry.field(
        default=strawberry.UNSET,
        description="The status of the server.",
        deprecation_reason="Use serverStatusV2_in instead.",
    )
    tag_key: list[str] | None = strawberry.field(
        default=strawberry.UNSET, description="Server has tags listed in this filter."
    )
    tag_value: list[ServerTagInput] | None = strawberry.field(
        default=strawberry.UNSET,
        description="Server has all of the tags included here (must match both key and value).",
    )
    tags_each: list[ServerTagInput] | None = strawberry.field(
        default=strawberry.UNSET,
        description="Server has all of the tags included here (must match both key and value).",
        deprecation_reason="Use tag_value condition instead, it's equivalent.",
    )
    tags_in: list[ServerTagInput] | None = strawberry.field(
        default=strawberry.UNSET,
        description="Server has at least one of the tags included here (must match both key and value).",
    )
    provider_in: list[str] | None = strawberry.field(
        default=strawberry.UNSET,
        description="FleetQL: only servers of these provider instances (ids from Query.providers).",
    )


@strawberry.input
class SetReverseDnsRecordInput:
    hostname: str | None = strawberry.field(
        default=strawberry.UNSET,
        description="Hostname for the PTR record or null to delete the current record. Must end with a dot.",
    )
    ip: str = strawberry.field(
        description="IP address for the reverse DNS (PTR) record. Currently only IPv4 addresses are supported."
    )


@strawberry.input
class SetServerAliasInput:
    alias: str | None = strawberry.field(
        default=strawberry.UNSET,
        description="Choose unique value so you can use the alias in ServerInput. Set to null to remove alias.",
    )
    server: ServerInput


@strawberry.input
class SetServerBootDeviceInput:
    bootDevice: BootDevice
    server: ServerInput


@strawberry.input
class SetServerPrimaryIpInput:
    ip: str
    server: ServerInput


@strawberry.input
class SetServerTagInput:
    key: str = strawberry.field(
        description="The key of the tag. Can only contain alphanumeric characters, hyphens, underscores and periods. The maximum length is 100 characters."
    )
    server: ServerInput = strawberry.field(description="The server to set the tag for.")
    value: str | None = strawberry.field(
        default=strawberry.UNSET,
        description="The value of the tag. Maximum length of 150 characters.",
    )


@strawberry.input
class SetServerTagsInput:
    server: ServerInput = strawberry.field(description="The server to set the tags for.")
    tags: list[ServerTagInput] = strawberry.field(
        description="The tags to set. A server is allowed to have maximum of 10 tags. Note that both key and value are trimmed of whitespace at the start and end."
    )


@strawberry.input
class SubscriptionInput:
    name: str = strawberry.field(description="Unique alpha numeric code identifying subscription.")


@strawberry.input
class SubscriptionsInput:
    currency_in: list[Currency] | None = strawberry.field(
        default=strawberry.UNSET, description="Array of supported currencies for filtering."
    )
    name_in: list[str] | None = strawberry.field(
        default=strawberry.UNSET, description="Array of subscription names for filtering."
    )
    type_in: list[SubscriptionType] | None = strawberry.field(
        default=strawberry.UNSET, description="Array of subscription types for filtering."
    )


@strawberry.input
class SupportRequestInput:
    id: int = strawberry.field(description="The integer ID of the support request.")


@strawberry.input
class SupportRequestReplyInput:
    id: int = strawberry.field(
        description="The integer ID of the support request to add message to."
    )
    message: str = strawberry.field(description="The text of the message to add to the post.")


@strawberry.input
class SupportRequestsInput:
    categories_in: list[SupportRequestCategory] | None = strawberry.field(
        default=strawberry.UNSET, description="Category of the support request."
    )
    status: SupportRequestStatus | None = strawberry.field(
        default=strawberry.UNSET, description="Status of the support request."
    )


@strawberry.input
class TrafficInput:
    filter: TrafficServersInput | None = strawberry.field(default=strawberry.UNSET)
    from_: DateTime = strawberry.field(
        name="from", description="The date from which the traffic should be displayed."
    )
    to: DateTime = strawberry.field(
        description="The date to which the traffic should be displayed, must be date after the to value."
    )


@strawberry.input
class TrafficServersInput:
    alias_in: list[str] | None = strawberry.field(default=strawberry.UNSET)
    ip_in: list[str] | None = strawberry.field(default=strawberry.UNSET)
    ipmiIp_in: list[str] | None = strawberry.field(default=strawberry.UNSET)
    location_in: list[str] | None = strawberry.field(default=strawberry.UNSET)
    name_in: list[str] | None = strawberry.field(default=strawberry.UNSET)
    region_in: list[str] | None = strawberry.field(default=strawberry.UNSET)


@strawberry.input(
    description="FleetQL: the server whose power action `powerActionProgress` follows."
)
class PowerActionProgressInput:
    server: ServerInput


@strawberry.input(
    description="FleetQL: which servers `serverStatusChanged` follows (every visible one when "
    "both are omitted)."
)
class ServerStatusChangedInput:
    names: list[str] | None = strawberry.field(
        default=strawberry.UNSET, description="Only these servers, by name."
    )
    filter: ServersInput | None = strawberry.field(
        default=strawberry.UNSET,
        description="Only servers matching this filter, as in `servers` (judged on each change).",
    )
