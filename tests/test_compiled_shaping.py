"""The compiled executor against graphql-core's, on arbitrary resolved data.

A small schema in FleetQL's style (types resolved from dicts, strawberry, the same DateTime
scalar) has every shape the compiler handles: nullable and non-null scalars, enums, DateTime,
lists of objects and of scalars with nullable and non-null items, nested objects, and fields
with resolvers of their own (sync and async, nullable and non-null, some failing: a non-null
one fails synchronously, as an async failure's effect on the errors of its concurrently
running neighbours depends on timing in graphql-core itself). Hypothesis
fills it with data that is often wrong: nulls in non-null fields, values no scalar can
represent, strings that are no enum value, lists where objects belong. Both executors must
return the same data and the same errors, with the same messages, paths and locations.
"""

from __future__ import annotations

import asyncio
import enum
from datetime import UTC, datetime

import pytest
import strawberry
from graphql import GraphQLError
from hypothesis import given, settings
from hypothesis import strategies as st
from strawberry.schema.config import StrawberryConfig
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from schema import FleetSchema
from schema.execution import STORED_KEY, CompiledExecutor, resolve_from_dict
from schema.scalars import DATETIME_SCALAR, DateTime
from tests.test_fuzz import FUZZ


@strawberry.enum
class Color(enum.Enum):
    RED = "RED"
    GREEN = "GREEN"


@strawberry.type
class Tag:
    label: str


@strawberry.type
class Node:
    s: str | None
    sn: str
    i: int | None
    f: float | None
    b: bool | None
    e: Color | None
    en: Color
    d: DateTime | None
    words: list[str | None] | None
    child: Node | None
    must: Node
    kids: list[Node | None] | None
    strict_kids: list[Node]

    @strawberry.field
    def computed(self) -> str:
        source: dict = self  # type: ignore[assignment]
        if source.get("fail"):
            raise ValueError("computed failed")
        return f"computed {source.get('sn')}"

    @strawberry.field
    async def later(self) -> int | None:
        source: dict = self  # type: ignore[assignment]
        await asyncio.sleep(0)
        if source.get("fail_later"):
            raise ValueError("later failed")
        return 1

    @strawberry.field
    async def strict(self) -> int:
        await asyncio.sleep(0)
        return 2

    @strawberry.field(metadata={STORED_KEY: "tag"})
    def tag(self) -> Tag:
        """The stored ``tag`` when there is one, else one made from ``sn``."""
        source: dict = self  # type: ignore[assignment]
        stored = source.get("tag")
        return stored if stored is not None else {"label": f"made {source.get('sn')}"}


@strawberry.type
class Query:
    @strawberry.field
    def node(self, info: strawberry.Info) -> Node | None:
        return info.context["node"]

    @strawberry.field
    async def nodes(self, info: strawberry.Info) -> list[Node] | None:
        return info.context["nodes"]


class CountingExecutor(CompiledExecutor):
    """Counts the fields graphql-core resolved one by one."""

    fields_resolved = 0

    def execute_field(self, *args, **kwargs):
        CountingExecutor.fields_resolved += 1
        return super().execute_field(*args, **kwargs)


def build(executor: type) -> strawberry.Schema:
    # FleetSchema: strawberry's own logging of every field error would dominate the run.
    return FleetSchema(
        query=Query,
        execution_context_class=executor,
        config=StrawberryConfig(
            auto_camel_case=False,
            default_resolver=resolve_from_dict,
            scalar_map={DateTime: DATETIME_SCALAR},
        ),
    )


COMPILED = build(CountingExecutor)
INTERPRETED = build(StrawberryGraphQLCoreExecutionContext)

