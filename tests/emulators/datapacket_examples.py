"""The example operations of the DataPacket seed, with ``...XFragment`` spreads expanded.

Variables are the seed's own input examples where they name entities the emulator has; the
exceptions are noted next to them.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

STORAGE = "size type"
SUBSCRIPTION_ITEM_DETAIL = "server { name alias } trafficPlan { name }"
SUBSCRIPTION_ITEM = (
    f"currency description price subscriptionItemDetail {{ {SUBSCRIPTION_ITEM_DETAIL} }} type"
)
IP_ADDRESS = "broadcast cidr gateway ip isBgpPrefix isPrimary netMask network type"
INVOICE_ITEM = "amount currency description quantity type unitPrice vatPercent"
PAYMENT = "method paidOn status"
PERIOD = "from to"
SUBSCRIPTION = "name type currency subtotal createdAt"
BILLING_CYCLE = "quantity start unit"
INVOICE = "invoiceNumber createdAt total"
PAGE = "entriesTotalCount isFirstPage isLastPage nextPageIndex pageCount pageSize previousPageIndex"
LOCATION = "location { name region short }"
HDD = f"count storage {{ {STORAGE} }}"
HARDWARE = f"hardware {{ cpus {{ count name }} hdds {{ {HDD} }} rams {{ count size }} }}"
SERVER = f"""
  alias
  billing {{ subscriptionItem {{ {SUBSCRIPTION_ITEM} }} }}
  {HARDWARE}
  hostname
  {LOCATION}
  name
  network {{
    ddosShieldLevel hasBgp ipAddresses {{ {IP_ADDRESS} }} ipmi {{ ip username }} uplinkCapacity
  }}
  powerStatus status statusV2
  system {{ os {{ name }} raid }}
  tags {{ key value }}
  trafficPlan {{ name }}
  uptime
"""
INVOICE_FULL = f"""
  createdAt currency dueDate
  invoiceItems {{ {INVOICE_ITEM} }}
  invoiceNumber invoiceType
  payment {{ {PAYMENT} }}
  period {{ {PERIOD} }}
  subscription {{
    billingCycle {{ {BILLING_CYCLE} }}
    createdAt currency
    invoices {{ {INVOICE} }}
    name
    subscriptionItems {{ {SUBSCRIPTION_ITEM} }}
    subtotal type
  }}
  subtotal total totalVat
"""
SUBSCRIPTION_FULL = f"""
  billingCycle {{ {BILLING_CYCLE} }}
  createdAt currency
  invoices {{
    createdAt currency dueDate
    invoiceItems {{ {INVOICE_ITEM} }}
    invoiceNumber invoiceType
    payment {{ {PAYMENT} }}
    period {{ {PERIOD} }}
    subscription {{ {SUBSCRIPTION} }}
    subtotal total totalVat
  }}
  name
  subscriptionItems {{
    currency description price
    subscriptionItemDetail {{ server {{ name alias }} trafficPlan {{ name }} }}
    type
  }}
  subtotal type
"""
SUPPORT_REQUEST = """
  category createdAt email fullName id lastReplyAt numberOfReplies
  posts { contents createdAt email fullName id postBy }
  status subject updatedAt
