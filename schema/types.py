"""Object types of the DataPacket schema, plus the gateway's additions (README "Compatibility").

Resolved values are plain dicts shaped like the GraphQL response, read by the default resolver
and shaped by ``schema.execution`` (docs/architecture.md, "Execution").
"""

from __future__ import annotations

import strawberry

from resolvers import servers
from schema.enums import (
    BillingIntervalUnit,
    CircuitState,
    Currency,
    DdosShieldLevel,
    InvoiceItemType,
    InvoiceType,
    IpAddressType,
    PaymentMethod,
    PaymentStatus,
    PowerStatus,
    ProviderKind,
    Raid,
    ServerStatus,
    ServerStatusV2,
    StorageType,
    SubscriptionItemType,
    SubscriptionType,
    SupportRequestCategory,
    SupportRequestPostBy,
    SupportRequestStatus,
)
from schema.execution import STORED_KEY
from schema.scalars import DateTime


@strawberry.type
class Account:
    createdAt: DateTime | None = strawberry.field(
        description="FleetQL: null when the provider does not report it."
    )
    email: str
    hostname: str | None
    name: str | None


@strawberry.type
class AggregatedTraffic:
    statisticsIn: TrafficStatistics | None = strawberry.field(
        description="Traffic statistics for inbound traffic."
    )
    statisticsOut: TrafficStatistics | None = strawberry.field(
        description="Traffic statistics for outbound traffic."
    )


@strawberry.type
class Billing:
    subscriptionItem: SubscriptionItem


@strawberry.type(
    description="Information about subscription billing cycle. Only available for the subscription of the type PREPAID."
)
class BillingCycle:
    quantity: int = strawberry.field(description="The quantity of billed interval units.")
    start: int = strawberry.field(
        description="Specifies the numerical day of the month on which the billing cycle starts for the monthly cycle, or the numerical month of the year in which the billing cycle starts for the yearly cycle."
    )
    unit: BillingIntervalUnit = strawberry.field(
        description="Currently there are two possible billing interval units: MONTH or YEAR."
    )


@strawberry.type
class ChangeServerIpmiPasswordResponse:
    server: Server


@strawberry.type
class Cpu:
    count: int | None = strawberry.field(
        description="FleetQL: the number of physical CPUs (sockets) of this model; null when the provider does not report it."
    )
    name: str
    cores: int | None = strawberry.field(
        description="FleetQL (live API, beyond DataPacket's documentation): physical cores of one CPU; null when the provider does not report them."
    )


@strawberry.type
class Hardware:
    cpus: list[Cpu]
    hdds: list[Hdd]
    rams: list[Ram]
    storage: list[Storage] | None = strawberry.field(
        description="FleetQL (live API, beyond DataPacket's documentation): one entry per drive, the drives of hdds."
    )


@strawberry.type
class Hdd:
    count: int = strawberry.field(description="Number of storage units.")
    storage: Storage


@strawberry.type
class InstantDeliveryServer:
    hardware: Hardware = strawberry.field(
        description="Current hardware configuration of the server."
    )
    location: Location = strawberry.field(description="The location of the server.")
    name: str = strawberry.field(description="The unique identifier of the server.")
    uplinkCapacity: int | None = strawberry.field(
        description="Overall server uplink capacity in Gbps. FleetQL: null when the provider does not report it."
    )