ALL = """
fragment All on Node {
  __typename s sn i f b e en d words computed later strict tag { label }
  renamed: sn x: s @include(if: $yes) y: i @skip(if: $yes)
}"""
DOCUMENTS = [
    "query Q($yes: Boolean!) { node { ...All child { ...All must { s sn } } "
    "must { ...All kids { ...All } } kids { ...All strict_kids { sn computed } } "
    "strict_kids { ...All child { ...All } } } }" + ALL,
    "query Q($yes: Boolean!) { nodes { ...All must { must { sn strict } kids { en } } } "
    "first: node { sn } }" + ALL,
    "query Q($yes: Boolean!) { node { child @include(if: $yes) { sn i } "
    "... on Node { child { s } words } strict_kids { kids { sn later } } } }",
]

#: Values some field cannot take: out of range, of the wrong type, no enum value, null.
JUNK = [
    None,
    2**31,
    -(2**31) - 1,
    1.5,
    float("inf"),
    float("nan"),
    True,
    "BLUE",
    "",
    ["RED"],
    {"sn": "x"},
    datetime(2026, 1, 2, tzinfo=UTC),
]
LEAVES = {
    "s": st.none() | st.text(max_size=4),
    "sn": st.text(max_size=4),
    "i": st.none() | st.integers(min_value=-(2**31), max_value=2**31 - 1),
    "f": st.none() | st.floats(allow_nan=False, allow_infinity=False),
    "b": st.none() | st.booleans(),
    "e": st.none() | st.sampled_from(["RED", "GREEN"]),
    "en": st.sampled_from(["RED", "GREEN"]),
    "d": st.none() | st.datetimes(timezones=st.just(UTC)) | st.just("2026-01-02T03:04:05.678Z"),
    "words": st.none() | st.lists(st.none() | st.text(max_size=3), max_size=3),
}
#: Resolvers of their own fail now and then (one in five); ``tag`` is stored or made.
FLAGS = {
    **{
        name: st.sampled_from([False, False, False, False, True]) for name in ("fail", "fail_later")
    },
    "tag": st.fixed_dictionaries({"label": st.text(max_size=3)}),
}


def with_children(children: st.SearchStrategy) -> st.SearchStrategy:
    return st.fixed_dictionaries(
        {**LEAVES, "must": children, "strict_kids": st.lists(children, max_size=3)},
        optional={
            **FLAGS,
            "child": st.none() | children,
            "kids": st.none() | st.lists(st.none() | children, max_size=3),
        },
    )


def nodes_in(value: object) -> list[dict]:
    """Every node dict of a tree, the root first."""
    if isinstance(value, list):
        return [node for item in value for node in nodes_in(item)]
    if not isinstance(value, dict):
        return []
    return [value, *(node for child in value.values() for node in nodes_in(child))]


@st.composite
def spoiled(draw: st.DrawFn, trees: st.SearchStrategy) -> object:
    """A well-formed tree with exactly one value replaced by junk.

    One, because a second wrong value in the same compiled object would hide the first
    from the comparison (the whole object then goes to graphql-core).
    """
    tree = draw(trees)
    candidates = nodes_in(tree)
    if candidates:
        node = draw(st.sampled_from(candidates))
        node[draw(st.sampled_from(sorted(node)))] = draw(st.sampled_from(JUNK))
    return tree


#: The smallest complete nodes: their non-null children two levels deep, as the documents ask.
INNERMOST = st.fixed_dictionaries({**LEAVES, "strict_kids": st.just([])}, optional=FLAGS)
SMALLEST = st.fixed_dictionaries(
    {
        **LEAVES,
        "strict_kids": st.just([]),
        "must": st.fixed_dictionaries({**LEAVES, "strict_kids": st.just([]), "must": INNERMOST}),
    },
    optional=FLAGS,
)
NODES = st.recursive(SMALLEST, with_children, max_leaves=8)


def run(schema: strawberry.Schema, document: str, context: dict, yes: bool):
    result = asyncio.run(
        schema.execute(document, variable_values={"yes": yes}, context_value=context)
    )
    errors = [
        (e.message, e.path, [(loc.line, loc.column) for loc in e.locations or []])
        for e in result.errors or []
    ]
    return result.data, errors


