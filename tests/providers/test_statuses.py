"""The one derivation of the deprecated ``Server.status`` from ``statusV2``."""

from __future__ import annotations

from providers.statuses import DEPRECATED_STATUS, deprecated_status
from schema.enums import ServerStatus, ServerStatusV2


def test_every_status_v2_has_a_deprecated_status_and_none_is_disconnected():
    assert set(DEPRECATED_STATUS) == {member.name for member in ServerStatusV2}
    assert set(DEPRECATED_STATUS.values()) <= {member.name for member in ServerStatus}
    # ServerStatus.DISCONNECTED: "This status is no longer used."
    assert "DISCONNECTED" not in DEPRECATED_STATUS.values()


def test_each_old_value_is_the_one_the_seed_deprecates_in_favour_of_the_new():
    # "IN_PRODUCTION: Use ServerStatusV2.ACTIVE instead", and so on for each old value.
    assert deprecated_status("ACTIVE") == "IN_PRODUCTION"
    assert deprecated_status("MAINTENANCE") == "IN_MAINTENANCE"
    assert deprecated_status("PROVISIONING") == "PROVISIONING"
    assert deprecated_status("WAITING") == "INSTALLING"
    # Unreachable by monitoring, still configured and delivered: in production.
    assert deprecated_status("UNREACHABLE") == "IN_PRODUCTION"
