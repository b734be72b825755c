"""Fuzzing the whole schema: generated valid and invalid documents, variables and bodies.

Documents come from hypothesis-graphql over ``schema.graphql`` (every root query and
mutation field, with arguments; ``Mode.NEGATIVE`` breaks one schema rule per document).
Variables are arbitrary JSON against operations that declare the schema's input types.
Each request goes over loopback to a real gateway in front of all five demo emulators.
Whatever is sent, the answer must not be a 5xx, must not carry traceback text, and every
error code must be one of the schema's ``ErrorCode`` values; ``INTERNAL_SERVER_ERROR``
(an unexpected exception) counts as a failure too.

Runs are deterministic (``derandomize``) and bounded (about 200 requests in all).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import graphql
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import Mode, mutations, queries

from emulators.kit.server import EmulatorServer
from gateway.app import create_app
from gateway.demo import DEMO_BACKENDS
from gateway.settings import settings_from_dict
from tests.conftest import FULL, TOKENS, GatewayClient
from tests.servers import InProcessGateway, stop_all

SIZE = 4
SCHEMA = graphql.build_schema(
    Path(__file__).resolve().parent.parent.joinpath("schema.graphql").read_text()
)
ERROR_CODES = frozenset(SCHEMA.type_map["ErrorCode"].values)
FUZZ = settings(
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,
    ],
)

#: DateTime values: mostly well-formed instants, sometimes any string.
DATE_TIMES = {
    "DateTime": st.one_of(
        st.datetimes(
            min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
        ).map(lambda moment: graphql.StringValueNode(value=moment.isoformat())),
        st.text(max_size=30).map(lambda text: graphql.StringValueNode(value=text)),
    )
}


@pytest.fixture(scope="module")
def client() -> Iterator[GatewayClient]:
    """A gateway over the five demo emulators; per-token rate limits out of the way."""
    upstreams, tables = [], []
    for backend in DEMO_BACKENDS:
        app = backend.emulator(SIZE)
        upstream = EmulatorServer(app).start()
        upstreams.append(upstream)
        tables.append(
            {
                "id": backend.kind,
                "kind": backend.kind,
                "base_url": f"{upstream.url}{backend.path}",
                "prefix": backend.prefix,
                **backend.credentials,
                **backend.options(app),
            }
        )
    config = {
        "providers": tables,
        "tokens": TOKENS,
        "limits": {"queries_per_minute": 100_000, "mutations_per_minute": 100_000},
    }
    gateway = InProcessGateway(create_app(settings_from_dict(config, source="<fuzz>"))).start()
    yield GatewayClient(gateway)
    gateway.stop()
    stop_all(upstreams)


def assert_well_behaved(status: int, text: str) -> dict:
    """No 5xx, no traceback text, JSON with only documented, expected error codes."""
    assert status < 500, text
    assert "Traceback" not in text and 'File "' not in text, text
    body = json.loads(text)
    codes = [error.get("extensions", {}).get("code") for error in body.get("errors", [])]
    assert set(codes) <= ERROR_CODES, codes
    assert "INTERNAL_SERVER_ERROR" not in codes, text
    return body


def send(client: GatewayClient, query: str, variables: Any = None) -> dict:
    response = client.post(query, variables, token=FULL)
    return assert_well_behaved(response.status_code, response.text)


# --- generated documents ------------------------------------------------------------------


@settings(FUZZ, max_examples=60)
@given(document=queries(SCHEMA, custom_scalars=DATE_TIMES))
def test_valid_queries(client, document):
    body = send(client, document)
    assert "data" in body or body["errors"]


@settings(FUZZ, max_examples=30)
@given(document=mutations(SCHEMA, custom_scalars=DATE_TIMES))
def test_valid_mutations(client, document):
    send(client, document)


@settings(FUZZ, max_examples=40)
@given(
    document=queries(SCHEMA, custom_scalars=DATE_TIMES, mode=Mode.NEGATIVE)
    | mutations(SCHEMA, custom_scalars=DATE_TIMES, mode=Mode.NEGATIVE)
)
def test_invalid_documents(client, document):
    body = send(client, document)
    assert body.get("errors"), "a document breaking the schema must be refused"


# --- generated variables ------------------------------------------------------------------

#: Operations whose variables carry the schema's input types, filled with arbitrary JSON.
WITH_VARIABLES = [
    "query Q($input: PaginatedServersInput) { servers(input: $input) "
    "{ entriesTotalCount entries { name powerStatus provider { id } } } }",
    "query Q($input: ServerInput!) { server(input: $input) { name alias } }",
    "query Q($input: TrafficInput!) { traffic(input: $input) "
    "{ aggregated { statisticsIn { sum } } } }",
    "query Q($input: PaginatedInvoicesInput) { invoices(input: $input) "
    "{ entriesTotalCount entries { invoiceNumber } } }",
    "mutation M($input: PerformServerPowerActionInput!) "
    "{ performServerPowerAction(input: $input) { server { name } } }",
    "mutation M($input: SetServerTagsInput!) { setServerTags(input: $input) }",
]
FIELD_NAMES = sorted(
    {
        name
        for type_ in SCHEMA.type_map.values()
        if isinstance(type_, graphql.GraphQLInputObjectType)
        for name in type_.fields
    }
)
JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**40), max_value=2**40)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
    | st.sampled_from(["DP-12345", "ON", "CYCLE", "2025-01-01T00:00:00Z", "dp", ""]),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(FIELD_NAMES) | st.text(max_size=8), inner, max_size=5)
    ),
    max_leaves=12,
)


@settings(FUZZ, max_examples=40)
@given(
    operation=st.sampled_from(WITH_VARIABLES),
    variables=st.dictionaries(st.just("input") | st.text(max_size=6), JSON, max_size=2),
)
def test_arbitrary_variables(client, operation, variables):
    send(client, operation, variables)


# --- unreadable requests ------------------------------------------------------------------


@settings(FUZZ, max_examples=30)
@given(
    payload=st.one_of(
        st.binary(max_size=200),
        JSON.map(lambda value: json.dumps(value).encode()),
        st.text(max_size=200).map(lambda query: json.dumps({"query": query}).encode()),
    )
)
def test_arbitrary_bodies(client, payload):
    response = client.http.post(
        "/graphql",
        content=payload,
        headers={"Authorization": f"Bearer {FULL}", "Content-Type": "application/json"},
    )
    assert_well_behaved(response.status_code, response.text)
