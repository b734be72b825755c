"""The Query, Mutation and SubscriptionRoot roots: each field converts its input and delegates
to resolvers/."""

from __future__ import annotations

from collections.abc import AsyncGenerator

import strawberry
from strawberry.types import Info

from resolvers import live, mutations, queries, servers
from resolvers.inputs import values_of
from resolvers.selection import selection_of
from resolvers.traffic import traffic as aggregate_traffic
from schema.inputs import (
    ChangeIpmiPasswordInput,
    CreateSupportRequestInput,
    InstantDeliveryServerInput,
    InvoiceInput,
    PaginatedInstantDeliveryServersInput,
    PaginatedInvoicesInput,
    PaginatedServersInput,
    PaginatedSubscriptionsInput,
    PaginatedSupportRequestsInput,
    PerformServerPowerActionInput,
    PowerActionProgressInput,
    ReverseDnsRecordInput,
    ServerInput,
    ServerStatusChangedInput,
    SetReverseDnsRecordInput,
    SetServerAliasInput,
    SetServerBootDeviceInput,
    SetServerPrimaryIpInput,
    SetServerTagInput,
    SetServerTagsInput,
    SubscriptionInput,
    SupportRequestInput,
    SupportRequestReplyInput,
    TrafficInput,
)
from schema.types import (
    Account,
    ChangeServerIpmiPasswordResponse,
    InstantDeliveryServer,
    Invoice,
    Location,
    PaginatedInstantDeliveryServerResponse,
    PaginatedInvoiceResponse,
    PaginatedServerResponse,
    PaginatedSubscriptionResponse,
    PerformServerPowerActionResponse,
    ProviderStatus,
    ReverseDnsRecordResponse,
    Server,
    SetReverseDnsRecordResponse,
    SetServerAliasResponse,
    SetServerBootDeviceResponse,
    SetServerPrimaryIpResponse,
    Subscription,
    SupportRequest,
    Traffic,
)

__all__ = ["Mutation", "Query", "SubscriptionRoot"]

UNSET = strawberry.UNSET


@strawberry.type
class Query:
    @strawberry.field(
        description="This query provides basic information about your account such as name, email, hostname template and when the account was created."
    )
    async def account(self, info: Info) -> Account:
        return await queries.account(info.context, selection_of(info))

    @strawberry.field(
        description="Provides information about single in-stock server identified by it's name."
    )
    async def instantDeliveryServer(
        self, info: Info, input: InstantDeliveryServerInput
    ) -> InstantDeliveryServer:
        return await queries.instant_delivery_server(info.context, input.name, selection_of(info))

    @strawberry.field(
        description="List of all in-stock servers available for instant delivery.\nYou can look up servers by location, region, or hardware configuration."
    )
    async def instantDeliveryServers(
        self, info: Info, input: PaginatedInstantDeliveryServersInput | None = UNSET
    ) -> PaginatedInstantDeliveryServerResponse:
        return await queries.instant_delivery_servers(
            info.context, values_of(input), selection_of(info, "entries"), info.path.as_list()
        )

    @strawberry.field(
        description="Invoice query provides information about a single invoice in your account. Use InvoiceInput to specify invoice number."
    )
    async def invoice(self, info: Info, input: InvoiceInput) -> Invoice:
        return await queries.invoice(info.context, input.invoiceNumber, selection_of(info))

    @strawberry.field(
        description="Invoices query provides information about invoices in your account."
    )
    async def invoices(
        self, info: Info, input: PaginatedInvoicesInput | None = UNSET
    ) -> PaginatedInvoiceResponse:
        return await queries.invoices(
            info.context, values_of(input), selection_of(info, "entries"), info.path.as_list()
        )

    @strawberry.field(description="Get a reverse DNS (PTR) record for a given IP")
    async def reverseDnsRecord(
        self, info: Info, input: ReverseDnsRecordInput
    ) -> ReverseDnsRecordResponse:
        return await queries.reverse_dns_record(info.context, input.ip, selection_of(info))

    @strawberry.field(
        description="Server query provides information about a single server in your account. You can query name and location of the server, its power status, IPMI IP, its network settings and more. Use ServerInput to specify server's name, alias, IP or IPMI IP."
    )
    async def server(self, info: Info, input: ServerInput) -> Server:
        return await servers.resolve_server(
            info.context, values_of(input), selection_of(info), info.path.as_list()
        )

    @strawberry.field(
        description="Servers query provides a list of servers in your account.\nYou can filter by name, location, power status, IPMI IP, IP, alias, etc.\nYou can also sort results by various attributes."
    )
    async def servers(
        self, info: Info, input: PaginatedServersInput | None = UNSET
    ) -> PaginatedServerResponse:
        return await servers.list_servers(
            info.context, values_of(input), selection_of(info, "entries"), info.path.as_list()
        )

    @strawberry.field(
        description="Subscription query provides basic information about your subscription, including subtotal, currency, type, createdAt, subscription items, and billing cycle."
    )
    async def subscription(self, info: Info, input: SubscriptionInput) -> Subscription:
        return await queries.subscription(info.context, input.name, selection_of(info))

    @strawberry.field(
        description="Subscriptions query provides information about subscriptions in your account."
    )
    async def subscriptions(
        self, info: Info, input: PaginatedSubscriptionsInput | None = UNSET
    ) -> PaginatedSubscriptionResponse:
        return await queries.subscriptions(
            info.context, values_of(input), selection_of(info, "entries"), info.path.as_list()
        )

    @strawberry.field(description="Get information about a single support request.")
    async def supportRequest(self, info: Info, input: SupportRequestInput) -> SupportRequest:
        return await queries.support_request(info.context, input.id, selection_of(info))

    @strawberry.field(description="Get a list of support requests.")
    async def supportRequests(
        self, info: Info, input: PaginatedSupportRequestsInput | None = UNSET
    ) -> list[SupportRequest]:
        return await queries.support_requests(
            info.context, values_of(input), selection_of(info), info.path.as_list()
        )

    @strawberry.field(
        description="Get traffic statistics for a given time period. The statistics are aggregated for all servers in the given time period if no server is specified. If one or more server is specified, the statistics are aggregated for the given servers."
    )
    async def traffic(self, info: Info, input: TrafficInput) -> Traffic:
        return await aggregate_traffic(
            info.context, values_of(input), selection_of(info), info.path.as_list()
        )

    @strawberry.field(
        description="FleetQL: every location of every provider, in one vocabulary (name, region, short), de-duplicated."
    )
    async def locations(self, info: Info) -> list[Location]:
        return await queries.locations(info.context, info.path.as_list())

    @strawberry.field(
        description="FleetQL: every configured provider instance, whether it is reachable, and what it can do."
    )
    async def providers(self, info: Info) -> list[ProviderStatus]:
        return await queries.provider_statuses(info.context)


