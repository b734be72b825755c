"""Enums of the DataPacket schema, plus the gateway's additive members (README "Compatibility")."""

import enum

import strawberry


@strawberry.enum(
    description="Specifies the billing interval unit for subscriptions. Currently supported intervals: MONTH, YEAR."
)
class BillingIntervalUnit(enum.Enum):
    MONTH = strawberry.enum_value(
        "MONTH", description="The billing interval unit for a monthly subscription."
    )
    YEAR = strawberry.enum_value(
        "YEAR", description="The billing interval unit for a yearly subscription."
    )


@strawberry.enum(description="Type of the server boot device.")
class BootDevice(enum.Enum):
    BIOS = strawberry.enum_value("BIOS", description="Set boot into BIOS setup.")
    DIAGNOSTIC = strawberry.enum_value(
        "DIAGNOSTIC", description="Set boot from diagnostic partition."
    )
    DISK = strawberry.enum_value("DISK", description="Set boot from BIOS default boot device.")
    PXE = strawberry.enum_value("PXE", description="Set boot from PXE.")
    SAFE_MODE = strawberry.enum_value(
        "SAFE_MODE", description="Set boot from BIOS default boot device, request Safe Mode."
    )


@strawberry.enum(description="Supported currencies.")
class Currency(enum.Enum):
    EUR = strawberry.enum_value("EUR", description="Euro.")
    GBP = strawberry.enum_value("GBP", description="Pound sterling.")
    USD = strawberry.enum_value("USD", description="United States dollar.")
    AUD = strawberry.enum_value(
        "AUD", description="Australian dollar. FleetQL: Mammoth Cloud bills in AUD."
    )


@strawberry.enum(description="Level of protection available for the DDoS Shield.")
class DdosShieldLevel(enum.Enum):
    FULL = strawberry.enum_value(
        "FULL",
        description="Deployed on dedicated anti-DDoS hardware in each data center. It intercepts L4 protocol-based attacks such as TCP SYN floods and filters malicious packets using custom mitigation techniques.",
    )
    OFF = strawberry.enum_value("OFF", description="No DDoS protection.")
    VOLUMETRIC = strawberry.enum_value(
        "VOLUMETRIC",
        description="Deployed automatically on our edge routers and detects and filters out DDoS attacks through firewall rules. Efficient against NTP, DNS, Memcached, and other simple amplification attacks.",
    )
    UNKNOWN = strawberry.enum_value(
        "UNKNOWN",
        description="FleetQL: the provider does not report a DDoS protection level.",
    )