@strawberry.type
class Invoice:
    createdAt: DateTime = strawberry.field(description="The date when the invoice was created.")
    currency: Currency = strawberry.field(description="The currency of the invoice.")
    dueDate: DateTime = strawberry.field(description="The due date for the invoice payment.")
    invoiceItems: list[InvoiceItem] = strawberry.field(
        description="The items included in the invoice."
    )
    invoiceNumber: str = strawberry.field(description="The unique invoice number.")
    invoiceType: InvoiceType | None = strawberry.field(description="The type of the invoice.")
    payment: Payment | None = strawberry.field(
        description="The payment details associated with the invoice."
    )
    period: Period | None = strawberry.field(
        description="The billing period covered by the invoice."
    )
    subscription: Subscription | None = strawberry.field(
        description="The associated subscription related to the invoice."
    )
    subtotal: float = strawberry.field(
        description="The total amount of the invoice, excluding any applicable taxes."
    )
    total: float = strawberry.field(
        description="The total amount of the invoice, including VAT (Value Added Tax)."
    )
    totalVat: float = strawberry.field(
        description="The total VAT (Value Added Tax) amount of the invoice."
    )


@strawberry.type
class InvoiceItem:
    amount: float = strawberry.field(
        description="The total price for the item on the invoice, excluding any taxes or fees."
    )
    currency: Currency = strawberry.field(
        description="The currency in which the invoice item is listed."
    )
    description: str = strawberry.field(description="The description of the item on the invoice.")
    quantity: float = strawberry.field(description="Item quantity.")
    type: InvoiceItemType | None = strawberry.field(description="The type of the invoice item.")
    unitPrice: float = strawberry.field(description="Item unit price.")
    vatPercent: float = strawberry.field(
        description="The VAT (Value Added Tax) percentage applied to the item."
    )


@strawberry.type
class IpAddress:
    broadcast: str | None = strawberry.field(description="The broadcast address of the IP address.")
    cidr: str = strawberry.field(
        description="The CIDR notation of the IP address. CIDR notation is a more compact way of representing IP addresses and netmasks."
    )
    gateway: str | None = strawberry.field(description="The default gateway for the IP address.")
    ip: str = strawberry.field(description="The IP address itself.")
    isBgpPrefix: bool = strawberry.field(
        description="Whether or not the IP address is a BGP prefix. BGP prefixes are used to route traffic between different networks."
    )
    isPrimary: bool = strawberry.field(
        description="True if this IP address is the primary address for the server."
    )
    netMask: str | None = strawberry.field(
        description="The netmask of the IP address. The netmask is used to determine which part of the IP address is the network address and which part is the host address."
    )
    network: str | None = strawberry.field(description="The network address of the IP address.")
    type: IpAddressType = strawberry.field(description="The type of IP address.")


@strawberry.type
class Ipmi:
    ip: str | None = strawberry.field(description="IPMI IP address.")
    username: str | None = strawberry.field(description="IPMI username.")


@strawberry.type
class Location:
    name: str = strawberry.field(description="Location name.")
    region: str = strawberry.field(description="Location region.")
    short: str = strawberry.field(description="Location short name.")


@strawberry.type
class Network:
    ddosShieldLevel: DdosShieldLevel = strawberry.field(
        description="DDoS Shield protection setting."
    )
    hasBgp: bool | None = strawberry.field(
        description="Whether the BGP session is estabilished for the server."
    )
    ipAddresses: list[IpAddress] = strawberry.field(
        description="List of IP addresses assigned to the server."
    )
    ipmi: Ipmi = strawberry.field(
        description="IPMI (Intelligent Platform Management Interface) information."
    )
    uplinkCapacity: int | None = strawberry.field(
        description="Overall server uplink capacity in Gbps. FleetQL: null when the provider does not report it."
    )
    hasLinkAggregation: bool | None = strawberry.field(
        description="FleetQL (live API, beyond DataPacket's documentation): whether the uplink ports are aggregated; null when the provider does not report it."
    )


@strawberry.type
class Os:
    name: str = strawberry.field(description="Name of the operating system.")


