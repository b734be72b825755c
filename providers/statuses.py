"""The deprecated ``Server.status``, derived from ``statusV2`` the same way for every kind.

DataPacket's documentation (``ServerStatus``) deprecates each old value with "Use
ServerStatusV2.X instead": INSTALLING is WAITING, IN_MAINTENANCE is MAINTENANCE, IN_PRODUCTION
is ACTIVE and PROVISIONING is PROVISIONING. ``DISCONNECTED`` "is no longer used", so no server
gets it. ``UNREACHABLE`` ("unreachable by our monitoring") has no old twin: the server is still
configured and delivered to the customer, which is IN_PRODUCTION. A mapping computes
``statusV2`` from its provider's data and calls ``deprecated_status`` for ``status``, so
``serverStatus_in: [IN_PRODUCTION]`` selects exactly the ACTIVE and UNREACHABLE servers.
"""

from __future__ import annotations

__all__ = ["DEPRECATED_STATUS", "deprecated_status"]

#: ServerStatusV2 -> ServerStatus, every member of ServerStatusV2.
DEPRECATED_STATUS: dict[str, str] = {
    "ACTIVE": "IN_PRODUCTION",
    "MAINTENANCE": "IN_MAINTENANCE",
    "PROVISIONING": "PROVISIONING",
    "UNREACHABLE": "IN_PRODUCTION",
    "WAITING": "INSTALLING",
}


def deprecated_status(status_v2: str) -> str:
    """The deprecated ``ServerStatus`` of a server whose ``statusV2`` is ``status_v2``."""
    return DEPRECATED_STATUS[status_v2]