@strawberry.enum(
    description="List of all possible error codes that can be returned by the API. Error codes are accompanied by an error message. See Error handling section for more information."
)
class ErrorCode(enum.Enum):
    BAD_REQUEST = strawberry.enum_value(
        "BAD_REQUEST",
        description="An error occurred before the GraphQL server could attempt to parse given operation. For example, if the client sends a query with wrong Content-type, the server would return a BAD_REQUEST error.",
    )
    GRAPHQL_VALIDATION_FAILED = strawberry.enum_value(
        "GRAPHQL_VALIDATION_FAILED",
        description="Unable to process a request because it failed to validate the data provided in the request against the server's schema. This error typically occurs when the client sends a query or mutation that contains data that is not in the correct format or is missing required fields. For example, if the server's schema specifies that a certain field must be an integer, but the client sends a string value for that field, the server would return a GRAPHQL_VALIDATION_FAILED error.",
    )
    INTERNAL_SERVER_ERROR = strawberry.enum_value(
        "INTERNAL_SERVER_ERROR",
        description="The server encountered an unexpected condition that prevented it from fulfilling the request. This is a general error code that can be caused by a wide range of issues, such as an unhandled exception or a server-side bug. We are monitoring all issues.",
    )
    NOT_AUTHORIZED = strawberry.enum_value(
        "NOT_AUTHORIZED",
        description="Indicates that the server was unable to process a request because the client is not authorized to perform the requested action. This is typically returned when the client has not provided an authentication token or the token is invalid.",
    )
    NOT_FOUND = strawberry.enum_value(
        "NOT_FOUND",
        description="The server was unable to find the requested resource. For example, if you request a server DP-999999, but there is no such server associated with your account, the server would return a NOT_FOUND error.",
    )
    REVERSE_DNS_API_NOT_AVAILABLE = strawberry.enum_value(
        "REVERSE_DNS_API_NOT_AVAILABLE",
        description="The reverse DNS management API is currently under maintenance. Please try again in 5 minutes.",
    )
    VALIDATION_FAILED = strawberry.enum_value(
        "VALIDATION_FAILED",
        description="The request is formally valid, but the server can't process it due to internal constraints. For example a password change that doesn't meet the minimum length requirement.",
    )
    NOT_SUPPORTED = strawberry.enum_value(
        "NOT_SUPPORTED",
        description="FleetQL: the provider named in extensions.provider cannot perform this operation.",
    )
    RATE_LIMITED = strawberry.enum_value(
        "RATE_LIMITED",
        description="FleetQL: this API token sent too many requests; retry after extensions.retryAfter seconds.",
    )
    PROVIDER_UNAVAILABLE = strawberry.enum_value(
        "PROVIDER_UNAVAILABLE",
        description="FleetQL: the provider named in extensions.provider did not answer usefully (down, timed out, error, malformed reply).",
    )
    IDEMPOTENCY_CONFLICT = strawberry.enum_value(
        "IDEMPOTENCY_CONFLICT",
        description="FleetQL: the mutation sent with this Idempotency-Key ran or is running, and its response cannot be given (still running, or too large to keep); it is not run again.",
    )
    PERSISTED_QUERY_NOT_FOUND = strawberry.enum_value(
        "PERSISTED_QUERY_NOT_FOUND",
        description="FleetQL: the document was sent by its SHA-256 alone and the gateway does not know it; send the request again with the document (automatic persisted queries).",
    )
    PERSISTED_QUERY_NOT_IN_LIST = strawberry.enum_value(
        "PERSISTED_QUERY_NOT_IN_LIST",
        description="FleetQL: the gateway runs only the documents of its manifest, and this one is not among them.",
    )


@strawberry.enum(description="Types of items which can appear on invoice.")
class InvoiceItemType(enum.Enum):
    BGP = strawberry.enum_value("BGP", description="Charge for BGP service setup.")
    CREDIT = strawberry.enum_value(
        "CREDIT", description="Credit added to subscription to be used in further charges."
    )
    DDOS = strawberry.enum_value("DDOS", description="DDOS protection fee charge.")
    DISCOUNT = strawberry.enum_value("DISCOUNT", description="Discount applied to subscription.")
    FEE = strawberry.enum_value(
        "FEE", description="Additional fee which is not covered by other types."
    )
    IP = strawberry.enum_value(
        "IP", description="One time or recurring fee charged for IP address."
    )
    OTHER = strawberry.enum_value(
        "OTHER", description="Any other subscription item (not charge) not covered by other types."
    )
    SERVER = strawberry.enum_value(
        "SERVER", description="Regular recurring fee charged for server."
    )
    TRAFFIC = strawberry.enum_value(
        "TRAFFIC", description="Reccuring price charged for outgoing traffic usage."
    )
    TRAFFIC_OVERAGE = strawberry.enum_value(
        "TRAFFIC_OVERAGE", description="Extra fee, if the traffic usage exceeds the used plan."
    )


@strawberry.enum(description="Type of the invoice, the type can change based on further actions.")
class InvoiceType(enum.Enum):
    DRAFT = strawberry.enum_value(
        "DRAFT",
        description="A preliminary payment request, typically issued for services to be rendered in the upcoming billing period. Draft invoices are not intended for tax reporting or compliance purposes.",
    )
    TAX = strawberry.enum_value(
        "TAX",
        description="An invoice provided to the customer after a service has been provided, used for tax reporting and compliance purposes. Draft invoices are typically converted to tax invoices upon receiving payment for the services rendered.",
    )


@strawberry.enum(
    description="Currently there are two versions of IP addresses in use on the Internet: IPv4 and IPv6."
)
class IpAddressType(enum.Enum):
    IPV4 = strawberry.enum_value("IPV4", description="IPv4 address type.")
    IPV6 = strawberry.enum_value("IPV6", description="IPv6 address type.")


