"""The query limits counter: the same depth, aliases and cost as expanding every fragment
spread, for work linear in the document (fragment bombs included), stopping at the first
limit passed."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path
from typing import Any

import graphql
import pytest
from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    InlineFragmentNode,
    Node,
    OperationDefinitionNode,
    SelectionSetNode,
    parse,
    value_from_ast_untyped,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from errors import GraphQLValidationFailed
from gateway.limits import (
    DEFAULT_PAGE_SIZE,
    EXTRA_CALL_COST,
    EXTRA_CALL_FIELDS,
    ROOT_FIELD_COST,
    DocumentCounter,
    QueryLimits,
    limits_refusal,
    query_limits_rule,
    uses_introspection,
)
from tests.conftest import fragment_bomb

SCHEMA = graphql.build_schema(
    Path(__file__).resolve().parent.parent.joinpath("schema.graphql").read_text()
)
#: Limits nothing reaches: the counter then counts the whole document.
UNLIMITED = QueryLimits(max_depth=10**9, max_aliases=10**9, max_cost=10**30, max_merge_work=10**9)
TIGHT = QueryLimits(max_depth=3, max_aliases=3, max_cost=300)


class ExpandingReference:
    """The estimate as specified, by brute force: every spread is walked again."""

    def __init__(self, document: DocumentNode, variables: dict[str, Any]) -> None:
        self.fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        self.variables = variables
        self.max_depth = 0
        self.aliases = 0
        self.cost = 0
        self.spreads: list[str] = []

    def walk(self, selections: SelectionSetNode, parent, depth, multiplier, page_size) -> None:
        self.max_depth = max(self.max_depth, depth)
        for node in selections.selections:
            if isinstance(node, FieldNode):
                self.field(node, parent, depth, multiplier, page_size)
            elif isinstance(node, FragmentSpreadNode):
                name = node.name.value
                fragment = self.fragments.get(name)
                if fragment is None or name in self.spreads:
                    continue
                self.spreads.append(name)
                target = SCHEMA.get_type(fragment.type_condition.name.value)
                self.walk(fragment.selection_set, target, depth, multiplier, page_size)
                self.spreads.pop()
            elif isinstance(node, InlineFragmentNode):
                condition = node.type_condition
                target = SCHEMA.get_type(condition.name.value) if condition else parent
                self.walk(node.selection_set, target, depth, multiplier, page_size)

    def field(self, node: FieldNode, parent, depth, multiplier, page_size) -> None:
        if node.alias is not None:
            self.aliases += 1
        name = node.name.value
        self.cost += multiplier * (ROOT_FIELD_COST if depth == 1 else 1)
        if (getattr(parent, "name", ""), name) in EXTRA_CALL_FIELDS:
            self.cost += multiplier * EXTRA_CALL_COST
        definition = getattr(parent, "fields", {}).get(name)
        if node.selection_set is None or definition is None:
            return
        if depth == 1:
            page_size = DEFAULT_PAGE_SIZE
            for argument in node.arguments or ():
                if argument.name.value == "input":
                    value = value_from_ast_untyped(argument.value, self.variables)
                    if isinstance(value, dict) and isinstance(value.get("pageSize"), int):
                        page_size = max(1, min(value["pageSize"], DEFAULT_PAGE_SIZE))
        field_type = definition.type
        while isinstance(field_type, GraphQLNonNull):
            field_type = field_type.of_type
        items = 1
        if isinstance(field_type, GraphQLList) and (depth == 1 or name == "entries"):
            items = page_size
        while isinstance(field_type, GraphQLList | GraphQLNonNull):
            field_type = field_type.of_type
        target = field_type if isinstance(field_type, GraphQLObjectType) else None
        self.walk(node.selection_set, target, depth + 1, multiplier * items, page_size)


def operations_of(document: DocumentNode) -> list[OperationDefinitionNode]:
    return [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]


def reference_totals(text: str, variables: dict[str, Any] | None = None) -> tuple[int, int, int]:
    document = parse(text)
    reference = ExpandingReference(document, variables or {})
    for operation in operations_of(document):
        root = SCHEMA.get_root_type(operation.operation)
        reference.walk(operation.selection_set, root, 1, 1, DEFAULT_PAGE_SIZE)
    return reference.max_depth, reference.aliases, reference.cost


def counted(text: str, variables: dict[str, Any] | None = None, limits=UNLIMITED):
    document = parse(text)
    counter = DocumentCounter(SCHEMA, document, variables, limits)
    counter.count(operations_of(document))
    return counter


def totals(text: str, variables: dict[str, Any] | None = None) -> tuple[int, int, int]:
    counter = counted(text, variables)
    return counter.max_depth, counter.aliases, counter.cost


def ast_nodes(document: DocumentNode) -> int:
    """Every node of the syntax tree, counted without recursion."""
    count, pending = 0, [document]
    while pending:
        node = pending.pop()
        count += 1
        for key in node.keys:
            value = getattr(node, key, None)
            children = value if isinstance(value, tuple | list) else [value]
            pending.extend(child for child in children if isinstance(child, Node))
    return count


SERVER_FIELDS = "name powerStatus network { uplinkCapacity ipAddresses { ip } } location { name }"
DOCUMENTS = [
    ("plain", "{ servers { entries { name } } account { name } }", None),
    (
        "page size literal",
        f"{{ servers(input: {{pageSize: 7}}) {{ entries {{ {SERVER_FIELDS} }} }} }}",
        None,
    ),
    ("page size clamped", "{ servers(input: {pageSize: 500}) { entries { name } } }", None),
    ("page size zero", "{ servers(input: {pageSize: 0}) { entries { name } } }", None),
    (
        "page size from a variable",
        "query($n: Int!) { servers(input: {pageSize: $n}) { entries { powerStatus } } }",
        {"n": 3},
    ),
    (
        "page size variable missing",
        "query($n: Int) { servers(input: {pageSize: $n}) { entries { powerStatus } } }",
        None,
    ),
    ("root list", "{ locations { name } providers { id } }", None),
    (
        "fragment",
        f"{{ servers {{ entries {{ ...S }} }} }} fragment S on Server {{ {SERVER_FIELDS} }}",
        None,
    ),
    (
        "one fragment under several page sizes",
        "{ a: servers(input: {pageSize: 2}) { entries { ...S } } "
        "b: servers(input: {pageSize: 5}) { entries { ...S } } "
        "c: servers(input: {pageSize: 2}) { entries { ...S } } } "
        "fragment S on Server { name system { os { name } } }",
        None,
    ),
    (
        "nested fragments",
        "{ servers { entries { ...A ...B } } } fragment A on Server { ...B network { ...N } } "
        "fragment B on Server { name ...N2 } fragment N on Network { ipAddresses { ip } } "
        "fragment N2 on Server { network { ...N } }",
        None,
    ),
    (
        "fragment at the root and below it",
        "{ ...Q servers { entries { ...S } } } fragment Q on Query { servers(input: {pageSize: 4})"
        " { entries { ...S } } account { name } } fragment S on Server { name powerStatus }",
        None,
    ),
    (
        "fragment selecting entries",
        "{ a: servers(input: {pageSize: 3}) { ...P } b: servers { ...P } } "
        "fragment P on PaginatedServerResponse { entriesTotalCount entries { name } }",
        None,
    ),
    (
        "inline fragments",
        "{ servers { entries { ... on Server { name ... { powerStatus } } ... { system { os "
        "{ name } } } } } ... on Query { account { name } } }",
        None,
    ),
    (
        "aliases in fragments",
        "{ servers { entries { ...S ...S } } x: account { name } } "
        "fragment S on Server { n: name p: powerStatus ...T } fragment T on Server { q: name }",
        None,
    ),
    (
        "unknown fragment, type and field",
        "{ servers { entries { ...Missing ...U nope { name } } } } "
        "fragment U on Nope { name ... on AlsoNope { x } }",
        None,
    ),
    (
        "self-spread",
        "{ servers { entries { ...A } } } fragment A on Server { name ...A }",
        None,
    ),
    (
        "cycle entered once",
        "{ servers { entries { ...A } } } fragment A on Server { name ...B } "
        "fragment B on Server { powerStatus ... { ...A } }",
        None,
    ),
    (
        "two operations",
        "query A { servers { entries { ...S } } } query B { ...Q } "
        "fragment S on Server { name } fragment Q on Query { locations { name } }",
        None,
    ),
    ("depth 6 bomb", fragment_bomb(6), None),
    ("wide bomb", fragment_bomb(3, fanout=40), None),
]


@pytest.mark.parametrize(
    ("text", "variables"), [(text, v) for _, text, v in DOCUMENTS], ids=[i for i, *_ in DOCUMENTS]
)
def test_counts_what_expanding_every_spread_counts(text, variables):
    assert totals(text, variables) == reference_totals(text, variables)


# --- generated documents --------------------------------------------------------------------

#: Fields to draw from, per type (None: a leaf); "nope" is unknown to the schema.
FIELDS: dict[str, dict[str, str | None]] = {
    "Query": {
        "servers": "PaginatedServerResponse",
        "server": "Server",
        "account": "Account",
        "locations": "Location",
        "providers": "ProviderStatus",
    },
    "PaginatedServerResponse": {"entries": "Server", "entriesTotalCount": None},
    "Server": {
        "name": None,
        "powerStatus": None,
        "network": "Network",
        "system": "System",
        "tags": "ServerTag",
    },
    "Network": {"ipAddresses": "IpAddress", "uplinkCapacity": None},
    "IpAddress": {"ip": None},
    "System": {"os": "Os"},
    "Os": {"name": None},
    "Location": {"name": None},
    "Account": {"name": None},
    "ProviderStatus": {"id": None},
    "ServerTag": {"key": None},
    "Nope": {"nope": "Nope"},
}
TYPES = ["Query", "PaginatedServerResponse", "Server", "Network", "Nope"]
PAGE_ARGUMENTS = [
    "",
    "(input: {pageSize: 3})",
    "(input: {pageSize: 80})",
    "(input: {pageSize: $size})",
    "(input: {pageIndex: 1})",
    "(input: {filter: {name: $size}})",
]


def selection_set(draw, type_name: str, spreadable: list[str], levels: int) -> str:
    """A selection set on ``type_name``: mostly its own fields, some strays and fragments."""
    items = []
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["field", "field", "field", "stray", "spread", "inline"]))
        if kind == "spread":
            items.append("..." + draw(st.sampled_from([*spreadable, "Missing"])))
            continue
        if kind == "inline" and levels > 0:
            condition = draw(st.sampled_from(["", f"on {type_name}", *(f"on {t}" for t in TYPES)]))
            target = condition.removeprefix("on ") or type_name
            below = selection_set(draw, target, spreadable, levels - 1)
            items.append(f"... {condition} {below}")
            continue
        owner = type_name if kind == "field" else draw(st.sampled_from(sorted(FIELDS)))
        name, target = draw(st.sampled_from(sorted(FIELDS[owner].items())))
        alias = draw(st.sampled_from(["", "", "a: "]))
        arguments = draw(st.sampled_from(PAGE_ARGUMENTS)) if name == "servers" else ""
        if target is None or levels == 0:
            items.append(f"{alias}{name}")
        else:
            items.append(
                f"{alias}{name}{arguments} {selection_set(draw, target, spreadable, levels - 1)}"
            )
    return "{ " + " ".join(items) + " }"


@st.composite
def documents(draw) -> str:
    """Fragments spreading later ones (no cycles), unknown names, aliases, page sizes."""
    names = [f"F{i}" for i in range(draw(st.integers(0, 4)))]
    fragments = []
    for i, name in enumerate(names):
        condition = draw(st.sampled_from(TYPES))
        body = selection_set(draw, condition, names[i + 1 :], levels=3)
        fragments.append(f"fragment {name} on {condition} {body}")
    operation = selection_set(draw, "Query", names, levels=4)
    return f"query Q($size: Int) {operation} " + " ".join(fragments)


GENERATED = settings(
    max_examples=400,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
VARIABLES = st.sampled_from([None, {}, {"size": 2}, {"size": 0}, {"size": 99}, {"size": "x"}])


@GENERATED
@given(documents(), VARIABLES)
def test_generated_documents_count_and_stop_as_if_expanded(text, variables):
    expected = reference_totals(text, variables)
    assert totals(text, variables) == expected
    # With limits, the counter refuses exactly the documents the full expansion exceeds, and
    # names one limit the expansion passes, with what it had counted when it stopped.
    depth, aliases, cost = expected
    exceeded = {
        limit: (total, allowed)
        for limit, total, allowed in [
            ("max_depth", depth, TIGHT.max_depth),
            ("max_aliases", aliases, TIGHT.max_aliases),
            ("max_cost", cost, TIGHT.max_cost),
        ]
        if total > allowed
    }
    try:
        counted(text, variables, TIGHT)
    except GraphQLValidationFailed as error:
        extensions = error.extensions
        total, allowed = exceeded[extensions["limit"]]
        assert extensions["allowed"] == allowed
        assert allowed < extensions["actual"] <= total
        assert f"at least {extensions['actual']} > {allowed}" in error.message
    else:
        assert not exceeded


# --- work ------------------------------------------------------------------------------------


@pytest.mark.parametrize("depth", range(6, 13))
def test_a_fragment_bomb_costs_work_linear_in_its_size(depth):
    document = parse(fragment_bomb(depth))
    counter = DocumentCounter(SCHEMA, document, None, UNLIMITED)
    counter.count(operations_of(document))
    assert counter.cost == 10 + 1 + 50 * 10 ** (depth - 1)
    # Each fragment's body is walked once; every other spread of it is one step.
    assert counter.visited == 3 + 10 * (depth - 1) + 1
    assert counter.visited <= ast_nodes(document)


def test_each_bomb_level_adds_as_much_work_as_text():
    visited, nodes = [], []
    for depth in range(6, 13):
        document = parse(fragment_bomb(depth))
        counter = DocumentCounter(SCHEMA, document, None, UNLIMITED)
        counter.count(operations_of(document))
        visited.append(counter.visited)
        nodes.append(ast_nodes(document))
    # One more fragment adds ten spreads to walk (not ten times the work) and more syntax.
    assert {b - a for a, b in pairwise(visited)} == {10}
    assert all(b - a > 10 for a, b in pairwise(nodes))
    assert max(v / n for v, n in zip(visited, nodes, strict=True)) < 0.5


@pytest.mark.parametrize("depth", [6, 12])
def test_a_fragment_bomb_stops_at_the_cost_limit(depth):
    document = parse(fragment_bomb(depth))
    counter = DocumentCounter(SCHEMA, document, None, QueryLimits())
    with pytest.raises(GraphQLValidationFailed) as refused:
        counter.count(operations_of(document))
    assert refused.value.extensions["limit"] == "max_cost"
    assert refused.value.extensions["actual"] > QueryLimits().max_cost
    assert counter.visited <= ast_nodes(document)


def test_cyclic_fragments_are_skipped_in_bounded_work():
    # Every fragment spreads every other: expanding paths without repeating one would walk
    # 12! bodies. Validation reports the cycles; the counter only has to stay small.
    names = [f"C{i}" for i in range(12)]
    fragments = " ".join(
        f"fragment {name} on Server {{ name {' '.join(f'...{o}' for o in names if o != name)} }}"
        for name in names
    )
    document = parse("{ servers { entries { ...C0 ...C5 } } } " + fragments)
    counter = DocumentCounter(SCHEMA, document, None, UNLIMITED)
    counter.count(operations_of(document))
    assert counter.visited <= ast_nodes(document)


def test_a_long_chain_of_spreads_needs_no_recursion():
    chain = " ".join(f"fragment F{i} on Server {{ ... {{ ...F{i + 1} }} }}" for i in range(2000))
    document = parse(
        "{ servers { entries { ...F0 } } } " + chain + " fragment F2000 on Server {name}"
    )
    counter = DocumentCounter(SCHEMA, document, None, QueryLimits())
    counter.count(operations_of(document))
    assert (counter.max_depth, counter.cost) == (3, 10 + 1 + 50)


def test_the_rule_keeps_what_it_counted():
    document = parse("{ servers(input: {pageSize: 2}) { entries { n: name } } }")
    rule = query_limits_rule(QueryLimits(), operations_of(document), None)
    assert graphql.validate(SCHEMA, document, [rule]) == []
    counter = rule.counter
    assert (counter.max_depth, counter.aliases, counter.cost) == (3, 1, 10 + 1 + 2)


def merge_work(text: str, limits: QueryLimits = UNLIMITED) -> int:
    """The work of the field-merging check on ``text``, run by the limits rule."""
    document = parse(text)
    rule = query_limits_rule(limits, operations_of(document), None)
    graphql.validate(SCHEMA, document, [rule])
    return rule.merge_work


def test_merge_work_of_real_documents_is_far_below_the_default():
    introspection = graphql.get_introspection_query(descriptions=True)
    fields = (
        "name powerStatus location { name region } system { os { name } } "
        "network { ipAddresses { ip isPrimary } uplinkCapacity }"
    )
    fragments = " ".join(f"fragment {f} on Server {{ {fields} }}" for f in "ABCDEF")
    dashboard = "{ servers { entries { ...A ...B ...C ...D ...E ...F } } } " + fragments
    assert merge_work(introspection) < 100
    assert merge_work(dashboard) < QueryLimits().max_merge_work / 10


def test_merge_work_stops_at_its_budget():
    spreads = " ".join(f"...F{i}" for i in range(400))
    fragments = " ".join(f"fragment F{i} on Account {{ name email }}" for i in range(400))
    text = f"{{ account {{ {spreads} }} }} {fragments}"
    assert merge_work(text, UNLIMITED) > 250_000  # every pair of fragments
    document = parse(text)
    limits = QueryLimits(max_merge_work=1000)
    rule = query_limits_rule(limits, operations_of(document), None)
    [refused] = graphql.validate(SCHEMA, document, [rule])
    assert refused.original_error.extensions["limit"] == "max_merge_work"
    assert refused == limits_refusal(SCHEMA, document, operations_of(document), None, limits)
    assert 1000 < rule.merge_work <= 1002  # the rule gave up on the first unit over


def test_merge_conflicts_are_left_to_validation():
    # A conflict costs little work: validation reports it afterwards, with its own message.
    assert merge_work("{ account { n: name n: email } }", QueryLimits()) < 10


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("{ account { name } }", False),
        ("{ __typename account { name } }", False),
        ("{ __schema { queryType { name } } }", True),
        (
            "{ servers { entries { ... { ... on Server { ...T } } } } } fragment T on Server "
            '{ name } fragment I on Query { __type(name: "Server") { name } }',
            True,
        ),
        ("{ " + "... { " * 150 + "__schema { types { name } }" + " }" * 150 + " }", True),
    ],
)
def test_uses_introspection_finds_introspection_anywhere(text, found):
    assert uses_introspection(parse(text)) is found
