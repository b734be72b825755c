"""Deterministic demo data for the DataPacket emulator: one account and everything it owns.

Entities are plain dicts shaped like the GraphQL types of DataPacket's schema (enum values as
their names, DateTime as ``datetime``), linked to each other by reference, so graphql-core's
default resolvers can walk them. ``build_fleet(size, seed)`` always contains the seed document's
own example entities (server ``DP-12345``, invoice ``DP000123``, subscription ``7``, support
requests ``123`` and ``987``, instant delivery server ``DP-12345``...) so its documented examples
run verbatim, each of them once: no generated server has its alias, addresses or its tag
``env=production``. Everything else comes from ``random.Random(seed)``.
"""

from __future__ import annotations

import ipaddress
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from emulators.datapacket.traffic import TrafficProfile

Entity = dict[str, Any]

# Billing dates hang off the seed's example timestamp, not the wall clock, so they are stable.
BILLING_NOW = datetime(2025, 1, 14, 17, 7, 11, 144000, tzinfo=UTC)
ACCOUNT_CREATED = datetime(2024, 7, 14, 17, 7, 11, 144000, tzinfo=UTC)
ACCOUNT = {
    "name": "Peter Marlowe",
    "email": "peter.marlowe@changi.sg",
    "hostname": "petermarlowe",
    "createdAt": ACCOUNT_CREATED,
}
STAFF = ("John Doe", "example@datapacket.com")

# (name, short, region, weight): London and Amsterdam are common so location filters bite.
LOCATIONS = [
    ("London", "LON", "Europe", 5),
    ("Amsterdam", "AMS", "Europe", 4),
    ("Frankfurt", "FRA", "Europe", 3),
    ("Paris", "PAR", "Europe", 2),
    ("Prague", "PRG", "Europe", 2),
    ("Madrid", "MAD", "Europe", 1),
    ("Stockholm", "STO", "Europe", 1),
    ("New York", "NYC", "North America", 3),
    ("Los Angeles", "LAX", "North America", 2),
    ("Chicago", "CHI", "North America", 1),
    ("Miami", "MIA", "North America", 1),
    ("São Paulo", "SAO", "South America", 1),
    ("Singapore", "SIN", "Asia", 2),
    ("Tokyo", "TYO", "Asia", 1),
    ("Hong Kong", "HKG", "Asia", 1),
    ("Sydney", "SYD", "Oceania", 1),
]
# (cpu name, cpu count, [(disk count, size GB, storage type)], (ram count, ram size GB), price)
HARDWARE = [
    ("Intel Silver 4316", 2, [(2, 500, "SSD")], (4, 32), 349.0),
    ("Intel Xeon E-2388G", 1, [(2, 960, "NVME")], (2, 32), 179.0),
    ("AMD EPYC 7443P", 1, [(2, 3840, "NVME")], (8, 32), 459.0),
    ("AMD Ryzen 9 7950X", 1, [(2, 1920, "NVME")], (2, 64), 239.0),
    ("Intel Xeon Gold 6330", 2, [(1, 64, "SATADOM"), (4, 1920, "SSD")], (8, 64), 689.0),
    ("AMD EPYC 9354", 2, [(8, 7680, "NVME")], (12, 64), 1290.0),
    ("Intel Xeon E-2236", 1, [(2, 8000, "HDD"), (1, 32, "EMMC")], (4, 16), 129.0),
]
# Physical cores per CPU of each HARDWARE model (the vendors' data sheets), for ``Cpu.cores``.
CPU_CORES = {
    "Intel Silver 4316": 20,
    "Intel Xeon E-2388G": 8,
    "AMD EPYC 7443P": 24,
    "AMD Ryzen 9 7950X": 16,
    "Intel Xeon Gold 6330": 28,
    "AMD EPYC 9354": 32,
    "Intel Xeon E-2236": 6,
}
OPERATING_SYSTEMS = [
    "Debian 11",
    "Debian 12",
    "Ubuntu 22.04 LTS",
    "Ubuntu 24.04 LTS",
    "Rocky Linux 9",
    "AlmaLinux 9",
    "Windows Server 2022",
    "Proxmox VE 8",
]
# (traffic plan, uplink Gbps, monthly price when metered else None)
TRAFFIC_PLANS = [
    ("10 Gbps unmetered", 10, None),
    ("1 Gbps unmetered", 1, None),
    ("40 Gbps unmetered", 40, None),
    ("100 TB", 10, 290.0),
    ("250 TB", 20, 590.0),
]
# The seed's tag example, env=production, is "unique for the server": DP-12345's alone.
TAG_VALUES = {
    "env": ["prod", "staging", "dev"],
    "role": ["lb", "web", "db", "cache", "edge"],
    "team": ["web", "data", "ops", "video"],
    "app": ["cdn", "api", "shop", "stream"],
}
# statusV2 -> deprecated status (ServerStatus docs: "Use ServerStatusV2.X instead").
# UNREACHABLE has no deprecated twin; the server is still in production, just not answering.
STATUS_V1 = {
    "ACTIVE": "IN_PRODUCTION",
    "MAINTENANCE": "IN_MAINTENANCE",
    "PROVISIONING": "PROVISIONING",
    "WAITING": "INSTALLING",
    "UNREACHABLE": "IN_PRODUCTION",
}
VAT_PERCENT = {"EUR": 21.0, "GBP": 20.0, "USD": 0.0}
INSTANT_DELIVERY_STOCK = 75