@strawberry.type
class PaginatedInstantDeliveryServerResponse:
    currentPageIndex: int = strawberry.field(
        description="Current page index which was returned, the first index is 0."
    )
    entries: list[InstantDeliveryServer] = strawberry.field(
        description="Resulting paginated items."
    )
    entriesTotalCount: int = strawberry.field(
        description="Total number of items in the full result set."
    )
    isFirstPage: bool = strawberry.field(description="Indicates whether this is the first page.")
    isLastPage: bool = strawberry.field(description="Indicates whether this is the last page.")
    nextPageIndex: int | None = strawberry.field(
        description="Index of the next page, when none is available null."
    )
    pageCount: int = strawberry.field(
        description="Total number of pages which constitute the full result set."
    )
    pageSize: int = strawberry.field(description="Number of items per page.")
    previousPageIndex: int | None = strawberry.field(
        description="Index of the previous page, first index is 0, if currently on first page, the value will be null."
    )


@strawberry.type
class PaginatedInvoiceResponse:
    currentPageIndex: int = strawberry.field(
        description="Current page index which was returned, the first index is 0."
    )
    entries: list[Invoice] = strawberry.field(description="Resulting paginated items.")
    entriesTotalCount: int = strawberry.field(
        description="Total number of items in the full result set."
    )
    isFirstPage: bool = strawberry.field(description="Indicates whether this is the first page.")
    isLastPage: bool = strawberry.field(description="Indicates whether this is the last page.")
    nextPageIndex: int | None = strawberry.field(
        description="Index of the next page, when none is available null."
    )
    pageCount: int = strawberry.field(
        description="Total number of pages which constitute the full result set."
    )
    pageSize: int = strawberry.field(description="Number of items per page.")
    previousPageIndex: int | None = strawberry.field(
        description="Index of the previous page, first index is 0, if currently on first page, the value will be null."
    )


@strawberry.type
class PaginatedServerResponse:
    currentPageIndex: int = strawberry.field(
        description="Current page index which was returned, the first index is 0."
    )
    entries: list[Server] = strawberry.field(description="Resulting paginated items.")
    entriesTotalCount: int = strawberry.field(
        description="Total number of items in the full result set."
    )
    isFirstPage: bool = strawberry.field(description="Indicates whether this is the first page.")
    isLastPage: bool = strawberry.field(description="Indicates whether this is the last page.")
    nextPageIndex: int | None = strawberry.field(
        description="Index of the next page, when none is available null."
    )
    pageCount: int = strawberry.field(
        description="Total number of pages which constitute the full result set."
    )
    pageSize: int = strawberry.field(description="Number of items per page.")
    previousPageIndex: int | None = strawberry.field(
        description="Index of the previous page, first index is 0, if currently on first page, the value will be null."
    )


@strawberry.type
class PaginatedSubscriptionResponse:
    currentPageIndex: int = strawberry.field(
        description="Current page index which was returned, the first index is 0."
    )
    entries: list[Subscription] = strawberry.field(description="Resulting paginated items.")
    entriesTotalCount: int = strawberry.field(
        description="Total number of items in the full result set."
    )
    isFirstPage: bool = strawberry.field(description="Indicates whether this is the first page.")
    isLastPage: bool = strawberry.field(description="Indicates whether this is the last page.")
    nextPageIndex: int | None = strawberry.field(
        description="Index of the next page, when none is available null."
    )
    pageCount: int = strawberry.field(
        description="Total number of pages which constitute the full result set."
    )
    pageSize: int = strawberry.field(description="Number of items per page.")
    previousPageIndex: int | None = strawberry.field(
        description="Index of the previous page, first index is 0, if currently on first page, the value will be null."
    )


@strawberry.type(
    description="Information about subscription billing cycle. Only available for the subscription of the type Prepaid."
)
class Payment:
    method: PaymentMethod | None = strawberry.field(
        description="Provides information about the payment method associated with the payment. Null if the payment is not yet made."
    )
    paidOn: DateTime | None = strawberry.field(
        description="The day on which the payment was made, following the ISO 8601 standard. Null if the payment is not yet made."
    )
    status: PaymentStatus = strawberry.field(description="Status of the payment.")


@strawberry.type
class PerformServerPowerActionResponse:
    server: Server


