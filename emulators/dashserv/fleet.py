"""Seeded data of the dashserv emulator: locations, marketplace models, dedicated servers,
vServers, and their power state, shaped as in the seed.

Everything is derived from ``random.Random(seed)``, so the same ``(size, seed)`` gives the
same account. A power change takes time: it is stored as "target + due time" and applied
lazily by ``Fleet.settle(now)``.
"""

from __future__ import annotations

import copy
import math
import random
import string
import time
from dataclasses import dataclass, field
from typing import Any

Entity = dict[str, Any]

CUSTOMER = 14810
_ALPHABET = string.ascii_letters + string.digits


def _location(
    uuid: str, name: str, country_de: str, country: str, lat: float, lon: float
) -> Entity:
    return {
        "uuid": uuid,
        "display": {"name": name, "country": country_de, "advantages": []},
        "country": country,
        "location": {"latitude": lat, "longitude": lon},
        "priceMultiplier": 1,
    }


#: The seed's own location first, then the cities the combined demo shares with other providers.
LOCATIONS: list[Entity] = [
    _location("kc7aV", "Skylink, Eygelshoven", "Niederlande", "NL", 50.1223792, 8.7425231),
    _location("aM7eQ", "Equinix AM7, Amsterdam", "Niederlande", "NL", 52.3036, 4.9384),
    _location("fR4mC", "maincubes FRA01, Frankfurt am Main", "Deutschland", "DE", 50.1187, 8.7378),
    _location("lN2tH", "Telehouse North, London", "Vereinigtes Königreich", "GB", 51.5116, -0.0017),
    _location("nY5eQ", "Equinix NY5, New York", "Vereinigte Staaten", "US", 40.7786, -74.0703),
    _location("sG1eQ", "Equinix SG1, Singapur", "Singapur", "SG", 1.3233, 103.8946),
    _location("dU1iX", "Interxion DUS1, Düsseldorf", "Deutschland", "DE", 51.2567, 6.7466),
]
#: Weights of LOCATIONS for servers: Eygelshoven is home, the five shared cities are common.
_LOCATION_WEIGHTS = [3, 3, 4, 3, 2, 2, 1]


def _model(
    uuid: str,
    cpu: tuple[str, str, int, int, float, float],
    ram: tuple[int, int, str],
    disks: list[tuple[str, str, int]],
    price: int,
    *,
    stock: int,
    preorder: bool,
    uplink: int = 2,
) -> Entity:
    cpu_name, cpu_model, cores, threads, base, turbo = cpu
    all_disks = [
        {"name": f"{capacity} GB {label}", "type": kind, "capacity": str(capacity)}
        for label, kind, capacity in disks
    ]
    disk_string = f"{len(all_disks)}x {all_disks[0]['name']}"
    return {
        "uuid": uuid,
        "allowPreorder": preorder,
        "stock": stock,
        "product": f"dedicated-server:{uuid}",
        "visible": "0",
        "string": f"{cpu_name} - {ram[0]} GB RAM - {disk_string}",
        "cpu": {
            "amount": 1,
            "model": cpu_model,
            "name": cpu_name,
            "cores": cores,
            "threads": threads,
            "frequency": {"base": base, "turbo": turbo},
        },
        "ram": {
            "amount": ram[0],
            "sticks": ram[1],
            "max": 4,
            "model": ram[2],
            "type": "DDR4" if "DDR4" in ram[2] else "DDR3",
        },
        "disks": {"all": all_disks, "string": disk_string, "maxCapacity": 2},
        "network": {"bandwith": {"amount": uplink, "quantity": 1000}},  # sic, as the seed
        "price": {"monthly": price, "setup": 0},
    }


_SAMSUNG_DDR3 = "Samsung M391B1G73QH0-YK0 @ 1600 MHz"
_SAMSUNG_DDR4 = "Samsung M391A2K43BB1-CTD DDR4 @ 2666 MHz"