@dataclass
class Fleet:
    """Everything the emulated account owns, with lookup indexes; mutations edit it in place."""

    account: Entity
    servers: list[Entity]  # sorted by name
    subscriptions: list[Entity]  # in creation order
    invoices: list[Entity]  # newest first
    support_requests: list[Entity]  # by id
    instant_delivery: list[Entity]  # sorted by name
    reverse_dns: dict[str, str]
    traffic: dict[str, TrafficProfile]
    next_post_id: int = 1
    #: Switch for tests: the reverse-DNS API answers REVERSE_DNS_API_NOT_AVAILABLE while set.
    reverse_dns_maintenance: bool = False
    #: The time support requests and posts made now are stamped with (tests comparing two
    #: fleets give both the same clock).
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    server_by_name: dict[str, Entity] = field(init=False)

    def __post_init__(self) -> None:
        self.server_by_name = {s["name"]: s for s in self.servers}


def build_fleet(size: int = 40, seed: int = 1, *, examples: bool = True) -> Fleet:
    """Generate ``size`` servers and their billing and tickets.

    With ``examples`` (the default) the fleet holds the seed's DP-12345 and DP-12346; without,
    server numbers have six digits, so a second emulated account never shares a server name.
    """
    if not 2 <= size <= 80_000:
        raise ValueError("size must be between 2 and 80000")
    rng = random.Random(seed)
    if examples:
        numbers = [
            n for n in rng.sample(range(10_000, 99_000), size + 2) if n not in (12345, 12346)
        ]
        names = ["DP-12345", "DP-12346", *(f"DP-{n}" for n in numbers[: size - 2])]
        servers = [_example_server()]
        servers += [_server(rng, i, name) for i, name in enumerate(names[1:], 1)]
    else:
        names = [f"DP-{n}" for n in rng.sample(range(100_000, 999_999), size)]
        servers = [_server(rng, i, name) for i, name in enumerate(names)]
    for one in servers:
        _add_observed_fields(one)
    if size >= 4:  # ServerInput: "Make sure all server aliases are unique" - so duplicates exist.
        servers[-1]["alias"] = servers[-2]["alias"] = "Backup"
    subscriptions = _subscriptions(rng, servers)
    invoices = _invoices(rng, subscriptions)
    fleet = Fleet(
        account=dict(ACCOUNT),
        servers=sorted(servers, key=lambda s: s["name"]),
        subscriptions=subscriptions,
        invoices=invoices,
        support_requests=[],
        instant_delivery=_instant_delivery(rng),
        reverse_dns=_reverse_dns(rng, servers),
        traffic={s["name"]: TrafficProfile.random(rng, s["powerStatus"] == "ON") for s in servers},
    )
    _support_requests(rng, fleet, names)
    return fleet