@strawberry.type
class Mutation:
    @strawberry.mutation(
        description="This mutation allows you to change IPMI password of a server."
    )
    async def changeServerIpmiPassword(
        self, info: Info, input: ChangeIpmiPasswordInput
    ) -> ChangeServerIpmiPasswordResponse:
        return await mutations.change_ipmi_password(
            info.context, values_of(input), selection_of(info, "server")
        )

    @strawberry.mutation(description="Create a new support request.")
    async def createSupportRequest(self, info: Info, input: CreateSupportRequestInput) -> bool:
        return await mutations.create_support_request(info.context, values_of(input))

    @strawberry.mutation(
        description="Perform an IPMI server power action such as power on, power off or reboot. Please note that because IPMI may take a while to respond, this API call is asynchronous. As a result, we cannot guarantee that the requested action will be performed successfully."
    )
    async def performServerPowerAction(
        self, info: Info, input: PerformServerPowerActionInput
    ) -> PerformServerPowerActionResponse:
        return await mutations.perform_power_action(
            info.context, values_of(input), selection_of(info, "server")
        )

    @strawberry.mutation(
        description="Set a reverse DNS (PTR) record for a given IP. Set hostname to null to delete the record."
    )
    async def setReverseDnsRecord(
        self, info: Info, input: SetReverseDnsRecordInput
    ) -> SetReverseDnsRecordResponse:
        return await mutations.set_reverse_dns_record(
            info.context, values_of(input), selection_of(info)
        )

    @strawberry.mutation(description="Set custom alias for your server.")
    async def setServerAlias(
        self, info: Info, input: SetServerAliasInput
    ) -> SetServerAliasResponse:
        return await mutations.set_server_alias(
            info.context, values_of(input), selection_of(info, "server")
        )

    @strawberry.mutation(description="Sets a boot device for server via IPMI.")
    async def setServerBootDevice(
        self, info: Info, input: SetServerBootDeviceInput
    ) -> SetServerBootDeviceResponse:
        return await mutations.set_server_boot_device(
            info.context, values_of(input), selection_of(info, "server")
        )

    @strawberry.mutation(description="Set primary IP to your server.")
    async def setServerPrimaryIp(
        self, info: Info, input: SetServerPrimaryIpInput
    ) -> SetServerPrimaryIpResponse:
        return await mutations.set_server_primary_ip(
            info.context, values_of(input), selection_of(info, "server")
        )

    @strawberry.mutation(
        description="Update or set a single tag for the server. If the provided value argument is omitted or null, the tag will be deleted."
    )
    async def setServerTag(self, info: Info, input: SetServerTagInput) -> bool:
        return await mutations.set_server_tag(info.context, values_of(input))

    @strawberry.mutation(
        description="This mutation sets tags for the server. Tags not provided will be deleted."
    )
    async def setServerTags(self, info: Info, input: SetServerTagsInput) -> bool:
        return await mutations.set_server_tags(info.context, values_of(input))

    @strawberry.mutation(description="Create reply to an existing support request.")
    async def supportRequestReply(self, info: Info, input: SupportRequestReplyInput) -> bool:
        return await mutations.support_request_reply(info.context, values_of(input))


@strawberry.type
class SubscriptionRoot:
    @strawberry.subscription(
        description="FleetQL: the servers whose powerStatus, statusV2 or (while a power action sent through the gateway runs on them) powerAction progress changes, each time it changes; a provider whose poll fails sends one error event naming it, and the others go on (over graphql-transport-ws)."
    )
    async def serverStatusChanged(
        self, info: Info, input: ServerStatusChangedInput | None = UNSET
    ) -> AsyncGenerator[Server, None]:
        async for server in live.server_status_changes(
            info.context, values_of(input), selection_of(info)
        ):
            yield server

    @strawberry.subscription(
        description="FleetQL: one server's power action followed to its end: the server now, then each time its powerStatus, statusV2 or powerAction progress changes, until the provider reports the action completed (Mammoth) or, elsewhere, the server's first change. With no action in progress, the server once."
    )
    async def powerActionProgress(
        self, info: Info, input: PowerActionProgressInput
    ) -> AsyncGenerator[Server, None]:
        async for server in live.power_action_progress(
            info.context, values_of(input), selection_of(info)
        ):
            yield server