@strawberry.enum(description="The payment method.")
class PaymentMethod(enum.Enum):
    BANK_TRANSFER = strawberry.enum_value("BANK_TRANSFER", description="Bank transfer.")
    CARD = strawberry.enum_value("CARD", description="Card payment.")
    CREDIT_NOTE = strawberry.enum_value("CREDIT_NOTE", description="Cancelled via Credit note.")
    DP_BALANCE = strawberry.enum_value("DP_BALANCE", description="Payment with DP balance.")
    PAYPAL = strawberry.enum_value("PAYPAL", description="PayPal payment.")


@strawberry.enum(description="description")
class PaymentStatus(enum.Enum):
    NOT_PAID = strawberry.enum_value(
        "NOT_PAID", description="Payment has not been made or received."
    )
    PAID = strawberry.enum_value("PAID", description="Payment has been made and received.")
    PAST_DUE = strawberry.enum_value("PAST_DUE", description="Payment is past due date.")


@strawberry.enum(
    description="IPMI power actions that can be performed on a server. For detailed information, see the IPMI specification."
)
class PowerAction(enum.Enum):
    CYCLE = strawberry.enum_value(
        "CYCLE",
        description="Power cycle involves cutting power to the system for at least one second and then restoring it.",
    )
    OFF = strawberry.enum_value(
        "OFF",
        description="Power off the server. WARNING: This command does not initiate a clean shutdown of the operating system prior to powering down the system",
    )
    ON = strawberry.enum_value("ON", description="Power on the server.")
    RESET = strawberry.enum_value("RESET", description="This command will perform a hard reset.")
    SOFT = strawberry.enum_value("SOFT", description="Initiate a soft-shutdown of OS via ACPI.")


@strawberry.enum(description="Power status of the device.")
class PowerStatus(enum.Enum):
    OFF = "OFF"
    ON = "ON"
    UNKNOWN = "UNKNOWN"


@strawberry.enum(
    description="RAID stands for redundant array of independent disks. It is a way of storing the same data on multiple hard drives to improve performance and increase data availability."
)
class Raid(enum.Enum):
    CUSTOM = "CUSTOM"
    NONE = "NONE"
    OTHER = "OTHER"
    RAID_0 = strawberry.enum_value(
        "RAID_0",
        description="This type of RAID uses striping, which means that data is split across multiple disks and written in parallel. This can improve performance because multiple disks can be accessed at the same time. However, RAID 0 provides no data redundancy, so if one of the disks fails, all data on the array is lost.",
    )
    RAID_1 = strawberry.enum_value(
        "RAID_1",
        description="This type of RAID is also known as mirroring. It involves writing the same data to multiple disks, so that if one disk fails, the data can still be accessed from the other disk. This provides improved data availability, but does not improve performance.",
    )
    RAID_5 = strawberry.enum_value(
        "RAID_5",
        description="This type of RAID uses striping and parity, which is a method of error checking. Data is striped across multiple disks, and a parity block is also written to each disk. This allows the array to continue functioning even if one of the disks fails, because the missing data can be reconstructed using the parity information. However, writing data to a RAID 5 array can be slower than writing to a single disk.",
    )
    RAID_6 = strawberry.enum_value(
        "RAID_6",
        description="This is similar to RAID 5, but it uses double parity, which provides even greater data protection. It can continue functioning even if two disks fail at the same time. However, this comes at the cost of reduced performance.",
    )
    RAID_10 = strawberry.enum_value(
        "RAID_10",
        description="This is a combination of RAID 1 and RAID 0. It involves mirroring data across multiple disks, and then striping the mirrored data across even more disks. This provides both improved performance and data availability. However, it requires at least four disks.",
    )
    UNKNOWN = strawberry.enum_value(
        "UNKNOWN", description="FleetQL: the provider does not report the RAID level."
    )


@strawberry.enum(
    description="Deprecated in favour of ServerStatusV2.\nInformation about the server's production status."
)
class ServerStatus(enum.Enum):
    DISCONNECTED = strawberry.enum_value(
        "DISCONNECTED",
        description="Server is disconnected from the network. This is usually due to unpaid invoices.",
        deprecation_reason="This status is no longer used.",
    )
    INSTALLING = strawberry.enum_value(
        "INSTALLING",
        description="Server is being installed with the OS.",
        deprecation_reason="Use ServerStatusV2.WAITING instead.",
    )
    IN_MAINTENANCE = strawberry.enum_value(
        "IN_MAINTENANCE",
        description="There is a maintenance task in progress such as OS reinstall, hardware replacement or reconfiguration.",
        deprecation_reason="Use ServerStatusV2.MAINTENANCE instead.",
    )
    IN_PRODUCTION = strawberry.enum_value(
        "IN_PRODUCTION",
        description="Server is configured and available for use. Access details were delivered to the customer.",
        deprecation_reason="Use ServerStatusV2.ACTIVE instead.",
    )
    PROVISIONING = strawberry.enum_value(
        "PROVISIONING",
        description="Server is being prepared for production. It may include hardware configuration, OS installation, and other tasks.",
        deprecation_reason="Use ServerStatusV2.PROVISIONING instead.",
    )


