"""The served schema is DataPacket's, plus only the additions listed in the README."""

from __future__ import annotations

import re
from pathlib import Path

from graphql import build_schema

from providers.registry import capability_matrix
from schema import schema_sdl
from tests.schema_diff import differences

ROOT = Path(__file__).resolve().parent.parent

#: Every way the served SDL differs from DataPacket's. Each must be additive for clients
#: (new types, fields, enum members, input fields) or a documented nullability relaxation.
DEVIATIONS = [
    "added type: CircuitState",
    "added type: PowerActionProgress",
    "added type: Provider",
    "added type: ProviderKind",
    "added type: ProviderStatus",
    "added type: ServerStatusChangedInput",
    "added type: SubscriptionRoot",
    "added: Currency.AUD",
    "added: DdosShieldLevel.UNKNOWN",
    "added: ErrorCode.IDEMPOTENCY_CONFLICT",
    "added: ErrorCode.NOT_SUPPORTED",
    "added: ErrorCode.PERSISTED_QUERY_NOT_FOUND",
    "added: ErrorCode.PERSISTED_QUERY_NOT_IN_LIST",
    "added: ErrorCode.PROVIDER_UNAVAILABLE",
    "added: ErrorCode.RATE_LIMITED",
    "added: Query.locations",
    "added: Query.providers",
    "added: Raid.UNKNOWN",
    "added: Server.powerAction",
    "added: Server.provider",
    "added: ServersInput.provider_in",
    "changed: Account.createdAt type DateTime! -> DateTime",
    "changed: InstantDeliveryServer.uplinkCapacity type Int! -> Int",
    "changed: Invoice.period type Period! -> Period",
    "changed: Network.uplinkCapacity type Int! -> Int",
    "changed: Server.billing type Billing! -> Billing",
    "changed: Server.uptime type Int! -> Int",
]


def _served_differences() -> list[str]:
    base = build_schema((ROOT / "schema/datapacket.graphql").read_text())
    served = build_schema(schema_sdl())
    # Description tweaks that only add a "FleetQL:" note are not compatibility changes.
    return [line for line in differences(base, served) if " description " not in line]


def test_committed_schema_matches_code():
    committed = (ROOT / "schema.graphql").read_text()
    assert committed == schema_sdl(), "schema.graphql is stale: run `make schema`"


def test_served_schema_differs_from_datapacket_only_by_listed_deviations():
    assert sorted(_served_differences()) == sorted(DEVIATIONS)


def test_readme_lists_every_deviation():
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Compatibility", 1)[1].split("\n## ", 1)[0]
    for deviation in DEVIATIONS:
        subject = re.split(r": ", deviation, maxsplit=1)[1].split(" ")[0]
        assert f"`{subject}" in section, f"README Compatibility does not mention {subject}"


def test_deprecations_are_kept_with_the_seeds_reasons():
    served = build_schema(schema_sdl())
    assert served.type_map["Server"].fields["status"].deprecation_reason == (
        "Use statusV2 instead."
    )
    servers_input = served.type_map["ServersInput"].fields
    assert servers_input["serverStatus_in"].deprecation_reason == "Use serverStatusV2_in instead."
    assert servers_input["tags_each"].deprecation_reason == (
        "Use tag_value condition instead, it's equivalent."
    )


def test_billing_subscription_type_is_not_the_subscription_root():
    served = build_schema(schema_sdl())
    assert served.subscription_type.name == "SubscriptionRoot"
    assert "billingCycle" in served.type_map["Subscription"].fields


def test_readme_capability_matrix_is_generated_from_the_adapters():
    readme = (ROOT / "README.md").read_text()
    block = readme.split("<!-- capability-matrix:start -->\n", 1)[1].split("<!--", 1)[0]
    assert block == capability_matrix(), "run `fleetql capabilities` and paste it into README"