@strawberry.type(description="Object representing a period of time.")
class Period:
    # `from` is a Python keyword: read it off the resolved dict explicitly.
    @strawberry.field(name="from", description="The starting date of the period.")
    def from_(self) -> DateTime:
        return self["from"]  # type: ignore[index]

    to: DateTime = strawberry.field(description="The ending date of the period.")


@strawberry.type
class Post:
    contents: str = strawberry.field(description="The text contents of the post.")
    createdAt: DateTime = strawberry.field(description="The date the post was created.")
    email: str = strawberry.field(description="The email of the post author.")
    fullName: str = strawberry.field(description="The name of the post author.")
    id: int = strawberry.field(description="The integer ID of the post.")
    postBy: SupportRequestPostBy = strawberry.field(
        description="The author group of the post author, staff or user."
    )


@strawberry.type
class Ram:
    count: int
    size: int = strawberry.field(description="RAM size in gigabytes (GB).")


@strawberry.type
class ReverseDnsRecordResponse:
    hostname: str | None = strawberry.field(
        description="Hostname of the reverse DNS (PTR) record, or null, when there is no such record."
    )
    ip: IpAddress = strawberry.field(description="IP address of the reverse DNS (PTR) record")


@strawberry.type
class Server:
    alias: str | None = strawberry.field(
        description="Custom alias for your server. Can be set via setServerAlias or in the client panel."
    )
    billing: Billing | None = strawberry.field(
        description="Contains information related to the server subscription, including the price of the server."
    )
    hardware: Hardware
    hostname: str | None
    location: Location
    name: str = strawberry.field(
        description="Server name is used to uniquely identify each server. Format: DP-12345"
    )
    network: Network
    powerStatus: PowerStatus
    status: ServerStatus = strawberry.field(deprecation_reason="Use statusV2 instead.")
    statusV2: ServerStatusV2
    system: System
    tags: list[ServerTag]
    trafficPlan: TrafficPlan
    deviceType: str | None = strawberry.field(
        description="FleetQL (live API, beyond DataPacket's documentation): the kind of device, as DataPacket names it; null for other providers (DataPacket's vocabulary is not public)."
    )
    uptime: int | None = strawberry.field(
        description="How long your system has been running in days. FleetQL: null when the provider does not report it."
    )

    @strawberry.field(
        description="FleetQL: the provider instance this server belongs to.",
        metadata={STORED_KEY: "provider"},
    )
    def provider(self, info: strawberry.Info) -> Provider:
        return servers.server_provider(info.context, self)  # type: ignore[arg-type]

    @strawberry.field(
        description="FleetQL: the latest power action this gateway sent to the server and its progress, where the provider tracks asynchronous actions (Mammoth); null when none is tracked."
    )
    async def powerAction(self, info: strawberry.Info) -> PowerActionProgress | None:
        return await servers.power_action_progress(info.context, self)  # type: ignore[arg-type]


@strawberry.type
class ServerTag:
    key: str
    value: str


@strawberry.type
class SetReverseDnsRecordResponse:
    ip: IpAddress = strawberry.field(description="IP address of the reverse DNS (PTR) record")


@strawberry.type
class SetServerAliasResponse:
    server: Server


@strawberry.type
class SetServerBootDeviceResponse:
    server: Server


@strawberry.type
class SetServerPrimaryIpResponse:
    server: Server


@strawberry.type
class Storage:
    size: int = strawberry.field(description="Storage capacity in gigabytes (GB).")
    type: StorageType


@strawberry.type
class Subscription:
    billingCycle: BillingCycle | None
    createdAt: DateTime
    currency: Currency
    invoices: list[Invoice]
    name: str
    subscriptionItems: list[SubscriptionItem]
    subtotal: float
    type: SubscriptionType