def as_error(value: object) -> object:
    return value.message if isinstance(value, GraphQLError) else value


# About 13 s, most of it drawing the trees: ``slow`` (``make test-slow``). The default run keeps
# the deterministic comparisons below (every junk value in every field).
@pytest.mark.slow
# A non-null field failing while its siblings' awaitables are pending: graphql-core drops
# those awaitables unawaited (its own ``await_completed``, and the compiled executor's
# ``settled`` among them), so their resolvers never start. Python warns of each at loop close.
@pytest.mark.filterwarnings("ignore:coroutine .* was never awaited:RuntimeWarning")
@settings(FUZZ, max_examples=400)
@given(
    document=st.sampled_from(DOCUMENTS),
    node=spoiled(st.none() | NODES),
    nodes=spoiled(st.none() | st.lists(NODES, max_size=3)),
    yes=st.booleans(),
)
def test_same_data_and_errors_as_graphql_core(document, node, nodes, yes):
    context = {"node": node, "nodes": nodes}
    assert run(COMPILED, document, context, yes) == run(INTERPRETED, document, context, yes)


def test_plain_fields_are_not_resolved_one_by_one():
    node = {
        "s": "a", "sn": "b", "i": 1, "f": 1.5, "b": True, "e": "RED", "en": "GREEN",
        "d": datetime(2026, 1, 2, tzinfo=UTC), "words": ["x", None],
        "kids": [{"sn": "k", "en": "RED", "must": {"sn": "m", "en": "RED"}, "strict_kids": []}],
        "strict_kids": [],
        "must": {"sn": "m", "en": "RED", "strict_kids": []},
    }  # fmt: skip
    document = (
        "{ node { s sn i f b e en d words kids { sn en must { sn } } must { sn } computed } }"
    )
    CountingExecutor.fields_resolved = 0
    data, errors = run(COMPILED, document, {"node": node}, True)
    assert errors == []
    assert data["node"]["kids"] == [{"sn": "k", "en": "RED", "must": {"sn": "m"}}]
    assert data["node"]["d"] == "2026-01-02T00:00:00.000Z"
    # The root field and the one field with a resolver of its own; 14 plain fields compiled.
    assert CountingExecutor.fields_resolved == 2
    assert run(INTERPRETED, document, {"node": node}, True) == (data, errors)


def test_a_stored_value_is_read_and_the_resolver_runs_only_without_one():
    stored = {"sn": "a", "en": "RED", "strict_kids": [], "tag": {"label": "kept"}}
    made = {"sn": "b", "en": "RED", "strict_kids": []}
    document = "{ nodes { sn tag { label } } }"
    CountingExecutor.fields_resolved = 0
    data, errors = run(COMPILED, document, {"nodes": [stored, made, stored]}, True)
    assert errors == []
    assert [node["tag"]["label"] for node in data["nodes"]] == ["kept", "made b", "kept"]
    assert CountingExecutor.fields_resolved == 2  # the root field, and ``tag`` of "b"
    assert run(INTERPRETED, document, {"nodes": [stored, made, stored]}, True) == (data, errors)


CLEAN = {
    "s": "s", "sn": "sn", "i": 7, "f": 0.5, "b": False, "e": "GREEN", "en": "RED",
    "d": "2026-01-02T03:04:05.678Z", "words": ["w", None], "strict_kids": [],
}  # fmt: skip


@pytest.mark.parametrize("key", sorted(LEAVES))
def test_each_junk_value_in_each_field_as_graphql_core(key):
    """Every junk value in every scalar field, alone in an otherwise clean tree."""
    for junk in JUNK:
        inner = {**CLEAN, "must": dict(CLEAN), key: junk}
        node = {**CLEAN, "must": {**CLEAN, "must": dict(CLEAN)}, "kids": [inner, None]}
        for document in DOCUMENTS:
            context = {"node": node, "nodes": [node]}
            compiled = run(COMPILED, document, context, True)
            assert compiled == run(INTERPRETED, document, context, True), (key, junk)