#: Marketplace models: the seed's three (h5HGC, Fzasc, BSDcu) and three more. The value of
#: MODEL_LOCATION is where the model's hardware stands (one location per model).
MODELS: list[Entity] = [
    _model(
        "h5HGC",
        ("Intel Xeon E3-1270v2", "Intel(R) Xeon(R) CPU E3-1270v2 @ 3.50GHz", 4, 8, 3.5, 3.9),
        (32, 8, _SAMSUNG_DDR3),
        [("DC SSD", "SSD", 250)] * 2,
        42,
        stock=0,
        preorder=False,
    ),
    _model(
        "Fzasc",
        ("Intel Xeon E3-1230v2", "Intel(R) Xeon(R) CPU E3-1230v2 @ 3.30GHz", 4, 8, 3.3, 3.7),
        (32, 8, _SAMSUNG_DDR3),
        [("SSD", "SSD", 250)],
        35,
        stock=2,
        preorder=False,
    ),
    _model(
        "BSDcu",
        ("Intel Xeon E3-1231v3", "Intel(R) Xeon(R) CPU E3-1231v3 @ 3.50GHz", 4, 8, 3.4, 3.8),
        (32, 8, _SAMSUNG_DDR3),
        [("SSD", "SSD", 250)],
        39,
        stock=1,
        preorder=True,
    ),
    _model(
        "rY36n",
        ("AMD Ryzen 5 3600", "AMD Ryzen 5 3600 6-Core Processor", 6, 12, 3.6, 4.2),
        (64, 4, _SAMSUNG_DDR4),
        [("NVMe SSD", "NVMe", 512)] * 2,
        59,
        stock=3,
        preorder=True,
    ),
    _model(
        "xE22q",
        ("Intel Xeon E-2236", "Intel(R) Xeon(R) E-2236 CPU @ 3.40GHz", 6, 12, 3.4, 4.8),
        (64, 4, _SAMSUNG_DDR4),
        [("DC SSD", "SSD", 960)] * 2,
        79,
        stock=2,
        preorder=False,
        uplink=10,
    ),
    _model(
        "eP73s",
        ("AMD EPYC 7302P", "AMD EPYC 7302P 16-Core Processor", 16, 32, 3.0, 3.3),
        (128, 8, _SAMSUNG_DDR4),
        [("HDD", "HDD", 4000)] * 4,
        149,
        stock=1,
        preorder=False,
        uplink=10,
    ),
]
MODEL_LOCATION = {
    "h5HGC": "kc7aV",
    "Fzasc": "aM7eQ",
    "BSDcu": "fR4mC",
    "rY36n": "lN2tH",
    "xE22q": "nY5eQ",
    "eP73s": "sG1eQ",
}

#: vServer images (seed "Get available images"), one per vServer.
IMAGES: list[Entity] = [
    {
        "name": name,
        "group": group,
        "displayName": display,
        "version": version,
        "type": "QEMU",
        "visible": True,
    }
    for name, group, display, version in [
        ("centos8", "centos", "CentOS 8", "8"),
        ("debian10", "debian", "Debian 10", "10"),
        ("debian11", "debian", "Debian 11 - Eingeschränkt", "11"),
        ("fedora32", "fedora", "Fedora 32", "32"),
        ("ubuntu16_04", "ubuntu", "Ubuntu 16.04", "16.04"),
        ("ubuntu18_04", "ubuntu", "Ubuntu 18.04", "18.04"),
        ("ubuntu19_10", "ubuntu", "Ubuntu 19.10", "19.10"),
        ("ubuntu20_04", "ubuntu", "Ubuntu 20.04", "20.04"),
        ("windows2019", "windows", "Windows Server 2019", "2019"),
    ]
]