def _add_observed_fields(server: Entity) -> None:
    """The live API's fields beyond the documentation (``schema/datapacket-observed.graphql``).

    Derived from the server's documented facts, so they never disagree with them: the
    operating system again as ``operatingSystem``, link aggregation on uplinks of 20 Gbps and
    more (bonded ports), and the traffic plan's kind and bandwidth (``_hardware`` adds each
    CPU's cores and one ``storage`` entry per drive). No public client shows ``deviceType``
    values; every emulated server is a dedicated one, so it reads "DEDICATED".
    """
    network, plan = server["network"], server["trafficPlan"]
    server["deviceType"] = "DEDICATED"
    server["system"]["operatingSystem"] = server["system"]["os"]
    network["hasLinkAggregation"] = network["uplinkCapacity"] >= 20
    unmetered = plan["name"].endswith("unmetered")
    plan["type"] = "UNMETERED" if unmetered else "METERED"
    plan["bandwidth"] = float(network["uplinkCapacity"])


def _location(rng: random.Random) -> Entity:
    name, short, region, _ = rng.choices(LOCATIONS, weights=[loc[3] for loc in LOCATIONS])[0]
    return {"name": name, "short": short, "region": region}


def _hardware(config: tuple) -> Entity:
    cpu, cpu_count, disks, (ram_count, ram_size), _ = config
    return {
        "cpus": [{"count": cpu_count, "name": cpu, "cores": CPU_CORES[cpu]}],
        "hdds": [{"count": c, "storage": {"size": s, "type": t}} for c, s, t in disks],
        "rams": [{"count": ram_count, "size": ram_size}],
        # Observed field: one entry per drive.
        "storage": [{"size": s, "type": t} for c, s, t in disks for _ in range(c)],
    }


def _raid(rng: random.Random, config: tuple) -> str:
    disks = max(count for count, _, _ in config[2])
    if disks == 1:
        return "NONE"
    if disks == 2:
        return rng.choice(["RAID_1", "RAID_1", "RAID_0", "NONE"])
    return rng.choice(["RAID_10", "RAID_5", "RAID_6", "CUSTOM", "OTHER"])


def _ipv4(
    ip: str, cidr: str, gateway: str | None, net: str, bcast: str, mask: str, primary: bool
) -> Entity:
    return {
        "ip": ip,
        "cidr": cidr,
        "gateway": gateway,
        "network": net,
        "broadcast": bcast,
        "netMask": mask,
        "isPrimary": primary,
        "isBgpPrefix": False,
        "type": "IPV4",
    }


def _ipv6(index: int) -> Entity:
    prefix = f"2a02:6ea0:{0x1000 + index:x}"
    return {
        "ip": f"{prefix}::2",
        "cidr": f"{prefix}::2/64",
        "gateway": f"{prefix}::1",
        "network": f"{prefix}::",
        "broadcast": None,
        "netMask": "ffff:ffff:ffff:ffff::",
        "isPrimary": False,
        "isBgpPrefix": False,
        "type": "IPV6",
    }


def _ipv4_in(net: ipaddress.IPv4Network, host: str, *, primary: bool, routed: bool) -> Entity:
    """An IPv4 address of ``net``; a routed block has the first host as its gateway."""
    gateway = str(net.network_address + 1) if routed else None
    return _ipv4(
        host,
        f"{host}/{net.prefixlen}",
        gateway,
        str(net.network_address),
        str(net.broadcast_address),
        str(net.netmask),
        primary,
    )


def _ip_addresses(rng: random.Random, index: int, has_bgp: bool) -> list[Entity]:
    """A /26 per server (primary, sometimes a second IPv4), an IPv6 /64, and a BGP /24 if any."""
    net = ipaddress.IPv4Network((int(ipaddress.IPv4Address("185.156.0.0")) + 64 * index, 26))
    host = net.network_address + rng.randint(2, 60)
    addresses = [_ipv4_in(net, str(host), primary=True, routed=True)]
    if rng.random() < 0.4:
        addresses.append(_ipv4_in(net, str(host + 1), primary=False, routed=True))
    addresses.append(_ipv6(index))
    if has_bgp:
        prefix = ipaddress.IPv4Network(f"193.{9 + index // 256 % 200}.{index % 256}.0/24")
        bgp = _ipv4_in(prefix, str(prefix.network_address), primary=False, routed=False)
        addresses.append({**bgp, "isBgpPrefix": True})
    return addresses


def _tags(rng: random.Random) -> list[Entity]:
    keys = rng.sample(sorted(TAG_VALUES), rng.randint(0, 4))
    return [{"key": k, "value": rng.choice(TAG_VALUES[k])} for k in sorted(keys)]