@strawberry.type
class SubscriptionItem:
    currency: Currency = strawberry.field(
        description="The currency in which the subscription item is priced."
    )
    description: str | None = strawberry.field(
        description="A brief description of the subscription item."
    )
    price: float = strawberry.field(
        description="The price of the subscription item excluding any applicable taxes."
    )
    subscriptionItemDetail: SubscriptionItemDetail = strawberry.field(
        description="Additional details about the subscription item."
    )
    type: SubscriptionItemType = strawberry.field(description="The type of the subscription item.")


@strawberry.type(description="Additional details about the subscription item.")
class SubscriptionItemDetail:
    server: Server | None = strawberry.field(description="The associated server, if applicable.")
    trafficPlan: TrafficPlan | None = strawberry.field(
        description="The associated traffic plan, if applicable."
    )


@strawberry.type
class SupportRequest:
    category: SupportRequestCategory | None = strawberry.field(
        description="Category of the support request."
    )
    createdAt: DateTime = strawberry.field(description="The date the support request was created.")
    email: str = strawberry.field(description="The email of the support request author.")
    fullName: str = strawberry.field(description="The name of the support ticket author.")
    id: int = strawberry.field(description="The integer ID of the support request.")
    lastReplyAt: DateTime = strawberry.field(
        description="The date of the last reply in the request."
    )
    numberOfReplies: int = strawberry.field(description="Number of replies in the request.")
    posts: list[Post] | None = strawberry.field(
        description="The messages contained in the support request."
    )
    status: SupportRequestStatus = strawberry.field(
        description="The status of the support request."
    )
    subject: str = strawberry.field(description="The subject of the support request.")
    updatedAt: DateTime = strawberry.field(
        description="The date the support request was last updated."
    )


@strawberry.type
class System:
    os: Os
    raid: Raid
    operatingSystem: Os | None = strawberry.field(
        description="FleetQL (live API, beyond DataPacket's documentation): the operating system, as os; null when the provider does not name it."
    )


@strawberry.type
class Traffic:
    aggregated: AggregatedTraffic = strawberry.field(
        description="Aggregated traffic statistics for selected servers in the given time period."
    )


@strawberry.type
class TrafficPlan:
    name: str | None
    type: str | None = strawberry.field(
        description="FleetQL (live API, beyond DataPacket's documentation): the kind of plan, as the provider names it; null when not reported."
    )
    bandwidth: float | None = strawberry.field(
        description="FleetQL (live API, beyond DataPacket's documentation): the plan's bandwidth in Gbps; null when not reported."
    )


@strawberry.type
class TrafficStatistics:
    average: float = strawberry.field(description="Average traffic in bits per second.")
    last: float = strawberry.field(description="Last recorded traffic value in bits per second.")
    maximum: float = strawberry.field(description="Maximum traffic value (peak) in bits.")
    p95: float = strawberry.field(description="95th percentile traffic value in bits per second.")
    sum: float = strawberry.field(description="Sum of all traffic values in bits.")


@strawberry.type(description="FleetQL: a configured provider instance.")
class Provider:
    id: str = strawberry.field(description="The instance id from the configuration.")
    kind: ProviderKind


@strawberry.type(description="FleetQL: a provider instance with its health and capabilities.")
class ProviderStatus:
    id: str = strawberry.field(description="The instance id from the configuration.")
    kind: ProviderKind
    reachable: bool = strawberry.field(
        description="Whether the provider answered its cheapest call in the last health check."
    )
    capabilities: list[str] = strawberry.field(
        description="The GraphQL operations this provider can serve; others answer NOT_SUPPORTED."
    )
    circuit: CircuitState = strawberry.field(
        description="The circuit breaker in front of this provider's API."
    )


@strawberry.type(description="FleetQL: an asynchronous power action and how far it has got.")
class PowerActionProgress:
    id: str = strawberry.field(description="The provider's action id.")
    type: str = strawberry.field(description="The provider's action type, e.g. power_cycle.")
    status: str = strawberry.field(description="The provider's status, e.g. in-progress.")
    startedAt: DateTime
    completedAt: DateTime | None
