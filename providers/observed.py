"""The live DataPacket fields beyond its documentation, for the providers that are not DataPacket.

``schema/datapacket-observed.graphql`` lists them with the public client that shows each. A
provider fills one only where its API documents the fact; everything else is null, never a guess.
Two follow from facts every mapping already holds: ``System.operatingSystem`` is the same
operating system as ``System.os``, and ``Hardware.storage`` is the drives of ``Hardware.hdds``,
one entry per drive (``hdds`` groups equal drives with a count).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["add_observed_fields", "add_observed_hardware"]


def add_observed_hardware(
    hardware: dict[str, Any], cores: Sequence[int | None] = ()
) -> dict[str, Any]:
    """``hardware`` with ``storage`` and each CPU's ``cores`` added in place (and returned).

    ``cores[i]`` is the cores of ``cpus[i]``; a CPU without an entry has null.
    """
    for index, cpu in enumerate(hardware.get("cpus") or []):
        cpu["cores"] = cores[index] if index < len(cores) else None
    hardware["storage"] = [
        dict(hdd["storage"]) for hdd in hardware.get("hdds") or [] for _ in range(hdd["count"])
    ]
    return hardware


def add_observed_fields(
    server: dict[str, Any],
    *,
    cores: Sequence[int | None] = (),
    os_name: str | None = None,
) -> dict[str, Any]:
    """``server`` with the observed fields added in place (and returned).

    ``os_name`` overrides ``System.os`` as the operating system's name, for a mapping whose
    ``os`` holds a placeholder; an empty name is null. ``deviceType`` (DataPacket's vocabulary
    is not public), ``hasLinkAggregation`` and the traffic plan's ``type`` and ``bandwidth`` are
    null: no other provider's API documents them.
    """
    add_observed_hardware(server["hardware"], cores)
    system = server.get("system")
    if system is not None:
        name = os_name if os_name is not None else (system.get("os") or {}).get("name")
        # dashserv leaves ``os`` out when its call was not made: leave operatingSystem out too.
        if "os" in system or os_name is not None:
            system["operatingSystem"] = {"name": name} if name else None
    server["deviceType"] = None
    server["network"]["hasLinkAggregation"] = None
    plan = server.get("trafficPlan")
    if plan is not None:
        plan.setdefault("type", None)
        plan.setdefault("bandwidth", None)
    return server