@strawberry.enum(description="Information about the server's production status.")
class ServerStatusV2(enum.Enum):
    ACTIVE = strawberry.enum_value("ACTIVE", description="Server is in production.")
    MAINTENANCE = strawberry.enum_value("MAINTENANCE", description="Server is in maintenance.")
    PROVISIONING = strawberry.enum_value("PROVISIONING", description="Server is being prepared.")
    UNREACHABLE = strawberry.enum_value(
        "UNREACHABLE", description="Server is unreachable by our monitoring."
    )
    WAITING = strawberry.enum_value("WAITING", description="Server is waiting for deployment.")


@strawberry.enum(description="Type of the storage device.")
class StorageType(enum.Enum):
    EMMC = strawberry.enum_value(
        "EMMC",
        description="An eMMC (Embedded MultiMediaCard) is a type of SSD that is integrated into a device. They are smaller and less expensive than other types of SSDs, but are also slower and have less storage capacity.",
    )
    HDD = strawberry.enum_value(
        "HDD",
        description="An HDD (Hard Disk Drive) is a traditional type of storage that uses spinning disks to store data. HDDs are slower and less reliable than SSDs, but they are also less expensive.",
    )
    NVME = strawberry.enum_value(
        "NVME",
        description="An NVMe (Non-Volatile Memory Express) is a type of SSD that uses the PCIe interface to connect to the motherboard, rather than the SATA interface used by most SSDs. This allows for faster data transfer speeds.",
    )
    SATADOM = strawberry.enum_value(
        "SATADOM",
        description="A SATADOM (SATA Disk on Module) is a type of SSD that uses the same interface as a traditional HDD, but is much smaller and more durable. It is commonly used in servers that have limited space for storage devices.",
    )
    SSD = strawberry.enum_value(
        "SSD",
        description="A SSD (Solid State Drive) is a type of storage that uses non-volatile memory to store data. SSDs are faster and more reliable than traditional HDDs, but they are also more expensive.",
    )


@strawberry.enum(description="Types of items available for subscription.")
class SubscriptionItemType(enum.Enum):
    DDOS = strawberry.enum_value("DDOS", description="DDOS protection fee charge.")
    FEE = strawberry.enum_value(
        "FEE", description="Additional fee which is not covered by other types."
    )
    IP = strawberry.enum_value(
        "IP", description="One time or recurring fee charged for IP address."
    )
    OTHER = strawberry.enum_value(
        "OTHER", description="Any other subscription item (not charge) not covered by other types."
    )
    SERVER = strawberry.enum_value(
        "SERVER", description="Regular recurring fee charged for server."
    )
    TRAFFIC = strawberry.enum_value(
        "TRAFFIC", description="Reccuring price charged for outgoing traffic usage."
    )


@strawberry.enum(description="Supported subscription types.")
class SubscriptionType(enum.Enum):
    PREPAID = strawberry.enum_value("PREPAID", description="Prepaid subscription.")
    TRIAL = strawberry.enum_value("TRIAL", description="Trial subscription.")


@strawberry.enum(description="Category of the support request.")
class SupportRequestCategory(enum.Enum):
    ABUSE_REPORT = strawberry.enum_value(
        "ABUSE_REPORT", description="The support request is an abuse report."
    )
    NETWORK_ISSUE = strawberry.enum_value(
        "NETWORK_ISSUE", description="The support request is a network issue."
    )
    NEW = strawberry.enum_value(
        "NEW",
        description="The support request is a new request which has not been assigned category yet.",
    )
    SALES_INQUIRY = strawberry.enum_value(
        "SALES_INQUIRY", description="The support request is a sales inquiry."
    )
    TECHNICAL_ISSUE = strawberry.enum_value(
        "TECHNICAL_ISSUE", description="The support request is a technical issue."
    )