#: Dedicated-server OS templates (seed "Get templates"), grouped per distribution.
TEMPLATES: dict[str, list[Entity]] = {
    "centos": [
        {"id": 260, "name": "CentOS 6"},
        {"id": 261, "name": "CentOS 7"},
        {"id": 280, "name": "CentOS 8"},
    ],
    "debian": [
        {"id": 262, "name": "Debian 8 (Jessie)"},
        {"id": 263, "name": "Debian 9 (Stretch)"},
        {"id": 278, "name": "Debian 10 (Buster)"},
        {"id": 295, "name": "Debian 11 (Bullseye)"},
    ],
    "proxmox": [{"id": 301, "name": "Proxmox VE 6"}, {"id": 302, "name": "Proxmox VE 7"}],
    "ubuntu": [{"id": 290, "name": "Ubuntu 20.04"}, {"id": 310, "name": "Ubuntu 22.04"}],
}

#: vServer plans: (cores, ram GB, disk GB, monthly price).
VSERVER_PLANS = [(1, 2, 40, 2.17), (2, 4, 80, 4.99), (4, 8, 160, 9.99), (8, 16, 320, 19.99)]

#: The order period of a product info's ``pricing`` (seed "Get product pricing / options").
PERIODS: list[Entity] = [
    {
        "uuid": "Oha73a",
        "displayName": "1 Monat",
        "periodLength": 2592000,
        "lockedLength": 604800,
        "totalPercentage": 1,
        "priceMultiplier": 1,
        "renewNotifications": [604800, 259200, 86400],
    },
]

BASE_UNIX = 1_640_000_000


@dataclass
class Pending:
    """A state change that lands at ``due`` (epoch seconds)."""

    value: Any
    due: float


@dataclass
class Product:
    """One product of the account: its API object plus the emulator's private state."""

    kind: str  # "dedicated-server" | "vserver"
    obj: Entity
    power: str = "online"
    pending_power: Pending | None = None
    # Dedicated only.
    ips: list[Entity] = field(default_factory=list)
    installation: Entity = field(default_factory=dict)
    # vServer only.
    stats_seed: int = 0
    booted: float = 0.0

    @property
    def uuid(self) -> str:
        return self.obj["uuid"]