def _server(rng: random.Random, index: int, name: str) -> Entity:
    config = rng.choice(HARDWARE)
    plan, uplink, _ = rng.choice(TRAFFIC_PLANS)
    status = rng.choices(list(STATUS_V1), weights=[80, 5, 5, 5, 5])[0]
    if status == "UNREACHABLE":
        power = "UNKNOWN"
    elif status in ("PROVISIONING", "WAITING"):
        power = "OFF"
    else:
        power = "ON" if rng.random() < 0.9 else "OFF"
    has_bgp = rng.random() < 0.15
    tags = _tags(rng)
    role = next((t["value"] for t in tags if t["key"] == "role"), "srv")
    return {
        "name": name,
        "alias": f"{role}-{index:02d}" if rng.random() < 0.5 else None,
        "hostname": f"petermarlowe-{100 + index}",
        "location": _location(rng),
        "hardware": _hardware(config),
        "network": {
            "ddosShieldLevel": rng.choices(["VOLUMETRIC", "FULL", "OFF"], weights=[6, 2, 1])[0],
            "hasBgp": has_bgp,
            "ipAddresses": _ip_addresses(rng, index, has_bgp),
            "ipmi": {
                "ip": f"10.111.{index // 254}.{index % 254 + 1}",
                "username": rng.choice(["admin", "ADMIN"]),
            },
            "uplinkCapacity": uplink,
        },
        "powerStatus": power,
        "statusV2": status,
        "status": STATUS_V1[status],
        "system": {"os": {"name": rng.choice(OPERATING_SYSTEMS)}, "raid": _raid(rng, config)},
        "tags": tags,
        "trafficPlan": {"name": plan},
        "uptime": rng.randint(1, 900) if power == "ON" else 0,
        "_price": config[4],
    }


def _example_server() -> Entity:
    """``DP-12345`` exactly as the seed's Server, IpAddress, Ipmi and Location examples show it."""
    lb = _ipv4(
        "123.213.231.132",
        "123.213.231.132/26",
        "123.213.231.101",
        "123.213.231.100",
        "123.213.231.255",
        "255.255.255.192",
        True,
    )
    # SetServerPrimaryIpInput's example uses 192.168.0.1; a private address makes it runnable.
    private_net = ipaddress.IPv4Network("192.168.0.0/24")
    private = _ipv4_in(private_net, "192.168.0.1", primary=False, routed=False)
    return {
        "name": "DP-12345",
        "alias": "Load Balancer 01",
        "hostname": "petermarlowe-45",
        "location": {"name": "London", "short": "LON", "region": "Europe"},
        "hardware": _hardware(HARDWARE[0]),
        "network": {
            "ddosShieldLevel": "FULL",
            "hasBgp": False,
            "ipAddresses": [lb, private, _ipv6(0)],
            "ipmi": {"ip": "10.110.120.130", "username": "admin"},
            "uplinkCapacity": 40,
        },
        "powerStatus": "ON",
        "statusV2": "ACTIVE",
        "status": "IN_PRODUCTION",
        "system": {"os": {"name": "Debian 11"}, "raid": "RAID_1"},
        "tags": [{"key": "env", "value": "production"}, {"key": "role", "value": "lb"}],
        "trafficPlan": {"name": "10 Gbps unmetered"},
        "uptime": 123,
        "_price": HARDWARE[0][4],
    }


def _item(kind: str, currency: str, price: float, description: str, **detail: Any) -> Entity:
    return {
        "type": kind,
        "currency": currency,
        "price": price,
        "description": description,
        "subscriptionItemDetail": {
            "server": detail.get("server"),
            "trafficPlan": detail.get("plan"),
        },
    }


def _server_items(server: Entity, currency: str) -> list[Entity]:
    name = server["name"]
    main = _item("SERVER", currency, server.pop("_price"), f"Server {name}", server=server)
    server["billing"] = {"subscriptionItem": main}
    items = [main]
    plan = server["trafficPlan"]
    price = next(p for n, _, p in TRAFFIC_PLANS if n == plan["name"])
    if price is not None:
        items.append(_item("TRAFFIC", currency, price, f"{plan['name']} for {name}", plan=plan))
    if server["network"]["ddosShieldLevel"] == "FULL":
        items.append(_item("DDOS", currency, 50.0, f"DDoS Shield for {name}", server=server))
    extra_ips = sum(1 for a in server["network"]["ipAddresses"] if a["type"] == "IPV4") - 1
    if extra_ips:
        items.append(
            _item("IP", currency, 2.5 * extra_ips, f"Extra IPv4 for {name}", server=server)
        )
    return items


