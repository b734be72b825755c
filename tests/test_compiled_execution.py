"""Compiled execution answers exactly what graphql-core's interpreter answers.

Two identical demo fleets (the five emulators each), one gateway with compiled execution
(the default) and one with ``server.compiled_execution = false``: every document goes to
both, and the JSON bodies must be equal, data and errors alike. Documents: every seed example
(mutations too, each fleet receiving the same writes), documents written to reach each
feature of the compiler, and generated ones (hypothesis-graphql, deterministic).

``tests/test_compiled_shaping.py`` compares the two executors on arbitrary resolved data.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings

from tests.fleet import Fleet
from tests.test_fuzz import DATE_TIMES, FUZZ, SCHEMA, queries
from tests.test_seed_examples import EXAMPLES, MUTATION_VARIABLES, QUERY_VARIABLES

SIZE = 6
SUPPORT_CLOCK = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
LIMITS = {"queries_per_minute": 100_000, "mutations_per_minute": 100_000}


class Pair:
    """The same request to a compiled and to an interpreted gateway, each on its own fleet."""

    def __init__(self) -> None:
        self.fleets = [Fleet(SIZE), Fleet(SIZE)]
        for fleet in self.fleets:
            app = fleet.upstreams["datapacket"].app
            # Support requests the mutations make are stamped alike on both fleets.
            app.state.fleet.clock = lambda: SUPPORT_CLOCK
            # Power actions land at once: after the seed's CYCLE (landing 0.5 s later by
            # default), what the next examples read back (powerStatus, statusV2) would depend
            # on when each fleet was asked.
            graphql = next(r.endpoint for r in app.routes if hasattr(r.endpoint, "__self__"))
            graphql.__self__.power_delay = 0
        self.restart_gateways()

    def restart_gateways(self) -> None:
        """New gateways: empty caches, closed circuits."""
        self.clients = [
            fleet.gateway(server={"compiled_execution": compiled}, limits=LIMITS)
            for fleet, compiled in zip(self.fleets, (True, False), strict=True)
        ]

    def same(self, query: str, variables: dict[str, Any] | None = None) -> dict:
        """Both bodies, asserted equal; the compiled one is returned.

        One exception, graphql-core's own: when several non-null root fields fail, whichever
        fails first nulls ``data`` and the others' errors are dropped, so which error is
        reported depends on timing, and only ``data: null`` with an error is compared.
        """
        responses = [client.post(query, variables) for client in self.clients]
        assert responses[0].status_code == responses[1].status_code  # 400: a malformed request
        compiled, interpreted = (response.json() for response in responses)
        if compiled.get("data", ...) is None and interpreted.get("data", ...) is None:
            assert compiled["errors"] and interpreted["errors"]
        else:
            assert compiled == interpreted
        return compiled

    def stop(self) -> None:
        for fleet in self.fleets:
            fleet.stop()


@pytest.fixture(scope="module")
def pair() -> Iterator[Pair]:
    both = Pair()
    yield both
    both.stop()


def first_instant_delivery_name(pair: Pair) -> str:
    listing = pair.same("{ instantDeliveryServers { entries { name } } }")
    return listing["data"]["instantDeliveryServers"]["entries"][0]["name"]


@pytest.mark.parametrize("operation", sorted(QUERY_VARIABLES))
def test_seed_query_examples(pair, operation):
    variables = QUERY_VARIABLES[operation]
    if operation == "InstantDeliveryServer":
        variables = {"input": {"name": first_instant_delivery_name(pair)}}
    body = pair.same(EXAMPLES[operation], variables)
    assert body.get("data"), body


@pytest.mark.parametrize("operation", sorted(MUTATION_VARIABLES))
def test_seed_mutation_examples(pair, operation):
    pair.same(EXAMPLES[operation], MUTATION_VARIABLES[operation])


SERVER = """
fragment Place on Location { name region short }
fragment Box on Server {
  hardware { cpus { count name } hdds { count storage { size type } } rams { count size } }
}
"""

#: Each reaches one feature of the compiler; several end in errors that carry paths.
DOCUMENTS: dict[str, tuple[str, dict[str, Any] | None]] = {
    "fragments, aliases, __typename": (
        SERVER
        + """{ page: servers(input: {pageSize: 30}) { __typename total: entriesTotalCount
          entries { __typename id: name where: location { ...Place } ...Box
            ... on Server { tags { key value } alias } } } }""",
        None,
    ),
    "every server field, all providers": (
        """{ servers(input: {pageSize: 50}) { entries { name alias hostname powerStatus status
          statusV2 uptime provider { id kind } powerAction { id type status startedAt }
          billing { subscriptionItem { price currency type description
            subscriptionItemDetail { trafficPlan { name } server { name provider { id } } } } }
          system { os { name } raid } trafficPlan { name }
          network { ddosShieldLevel hasBgp uplinkCapacity ipmi { ip username }
            ipAddresses { ip cidr gateway netMask network broadcast isPrimary isBgpPrefix type } }
        } } }""",
        None,
    ),
    "@skip and @include from variables (true)": (
        """query Q($with: Boolean!, $without: Boolean!) { servers(input: {pageSize: 20}) {
          entries { name alias @include(if: $with) hostname @skip(if: $without)
            location @include(if: $with) { name } } } }""",
        {"with": True, "without": True},
    ),
    "@skip and @include from variables (false)": (
        """query Q($with: Boolean!, $without: Boolean!) { servers(input: {pageSize: 20}) {
          entries { name alias @include(if: $with) hostname @skip(if: $without)
            location @include(if: $with) { name } } } }""",
        {"with": False, "without": False},
    ),
    "@skip and @include literals": (
        "{ servers { entries { name alias @skip(if: true) hostname @include(if: false) } } }",
        None,
    ),
    "the same field merged from several selections": (
        SERVER
        + """{ servers(input: {pageSize: 10}) { entries { location { name } location { short }
          ... on Server { location { ...Place } ...Box } } } }""",
        None,
    ),
    "enums, DateTime, floats and nulls in billing data": (
        """{ invoices(input: {pageSize: 50}) { entries { invoiceNumber createdAt dueDate
          currency invoiceType period { from to } subtotal total totalVat
          invoiceItems { amount currency description quantity type unitPrice vatPercent }
          payment { method paidOn status }
          subscription { name type subtotal currency createdAt billingCycle { quantity unit } }
        } } }""",
        None,
    ),
    "a missing server is an error with a path": (
        '{ a: server(input: {name: "DP-1"}) { name } b: server(input: {name: "MC-404"}) '
        "{ name location { name } } }",
        None,
    ),
    "a capability some providers lack": (
        "{ subscriptions(input: {pageSize: 50}) { entriesTotalCount entries { name type "
        "subtotal currency } } }",
        None,
    ),
    "variables in arguments, lists of objects": (
        """query Q($input: PaginatedServersInput) { servers(input: $input) {
          entriesTotalCount pageCount isLastPage nextPageIndex
          entries { name tags { key value } network { ipAddresses { ip type } } } } }""",
        {"input": {"pageIndex": 1, "pageSize": 7, "filter": {"powerStatus_in": ["ON"]}}},
    ),
}


@pytest.mark.parametrize("name", list(DOCUMENTS))
def test_documents_reaching_each_feature(pair, name):
    query, variables = DOCUMENTS[name]
    body = pair.same(query, variables)
    # Executed, not refused: data, or errors raised while executing (they carry a path).
    assert body.get("data") or all("path" in error for error in body["errors"]), body


def test_a_failing_provider_leaves_the_same_data_and_errors(pair):
    pair.restart_gateways()
    for fleet in pair.fleets:
        fleet.faults("mammoth").update({"malformed": True})
    try:
        body = pair.same(DOCUMENTS["every server field, all providers"][0])
    finally:
        for fleet in pair.fleets:
            fleet.faults("mammoth").update({"malformed": False})
    assert [error["extensions"]["code"] for error in body["errors"]] == ["PROVIDER_UNAVAILABLE"]


@settings(FUZZ, max_examples=40)
@given(document=queries(SCHEMA, custom_scalars=DATE_TIMES))
def test_generated_queries(pair, document):
    pair.same(document)