"""
STATISTICS = "average last maximum p95 sum"
DP_12345 = {
    "alias": "Load Balancer 01",
    "ip": "123.213.231.132",
    "ipmiIp": "10.110.120.130",
    "name": "DP-12345",
    "tag": {"key": "env", "value": "production"},
}


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _day_ago() -> str:
    return (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%S.000Z")


QUERIES: dict[str, tuple[str, dict]] = {
    "Account": ("query Account { account { createdAt email hostname name } }", {}),
    "InstantDeliveryServer": (
        "query InstantDeliveryServer($input: InstantDeliveryServerInput!) {"
        f" instantDeliveryServer(input: $input) {{ {HARDWARE} {LOCATION} name uplinkCapacity }} }}",
        {"input": {"name": "DP-12345"}},
    ),
    "InstantDeliveryServers": (
        "query InstantDeliveryServers($input: PaginatedInstantDeliveryServersInput) {"
        " instantDeliveryServers(input: $input) { currentPageIndex"
        f" entries {{ {HARDWARE} {LOCATION} name uplinkCapacity }} {PAGE} }} }}",
        {"input": {"filter": {"location_in": ["London"], "region_in": ["Europe"]}, "pageSize": 50}},
    ),
    "Invoice": (
        f"query Invoice($input: InvoiceInput!) {{ invoice(input: $input) {{ {INVOICE_FULL} }} }}",
        {"input": {"invoiceNumber": "DP000123"}},
    ),
    "Invoices": (
        "query Invoices($input: PaginatedInvoicesInput) {"
        f" invoices(input: $input) {{ currentPageIndex entries {{ {INVOICE_FULL} }} {PAGE} }} }}",
        {"input": {"filter": {"currency_in": ["EUR"]}, "pageIndex": 0, "pageSize": 50}},
    ),
    "ReverseDnsRecord": (
        "query ReverseDnsRecord($input: ReverseDnsRecordInput!) {"
        f" reverseDnsRecord(input: $input) {{ hostname ip {{ {IP_ADDRESS} }} }} }}",
        {"input": {"ip": "123.213.231.132"}},
    ),
    "Server": (
        f"query Server($input: ServerInput!) {{ server(input: $input) {{ {SERVER} }} }}",
        {"input": DP_12345},
    ),
    "Servers": (
        "query Servers($input: PaginatedServersInput) {"
        f" servers(input: $input) {{ currentPageIndex entries {{ {SERVER} }} {PAGE} }} }}",
        {"input": {"filter": {"location_in": ["London", "Amsterdam"]}, "pageSize": 20}},
    ),
    "Subscription": (
        "query Subscription($input: SubscriptionInput!) {"
        f" subscription(input: $input) {{ {SUBSCRIPTION_FULL} }} }}",
        {"input": {"name": "7"}},
    ),
    "Subscriptions": (
        "query Subscriptions($input: PaginatedSubscriptionsInput) {"
        " subscriptions(input: $input) { currentPageIndex"
        f" entries {{ {SUBSCRIPTION_FULL} }} {PAGE} }} }}",
        {"input": {"filter": {"currency_in": ["EUR"], "name_in": ["7"], "type_in": ["PREPAID"]}}},
    ),
    "SupportRequest": (
        "query SupportRequest($input: SupportRequestInput!) {"
        f" supportRequest(input: $input) {{ {SUPPORT_REQUEST} }} }}",
        {"input": {"id": 987}},
    ),
    "SupportRequests": (
        "query SupportRequests($input: PaginatedSupportRequestsInput) {"
        f" supportRequests(input: $input) {{ {SUPPORT_REQUEST} }} }}",
        {"input": {"filter": {"categories_in": ["ABUSE_REPORT"], "status": "CLOSED"}}},
    ),
}


def traffic_example() -> tuple[str, dict]:
    """The Traffic example over the last day (the seed's from == to would be refused)."""
    query = (
        "query Traffic($input: TrafficInput!) { traffic(input: $input) { aggregated {"
        f" statisticsIn {{ {STATISTICS} }} statisticsOut {{ {STATISTICS} }} }} }} }}"
    )
    variables = {"input": {"from": _day_ago(), "to": _now(), "filter": {"name_in": ["DP-12345"]}}}
    return query, variables


def _server_mutation(name: str, input_type: str) -> str:
    field = name[0].lower() + name[1:]
    selection = f"{field}(input: $input) {{ server {{ {SERVER} }} }}"
    return f"mutation {name}($input: {input_type}!) {{ {selection} }}"


MUTATIONS: dict[str, tuple[str, dict]] = {
    "ChangeServerIpmiPassword": (
        _server_mutation("ChangeServerIpmiPassword", "ChangeIpmiPasswordInput"),
        {"input": {"password": "1234567890abcdef", "server": DP_12345}},
    ),
    "CreateSupportRequest": (
        "mutation CreateSupportRequest($input: CreateSupportRequestInput!) {"
        " createSupportRequest(input: $input) }",
        {
            "input": {
                "destinations": ["162.151.210.193"],
                "message": "Server cannot connect to Chicago internet exchanges.",
                "priority": "HIGH",
                "servers": ["DP-12345", "DP-12346"],
                "sources": ["Prague", "Chicage"],
                "subject": "HARDWARE_ISSUE",
            }
        },
    ),
    "PerformServerPowerAction": (
        _server_mutation("PerformServerPowerAction", "PerformServerPowerActionInput"),
        {"input": {"action": "CYCLE", "server": DP_12345}},
    ),
    "SetReverseDnsRecord": (
        "mutation SetReverseDnsRecord($input: SetReverseDnsRecordInput!) {"
        f" setReverseDnsRecord(input: $input) {{ ip {{ {IP_ADDRESS} }} }} }}",
        {"input": {"hostname": "example.com.", "ip": "123.213.231.132"}},
    ),
    "SetServerAlias": (
        _server_mutation("SetServerAlias", "SetServerAliasInput"),
        {"input": {"alias": "Load Balancer 01", "server": DP_12345}},
    ),
    "SetServerBootDevice": (
        _server_mutation("SetServerBootDevice", "SetServerBootDeviceInput"),
        {"input": {"bootDevice": "BIOS", "server": DP_12345}},
    ),
    "SetServerTag": (
        "mutation SetServerTag($input: SetServerTagInput!) { setServerTag(input: $input) }",
        {"input": {"key": "env", "server": DP_12345, "value": "production"}},
    ),
    "SetServerTags": (
        "mutation SetServerTags($input: SetServerTagsInput!) { setServerTags(input: $input) }",
        {"input": {"server": DP_12345, "tags": [{"key": "env", "value": "production"}]}},
    ),
    "SupportRequestReply": (
        "mutation SupportRequestReply($input: SupportRequestReplyInput!) {"
        " supportRequestReply(input: $input) }",
        {"input": {"id": 123, "message": "Can you also upgrade the storage to 24 8TB NVMe SSDs?"}},
    ),
    # Last: it moves DP-12345's primary IP, which the DP_12345 identifier above relies on.
    "SetServerPrimaryIp": (
        _server_mutation("SetServerPrimaryIp", "SetServerPrimaryIpInput"),
        {"input": {"ip": "192.168.0.1", "server": DP_12345}},
    ),
}