def _subscriptions(rng: random.Random, servers: list[Entity]) -> list[Entity]:
    """Group servers (in generation order) into subscriptions named "7", "8", ...

    Subscription "7" holds DP-12345 and DP-12346 and is EUR/PREPAID as in the seed's examples.
    """
    groups = [servers[:2]]
    rest = servers[2:]
    while rest:
        take = rng.randint(1, 5)
        groups.append(rest[:take])
        rest = rest[take:]
    subscriptions = []
    for number, group in enumerate(groups, 7):
        first = number == 7
        currency = "EUR" if first else rng.choices(["EUR", "USD", "GBP"], weights=[7, 2, 1])[0]
        kind = "PREPAID" if first or rng.random() < 0.9 else "TRIAL"
        created = ACCOUNT_CREATED + (timedelta(0) if first else timedelta(days=rng.randint(0, 150)))
        items = [item for server in group for item in _server_items(server, currency)]
        subscriptions.append(
            {
                "name": str(number),
                "type": kind,
                "currency": currency,
                "createdAt": created,
                "billingCycle": _billing_cycle(rng, created) if kind == "PREPAID" else None,
                "subscriptionItems": items,
                "subtotal": round(sum(i["price"] for i in items), 2),
                "invoices": [],
            }
        )
    return subscriptions


def _billing_cycle(rng: random.Random, created: datetime) -> Entity:
    if rng.random() < 0.85:
        return {"unit": "MONTH", "quantity": rng.choice([1, 1, 1, 3, 6]), "start": created.day}
    return {"unit": "YEAR", "quantity": 1, "start": created.month}


def _month_starts() -> list[datetime]:
    """First instants of the four calendar months up to and including BILLING_NOW's month."""
    starts = [datetime(2025, 1, 1, tzinfo=UTC)]
    while len(starts) < 4:
        prev = starts[0] - timedelta(days=1)
        starts.insert(0, datetime(prev.year, prev.month, 1, tzinfo=UTC))
    return starts


def _invoices(rng: random.Random, subscriptions: list[Entity]) -> list[Entity]:
    """Monthly invoices for prepaid subscriptions, numbered in time order from DP000123."""
    invoices = []
    months = _month_starts()
    for m, start in enumerate(months):
        next_start = months[m + 1] if m + 1 < len(months) else datetime(2025, 2, 1, tzinfo=UTC)
        end = next_start - timedelta(milliseconds=1)
        for sub in subscriptions:
            if sub["type"] != "PREPAID" or sub["createdAt"] > end:
                continue
            invoice = _invoice(rng, f"DP{123 + len(invoices):06d}", sub, start, end)
            sub["invoices"].append(invoice)
            invoices.append(invoice)
    return invoices[::-1]


def _invoice(
    rng: random.Random, number: str, sub: Entity, start: datetime, end: datetime
) -> Entity:
    currency, vat = sub["currency"], VAT_PERCENT[sub["currency"]]
    items = [
        {
            "amount": item["price"],
            "currency": currency,
            "description": item["description"],
            "quantity": 1.0,
            "type": item["type"],
            "unitPrice": item["price"],
            "vatPercent": vat,
        }
        for item in sub["subscriptionItems"]
    ]
    subtotal = round(sum(i["amount"] for i in items), 2)
    total_vat = round(subtotal * vat / 100, 2)
    due = start + timedelta(days=14)
    if due < BILLING_NOW - timedelta(days=20) or rng.random() < 0.3:
        paid_on = start + timedelta(days=rng.randint(0, 10), hours=rng.randint(0, 23))
        method = rng.choice(["BANK_TRANSFER", "CARD", "PAYPAL", "DP_BALANCE"])
        payment = {"status": "PAID", "method": method, "paidOn": paid_on}
    else:
        status = "PAST_DUE" if due < BILLING_NOW else "NOT_PAID"
        payment = {"status": status, "method": None, "paidOn": None}
    return {
        "invoiceNumber": number,
        "invoiceType": "TAX" if payment["status"] == "PAID" else "DRAFT",
        "createdAt": start,
        "dueDate": due,
        "currency": currency,
        "period": {"from": start, "to": end},
        "invoiceItems": items,
        "payment": payment,
        "subscription": sub,
        "subtotal": subtotal,
        "totalVat": total_vat,
        "total": round(subtotal + total_vat, 2),
    }


