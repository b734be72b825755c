"""The compiled executor checks, when a schema is built, that compiling is sound there.

``schema.execution.executor_for`` keeps graphql-core's interpreter (and logs one warning line
naming the reason) when graphql-core's internals are not the ones the compiler was written
against, or when a strawberry extension has a ``resolve`` hook that compiled fields would
bypass. Either way, results stay right: the interpreter runs every field.
"""

from __future__ import annotations

import logging

import pytest
import strawberry
from graphql.execution import collect_fields
from strawberry.extensions import SchemaExtension
from strawberry.schema.config import StrawberryConfig
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

import schema as fleet
from schema import FleetSchema
from schema.execution import WRITTEN_FOR, CompiledExecutor, executor_for, resolve_from_dict


@strawberry.type
class Item:
    name: str
    size: int | None


@strawberry.type
class Query:
    @strawberry.field
    def items(self, info: strawberry.Info) -> list[Item]:
        return [{"name": "a", "size": 1}, {"name": "b", "size": None}]


class FieldCounter(SchemaExtension):
    """An extension with a resolve hook: it sees every field graphql-core resolves."""

    seen: list[str] = []

    def resolve(self, _next, root, info, *args, **kwargs):
        FieldCounter.seen.append(info.field_name)
        return _next(root, info, *args, **kwargs)


def small_schema(extensions=()) -> FleetSchema:
    built = FleetSchema(
        query=Query,
        extensions=list(extensions),
        execution_context_class=CompiledExecutor,
        config=StrawberryConfig(auto_camel_case=False, default_resolver=resolve_from_dict),
    )
    built.execution_context_class = executor_for(built)
    return built


async def items(built: FleetSchema) -> dict:
    result = await built.execute("{ items { name size } }")
    assert result.errors is None
    return result.data


async def test_the_installed_graphql_core_compiles():
    assert executor_for(fleet.fleet_schema()) is CompiledExecutor
    assert small_schema().execution_context_class is CompiledExecutor


@pytest.mark.parametrize("method", list(WRITTEN_FOR))
async def test_a_changed_signature_falls_back_to_the_interpreter(monkeypatch, caplog, method):
    """As if graphql-core had changed the method's parameters (it did three times in 3.x)."""
    original = getattr(StrawberryGraphQLCoreExecutionContext, method)

    def changed(self, *args, extra=None):
        return original(self, *args)

    monkeypatch.setattr(StrawberryGraphQLCoreExecutionContext, method, changed)
    with caplog.at_level(logging.WARNING, logger="schema.execution"):
        built = small_schema()
        whole = fleet.fleet_schema.__wrapped__()
    assert built.execution_context_class is StrawberryGraphQLCoreExecutionContext
    assert whole.execution_context_class is StrawberryGraphQLCoreExecutionContext
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2
    assert all(f"ExecutionContext.{method} takes (args, extra)" in w for w in warnings)
    assert await items(built) == {"items": [{"name": "a", "size": 1}, {"name": "b", "size": None}]}


async def test_a_missing_field_details_shape_falls_back(monkeypatch, caplog):
    monkeypatch.delattr(collect_fields, "FieldDetails")
    with caplog.at_level(logging.WARNING, logger="schema.execution"):
        built = small_schema()
    assert built.execution_context_class is StrawberryGraphQLCoreExecutionContext
    assert "FieldDetails is missing" in caplog.text


async def test_an_extension_with_a_resolve_hook_is_never_bypassed(caplog):
    FieldCounter.seen = []
    with caplog.at_level(logging.WARNING, logger="schema.execution"):
        built = small_schema([FieldCounter])
    assert built.execution_context_class is StrawberryGraphQLCoreExecutionContext
    assert "the FieldCounter extension has a resolve hook" in caplog.text
    assert await items(built) == {"items": [{"name": "a", "size": 1}, {"name": "b", "size": None}]}
    # The root field and both fields of both items: every one went through the hook.
    assert sorted(FieldCounter.seen) == ["items", "name", "name", "size", "size"]


async def test_compiled_fields_are_not_seen_by_resolvers_one_by_one():
    """What the check guards against: compiled, the hook would see the root field only."""
    FieldCounter.seen = []
    built = FleetSchema(
        query=Query,
        extensions=[FieldCounter],
        execution_context_class=CompiledExecutor,
        config=StrawberryConfig(auto_camel_case=False, default_resolver=resolve_from_dict),
    )
    await items(built)
    assert FieldCounter.seen == ["items"]