@strawberry.enum(description="Author group of the post author, staff or user.")
class SupportRequestPostBy(enum.Enum):
    STAFF = strawberry.enum_value(
        "STAFF", description="The post was created by a DataPacket staff member."
    )
    USER = strawberry.enum_value("USER", description="The post was created by a user.")


@strawberry.enum(description="Priority requested for of the support request.")
class SupportRequestPriority(enum.Enum):
    HIGH = strawberry.enum_value(
        "HIGH", description="The support request is to be answered within 2-6 hours."
    )
    NORMAL = strawberry.enum_value(
        "NORMAL",
        description="The support request is to be answered by the following day (within 12-24 hours).",
    )
    URGENT = strawberry.enum_value(
        "URGENT", description="The support request is to be answered as soon as possible."
    )


@strawberry.enum(description="Status of the support request.")
class SupportRequestStatus(enum.Enum):
    CLOSED = strawberry.enum_value(
        "CLOSED", description="The support request is closed and no longer being resolved."
    )
    OPEN = strawberry.enum_value("OPEN", description="The support request is open.")


@strawberry.enum(description="Subject of the support request.")
class SupportRequestSubject(enum.Enum):
    HARDWARE_ISSUE = strawberry.enum_value(
        "HARDWARE_ISSUE",
        description="The support request is a hardware issue such as faulty hardware.",
    )
    HARDWARE_OTHER = strawberry.enum_value(
        "HARDWARE_OTHER",
        description="The support request is a hardware issue different from HARDWARE_ISSUE.",
    )
    NETWORK_ADDITIONAL_IPS = strawberry.enum_value(
        "NETWORK_ADDITIONAL_IPS",
        description="The support request is a network additional IPs issue.",
    )
    NETWORK_BGP = strawberry.enum_value(
        "NETWORK_BGP", description="The support request is a network BGP issue."
    )
    NETWORK_OTHER = strawberry.enum_value(
        "NETWORK_OTHER",
        description="The support request is a network issue different from NETWORK_ROUTING, NETWORK_BGP, NETWORK_ADDITIONAL_IPS.",
    )
    NETWORK_ROUTING = strawberry.enum_value(
        "NETWORK_ROUTING", description="The support request is a network routing issue."
    )
    SALES_BANDWIDTH_PLAN = strawberry.enum_value(
        "SALES_BANDWIDTH_PLAN",
        description="The support request is a sales bandwidth plan issue, such as upgrade or downgrade of server bandwidth plan.",
    )
    SALES_CANCELLATION = strawberry.enum_value(
        "SALES_CANCELLATION", description="The support request is a cancellation issue."
    )
    SALES_OTHER = strawberry.enum_value(
        "SALES_OTHER",
        description="The support request is a sales issue different from SALES_SERVER_ORDER, SALES_PRICING, SALES_BANDWIDTH_PLAN.",
    )
    SALES_PRICING = strawberry.enum_value(
        "SALES_PRICING", description="The support request is an inquiry about pricing."
    )
    SALES_SERVER_ORDER = strawberry.enum_value(
        "SALES_SERVER_ORDER", description="The support request is a sales server order issue."
    )
    SALES_SERVER_UPGRADE = strawberry.enum_value(
        "SALES_SERVER_UPGRADE",
        description="The support request is a sales server upgrade issue, such as RAM or Storage upgrade.",
    )


@strawberry.enum(description="FleetQL: the kinds of backend a provider instance can be.")
class ProviderKind(enum.Enum):
    DATAPACKET = "DATAPACKET"
    PACKET = "PACKET"
    MAMMOTH = "MAMMOTH"
    DASHSERV = "DASHSERV"
    DCIMANAGER = "DCIMANAGER"


@strawberry.enum(description="FleetQL: the state of a provider's circuit breaker.")
class CircuitState(enum.Enum):
    CLOSED = strawberry.enum_value("CLOSED", description="Calls flow normally.")
    OPEN = strawberry.enum_value(
        "OPEN", description="Repeated failures: calls fail fast with PROVIDER_UNAVAILABLE."
    )
    HALF_OPEN = strawberry.enum_value(
        "HALF_OPEN", description="After a pause, one probe call decides whether to close."
    )