def _instant_delivery(rng: random.Random) -> list[Entity]:
    """The stock, sorted by name; the first is the seed's example ``DP-12345`` in London."""
    stock = [
        {
            "name": f"DP-{99001 + i}",
            "location": _location(rng),
            "hardware": _hardware(rng.choice(HARDWARE)),
            "uplinkCapacity": rng.choice([1, 10, 10, 20, 40]),
        }
        for i in range(INSTANT_DELIVERY_STOCK)
    ]
    # InstantDeliveryServerInput's example name and InstantDeliveryServersInput's example
    # filter (London, Europe, DP-12345) select this entry.
    stock[0]["name"] = "DP-12345"
    stock[0]["location"] = {"name": "London", "short": "LON", "region": "Europe"}
    return stock


def _reverse_dns(rng: random.Random, servers: list[Entity]) -> dict[str, str]:
    records = {"123.213.231.132": "example.com."}
    for server in servers[1:]:
        if rng.random() < 0.3:
            ip = server["network"]["ipAddresses"][0]["ip"]
            records[ip] = f"{server['hostname']}.petermarlowe.com."
    return records


# (subject, category, status) for generated tickets; 987 matches the seed's SupportRequest example.
TICKETS = [
    ("RAM upgrade request.", "ABUSE_REPORT", "CLOSED"),
    ("Packet loss towards Chicago", "NETWORK_ISSUE", "OPEN"),
    ("Quote for 10 more servers in Tokyo", "SALES_INQUIRY", "CLOSED"),
    ("Disk SMART errors", "TECHNICAL_ISSUE", "OPEN"),
    ("Outgoing port scan reported", "ABUSE_REPORT", "OPEN"),
    ("New request", "NEW", "OPEN"),
]


def _support_requests(rng: random.Random, fleet: Fleet, names: list[str]) -> None:
    """Tickets 123 (SupportRequestReplyInput's example), 987 (SupportRequestInput's), 988, ..."""
    count = max(3, len(names) // 8)
    ids = [123, *range(987, 987 + count - 1)]
    for n, ticket_id in enumerate(ids):
        subject, category, status = TICKETS[(n + len(TICKETS) - 1) % len(TICKETS)]
        created = BILLING_NOW - timedelta(days=rng.randint(1, 150), minutes=rng.randint(0, 1440))
        request = new_support_request(fleet, ticket_id, subject, category, created)
        request["status"] = status
        for reply in range(rng.randint(1, 3)):
            by_staff = reply % 2 == 0
            text = (
                "We are looking into it." if by_staff else f"Affected server: {rng.choice(names)}"
            )
            at = created + timedelta(hours=4 * (reply + 1))
            add_post(fleet, request, text, at, by_staff=by_staff)
        fleet.support_requests.append(request)


def new_support_request(
    fleet: Fleet, ticket_id: int, subject: str, category: str, at: datetime, message: str = ""
) -> Entity:
    """A ticket opened by the account holder, with its opening post."""
    request = {
        "id": ticket_id,
        "subject": subject,
        "category": category,
        "status": "OPEN",
        "fullName": fleet.account["name"],
        "email": fleet.account["email"],
        "createdAt": at,
        "posts": [],
    }
    add_post(fleet, request, message or subject, at, by_staff=False)
    return request


def add_post(fleet: Fleet, request: Entity, text: str, at: datetime, *, by_staff: bool) -> None:
    """Append a post; ``numberOfReplies`` counts posts after the opening one."""
    full_name, email = STAFF if by_staff else (fleet.account["name"], fleet.account["email"])
    post = {
        "id": fleet.next_post_id,
        "contents": text,
        "createdAt": at,
        "email": email,
        "fullName": full_name,
        "postBy": "STAFF" if by_staff else "USER",
    }
    fleet.next_post_id += 1
    request["posts"].append(post)
    request["numberOfReplies"] = len(request["posts"]) - 1
    request["lastReplyAt"] = request["updatedAt"] = at