class Fleet:
    """The emulated account. Every handler calls ``settle(now)`` first."""

    def __init__(self, size: int, seed: int) -> None:
        self.rng = random.Random(seed)
        self.models: list[Entity] = copy.deepcopy(MODELS)
        self.products: list[Product] = []
        self._used: set[str] = {m["uuid"] for m in self.models} | {x["uuid"] for x in LOCATIONS}
        self._ip_counter = 0
        for index in range(size):
            location = self.rng.choices(LOCATIONS, _LOCATION_WEIGHTS)[0]
            # Roughly three dedicated servers for every two vServers.
            if index % 5 in (1, 3):
                self.products.append(self.new_vserver(location, self.rng.choice(VSERVER_PLANS)))
            else:
                self.products.append(self.new_dedicated(location, self.rng.choice(self.models)))
        for product in self.products:
            product.power = "offline" if self.rng.random() < 0.15 else "online"

    # --- lookups ------------------------------------------------------------------------

    def find(self, kind: str, uuid: str) -> Product | None:
        """The product of ``kind`` with ``uuid``."""
        return next((p for p in self.products if p.kind == kind and p.uuid == uuid), None)

    def model(self, uuid: str) -> Entity | None:
        """A marketplace model by uuid."""
        return next((m for m in self.models if m["uuid"] == uuid), None)

    def new_uuid(self, length: int = 5) -> str:
        """A fresh short alphanumeric id, like the seed's ("o3qzt", "sMe9PE")."""
        while True:
            uuid = "".join(self.rng.choice(_ALPHABET) for _ in range(length))
            if uuid not in self._used:
                self._used.add(uuid)
                return uuid

    # --- time ---------------------------------------------------------------------------

    def settle(self, now: float) -> None:
        """Apply every power change that is due."""
        for product in self.products:
            if product.pending_power and product.pending_power.due <= now:
                product.power = product.pending_power.value
                if product.power == "online":
                    product.booted = product.pending_power.due
                product.pending_power = None

    # --- builders -----------------------------------------------------------------------

    def _payment(self, product_name: str, uuid: str, monthly: float, created: int) -> Entity:
        hours = self.rng.randint(1, 700)
        hourly = round(monthly / 720, 5)
        return {
            "uuid": self.new_uuid(),
            "state": "waiting",
            "type": "hourly",
            "price": monthly,
            "customer": CUSTOMER,
            "period": None,
            "product": {"name": product_name, "uuid": uuid, "realName": None},
            "data": None,
            "deletion": None,
            "autoRenew": False,
            "coupon": None,
            "unix": created,
            "transaction": {"last": None, "next": None},
            "hourly": {
                "uuid": self.new_uuid(),
                "billed": False,
                "price": {
                    "hourly": hourly,
                    "monthly": monthly,
                    "hours": hours,
                    "current": round(hourly * hours, 5),
                },
                "payment": {
                    "month": time.strftime("%m-%Y", time.gmtime(created)),
                    "start": created,
                    "end": None,
                },
                "product": {"name": product_name, "uuid": uuid},
            },
        }

    def _ip(
        self,
        ip: str,
        kind: str,
        subnet: Entity,
        product: Entity,
        status: str = "GIVEN",
        layer7: str | None = "only_off",
    ) -> Entity:
        created = str(BASE_UNIX - self.rng.randint(10**6, 4 * 10**7))
        return {
            "uuid": self.new_uuid(),
            "ip": ip,
            "userid": CUSTOMER,
            "status": status,
            "subnet": subnet,
            "type": kind,
            "product": product,
            "unix": {"created": created, "userchange": str(BASE_UNIX)},
            "settings": {
                "layer7": layer7,
                "layer4": "dynamic" if layer7 else None,
                "rdns": None,
                "alert": True,
            },
            "customName": None,
        }

    def _ipv4_block(self, prefix: int) -> tuple[Entity, list[str]]:
        """A fresh IPv4 subnet of a dedicated server, inside 185.117.0.0/16."""
        self._ip_counter += 1
        size = 2 ** (32 - prefix)
        first = ((185 << 24) | (117 << 16)) + self._ip_counter * size
        octets = lambda n: ".".join(str((n >> s) & 255) for s in (24, 16, 8, 0))  # noqa: E731
        subnet = {
            "uuid": self.new_uuid(),
            "status": "AVAILABLE",
            "netaddress": octets(first),
            "prefix": prefix,
            "netmask": octets((2**32 - size) & 0xFFFFFFFF),
            "gateway": octets(first + 1),
        }
        return subnet, [octets(first + offset) for offset in range(2, size - 1)]

    def _ipv6(self, product: Entity) -> Entity:
        net = f"2a0e:4201:a120:{self._ip_counter:x}::"
        subnet = {
            "uuid": self.new_uuid(),
            "status": "AVAILABLE",
            "netaddress": net,
            "prefix": 64,
            "netmask": net,
            "gateway": f"{net}1",
        }
        return self._ip(f"{net}{self.rng.randint(2, 4000):x}", "IPv6", subnet, product)

    def new_dedicated(self, location: Entity, model: Entity) -> Product:
        """A deployed dedicated server of ``model`` in ``location``."""
        uuid = self.new_uuid()
        created = BASE_UNIX - self.rng.randint(0, 3 * 10**7)
        product_name = model["product"]
        device_model = {**copy.deepcopy(model), "stock": 0}
        obj = {
            "uuid": uuid,
            "customer": CUSTOMER,
            "payment": self._payment(product_name, uuid, model["price"]["monthly"] * 0.85, created),
            "status": "okay",
            "name": f"kd{self.rng.randint(10000, 99999)}",
            "unix": created + 2149,
            "device": {
                "uuid": self.new_uuid(6),
                "status": "ready",
                "unix": created - self.rng.randint(10**6, 3 * 10**7),
                "model": device_model,
                "location": copy.deepcopy(location),
                "visible": True,
                "network": {"billId": None},
            },
        }
        ref = {"name": product_name, "uuid": uuid}
        subnet, hosts = self._ipv4_block(29)
        ips = [self._ip(hosts[0], "IPv4", subnet, ref, layer7="only_on")]
        ips += [
            self._ip(h, "IPv4", subnet, ref, status="AVAILABLE", layer7=None) for h in hosts[1:3]
        ]
        if self.rng.random() < 0.5:
            ips.append(self._ipv6(ref))
        os_name = self.rng.choice([n for g in TEMPLATES.values() for n in g])["name"]
        installation = {
            "installation": False,
            "log": None,
            "os": os_name,
            "mac": ":".join(f"{self.rng.randint(0, 255):02X}" for _ in range(6)),
            "ssh": {"root": self.new_uuid(8), "user": self.new_uuid(8)},
        }
        return Product(DEDICATED, obj, ips=ips, installation=installation)

    def new_vserver(self, location: Entity, plan: tuple) -> Product:
        """A deployed vServer with ``plan`` = (cores, ram, disk, monthly price)."""
        cores, ram, disk, price = plan
        uuid = self.new_uuid()
        created = BASE_UNIX - self.rng.randint(0, 3 * 10**7)
        image = copy.deepcopy(self.rng.choice(IMAGES))
        ref = {"name": "vserver", "uuid": uuid}
        self._ip_counter += 1
        host = self._ip_counter
        subnet = {
            "uuid": self.new_uuid(6),
            "status": "AVAILABLE",
            "netaddress": f"45.142.{host // 250}.0",
            "prefix": 24,
            "netmask": "255.255.255.0",
            "gateway": f"45.142.{host // 250}.1",
        }
        ipv4 = self._ip(f"45.142.{host // 250}.{host % 250 + 2}", "IPv4", subnet, ref)
        ipv6 = self._ipv6(ref)
        obj = {
            "uuid": uuid,
            "userid": CUSTOMER,
            "name": f"{self.rng.choice(['web', 'db', 'mail', 'vpn', 'ci'])}-{host:02d}",
            "options": {"ram": ram, "cores": cores, "disk": disk, "image": image},
            "payment": self._payment("vserver", uuid, price, created),
            "status": "OKAY",
            "image": copy.deepcopy(image),
            "unix": created + 32,
            "location": copy.deepcopy(location),
            "limits": {"backups": 1, "snapshot": 5},
            "network": {
                "public": {
                    "ipv4": ipv4,
                    "ipv6": ipv6,
                    "interfaces": {
                        "net0": {
                            "uuid": self.new_uuid(),
                            "status": "ACTIVE",
                            "name": "net0",
                            "ipv4": copy.deepcopy(ipv4),
                            "ipv6": copy.deepcopy(ipv6),
                            "unix": {"created": created + 32},
                        },
                    },
                    "additional": [],
                },
                "private": [],
                "traffic": {
                    "ingoing": 0,
                    "outgoing": 0,
                    "ingoingLast": 0,
                    "outgoingLast": 0,
                    "lastUnix": 0,
                    "included": 2000,
                    "reset": created + 2592000,
                },
                "bandwidth": {"amount": 750 if cores < 8 else 1000, "limited": False},
            },
        }
        return Product(
            VSERVER,
            obj,
            stats_seed=self.rng.randint(0, 10**9),
            booted=time.time() - self.rng.randint(3600, 90 * 86400),
        )


DEDICATED = "dedicated-server"
VSERVER = "vserver"


def rate(seed: int, t: float, direction: int) -> float:
    """A vServer's deterministic network rate (bytes/s) at epoch second ``t``."""
    base = 20_000 + (seed % 997) * 900
    swing = math.sin(2 * math.pi * t / 86400 + (seed % 628) / 100)
    noise = random.Random(seed * 1_000_003 + int(t) * 2 + direction).random()
    value = base * (1 + 0.5 * swing) * (0.85 + 0.3 * noise)
    return round(value if direction == 0 else value * 0.12, 2)
