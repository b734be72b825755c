"""The endpoint on strawberry: one parse per request, the limits as a graphql-core rule,
GraphiQL as a route of its own."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from graphql import parse, validate
from graphql.language.parser import Parser

from errors import GraphQLValidationFailed
from gateway.limits import QueryLimits, limits_refusal, query_limits_rule
from schema import fleet_schema
from tests.conftest import FULL, error_codes, fragment_bomb


@pytest.fixture
def parses(monkeypatch) -> list[str]:
    """The source text of every document graphql-core parses from now on."""
    parsed: list[str] = []
    parse_document = Parser.parse_document

    def counted(parser: Parser):
        parsed.append(parser._lexer.source.body)
        return parse_document(parser)

    monkeypatch.setattr(Parser, "parse_document", counted)
    return parsed


def unique(text: str) -> str:
    """``text`` no cache has seen (a comment changes the text, not the document)."""
    return f"{text} # {uuid.uuid4()}"


@pytest.mark.parametrize(
    "query",
    [
        "{ account { name } }",
        "query A { account { name } } query B { account { email } }",
    ],
)
def test_a_document_is_parsed_once_per_request(gateway, parses, query):
    text = unique(query)
    response = gateway.post(text)
    assert response.status_code == 200
    assert "errors" not in response.json()
    assert parses.count(text) == 1


def test_a_document_refused_by_a_limit_is_parsed_once(gateway, parses):
    text = unique("{ a: account { name } b: account { name } " + "c: account { name } " * 40 + "}")
    body = gateway.post(text).json()
    assert body["errors"][0]["extensions"]["limit"] == "max_aliases"
    assert parses.count(text) == 1


def test_strawberry_executes_the_document_it_is_handed():
    # The text differs from the document on purpose: what runs is the tree, not the text.
    document = parse("{ __typename }")
    result = asyncio.run(
        fleet_schema().execute_document(
            document,
            "{ __schema { queryType { name } } }",
            variable_values=None,
            context_value=None,
            operation_name=None,
        )
    )
    assert (result.data, result.errors) == ({"__typename": "Query"}, None)


def test_without_a_document_strawberry_parses_the_text_itself():
    result = asyncio.run(fleet_schema().execute("{ __typename }"))
    assert result.data == {"__typename": "Query"}


def operations(document):
    return [d for d in document.definitions if d.kind == "operation_definition"]


def test_the_limits_are_a_validation_rule_naming_the_first_limit_passed():
    document = parse("{ a: account { name } b: account { name } }")
    rule = query_limits_rule(QueryLimits(max_aliases=1), operations(document), None)
    [error] = validate(fleet_schema()._schema, document, [rule])
    assert isinstance(error.original_error, GraphQLValidationFailed)
    assert error.original_error.extensions == {
        "code": "GRAPHQL_VALIDATION_FAILED",
        "limit": "max_aliases",
        "allowed": 1,
        "actual": 2,
    }
    assert error.locations is None


def side_by_side(count: int) -> str:
    spreads = " ".join(f"...F{i}" for i in range(count))
    fragments = " ".join(f"fragment F{i} on Account {{ name email }}" for i in range(count))
    return f"{{ account {{ {spreads} }} }} {fragments}"


@pytest.mark.parametrize(
    ("text", "limit"),
    [
        (fragment_bomb(8), "max_cost"),
        (side_by_side(400), "max_merge_work"),
        ("{ account { " + "name " * 2400 + "} }", "max_cost"),
        (" ".join(f"query Q{i} {{ account {{ name }} }}" for i in range(11)), "max_operations"),
        (
            "{ servers(input: {pageSize: 50}) { entries { "
            + "network { ipmi { ip } } " * 3
            + "} } }",
            "max_cost",
        ),
    ],
)
def test_a_refusal_stops_validation_and_is_its_only_error(text, limit):
    document = parse(text)
    limits = QueryLimits(max_cost=1000)
    rule = query_limits_rule(limits, operations(document), None)
    errors = validate(fleet_schema()._schema, document, [rule])
    assert [error.original_error.extensions["limit"] for error in errors] == [limit]
    refusal = limits_refusal(fleet_schema()._schema, document, operations(document), None, limits)
    assert refusal.original_error.extensions == errors[0].original_error.extensions


def test_merge_conflicts_are_left_to_the_full_validation():
    document = parse("{ account { n: name n: email } }")
    rule = query_limits_rule(QueryLimits(), operations(document), None)
    assert validate(fleet_schema()._schema, document, [rule]) == []
    assert len(validate(fleet_schema()._schema, document)) == 1


def test_the_limits_rule_refuses_introspection_when_it_is_off():
    document = parse("{ __schema { queryType { name } } }")
    allowed = query_limits_rule(QueryLimits(), operations(document), None)
    refused = query_limits_rule(QueryLimits(), operations(document), None, introspection=False)
    schema = fleet_schema()._schema
    assert validate(schema, document, [allowed]) == []
    [error] = validate(schema, document, [refused])
    assert error.message == "Introspection is disabled on this gateway."


def test_the_limits_rule_counts_only_the_operations_it_is_given():
    document = parse("query Cheap { account { name } } query Wide { a: account { name } }")
    cheap = [op for op in operations(document) if op.name.value == "Cheap"]
    rule = query_limits_rule(QueryLimits(max_aliases=0), cheap, None)
    assert validate(fleet_schema()._schema, document, [rule]) == []


@pytest.mark.parametrize(
    ("method", "headers", "status"),
    [
        ("HEAD", {"Accept": "text/html"}, 405),
        ("GET", {"Accept": "*/*"}, 400),
        ("GET", {}, 400),
    ],
)
def test_only_a_browser_get_is_answered_by_graphiql(gateway, method, headers, status):
    response = gateway.http.request(method, "/graphql", headers=headers)
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/json")
    if method == "GET":
        assert error_codes(response.json()) == ["BAD_REQUEST"]


def test_a_browser_get_with_a_query_runs_it(gateway):
    response = gateway.http.get(
        "/graphql",
        params={"query": "{ __typename }"},
        headers={"Accept": "text/html", "Authorization": f"Bearer {FULL}"},
    )
    assert response.status_code == 200
    assert response.json() == {"data": {"__typename": "Query"}}
