"""Inbound query limits, checked on the parsed document before anything executes.

Depth, aliases and operations per document are counted on the syntax tree (fragments
expanded); the size in tokens is enforced by the parser. The cost estimate counts fan-out,
i.e. upstream work: each root field costs 10 (a call per provider); below it each field
costs 1 per item of the page it sits in (``pageSize`` entries multiply what is below them;
lists nested in an item arrive in the same upstream payload and do not); and a field that
may need an extra upstream call per server costs 5 more, so 50 servers with network details
cost far more than 50 names.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    value_from_ast_untyped,
)

from schema.errors import GraphQLValidationFailed

__all__ = ["QueryLimits", "check_document", "uses_introspection"]

#: Fields that may cost an extra upstream call per server on some backends.
EXTRA_CALL_FIELDS = {("Server", "powerStatus"), ("Server", "network"), ("Server", "system")}
EXTRA_CALL_COST = 5
ROOT_FIELD_COST = 10
DEFAULT_PAGE_SIZE = 50


@dataclass(frozen=True)
class QueryLimits:
    """Configured under ``[limits]``; every limit is named in the error it causes."""

    max_depth: int = 12
    max_aliases: int = 30
    max_tokens: int = 5000
    max_operations: int = 10
    max_cost: int = 20000
    max_body_bytes: int = 100_000


def check_document(
    schema: GraphQLSchema,
    document: DocumentNode,
    operations: list[OperationDefinitionNode],
    variables: dict[str, Any] | None,
    limits: QueryLimits,
) -> None:
    """Raise ``GRAPHQL_VALIDATION_FAILED`` naming the first limit the document exceeds."""
    if len(operations) > limits.max_operations:
        _exceeded("max_operations", limits.max_operations, len(operations))
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    walker = _Walker(schema, fragments, variables or {})
    for operation in operations:
        root = schema.get_root_type(operation.operation)
        walker.walk(operation.selection_set, root, depth=1, multiplier=1)
    if walker.max_depth > limits.max_depth:
        _exceeded("max_depth", limits.max_depth, walker.max_depth)
    if walker.aliases > limits.max_aliases:
        _exceeded("max_aliases", limits.max_aliases, walker.aliases)
    if walker.cost > limits.max_cost:
        _exceeded("max_cost", limits.max_cost, walker.cost)


def uses_introspection(document: DocumentNode) -> bool:
    """Whether any selection asks for ``__schema`` or ``__type``."""
    return any(
        isinstance(node, FieldNode) and node.name.value in ("__schema", "__type")
        for node in _nodes(document)
    )


def _nodes(node: Any):
    yield node
    for key in getattr(node, "keys", ()):
        value = getattr(node, key, None)
        for child in value if isinstance(value, tuple | list) else [value]:
            if hasattr(child, "kind"):
                yield from _nodes(child)


def _exceeded(limit: str, allowed: int, actual: int) -> None:
    raise GraphQLValidationFailed(
        f"The query exceeds the {limit} limit ({actual} > {allowed}).",
        limit=limit,
        allowed=allowed,
        actual=actual,
    )


class _Walker:
    """One pass over the operations: depth, aliases and estimated cost."""

    def __init__(self, schema: GraphQLSchema, fragments: dict, variables: dict[str, Any]):
        self.schema = schema
        self.fragments = fragments
        self.variables = variables
        self.max_depth = 0
        self.aliases = 0
        self.cost = 0
        self._spreads: list[str] = []

    def walk(
        self,
        selections: SelectionSetNode,
        parent: Any,
        depth: int,
        multiplier: int,
        page_size: int = DEFAULT_PAGE_SIZE,
    ) -> None:
        self.max_depth = max(self.max_depth, depth)
        for node in selections.selections:
            if isinstance(node, FieldNode):
                self._field(node, parent, depth, multiplier, page_size)
                continue
            if isinstance(node, FragmentSpreadNode):
                name = node.name.value
                fragment = self.fragments.get(name)
                if fragment is None or name in self._spreads:
                    continue  # unknown or cyclic: validation reports it
                self._spreads.append(name)
                target = self.schema.get_type(fragment.type_condition.name.value)
                self.walk(fragment.selection_set, target, depth, multiplier, page_size)
                self._spreads.pop()
            elif isinstance(node, InlineFragmentNode):
                condition = node.type_condition
                target = self.schema.get_type(condition.name.value) if condition else parent
                self.walk(node.selection_set, target, depth, multiplier, page_size)

    def _field(
        self, node: FieldNode, parent: Any, depth: int, multiplier: int, page_size: int
    ) -> None:
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
            page_size = self._page_size(node)
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

    def _page_size(self, node: FieldNode) -> int:
        for argument in node.arguments or ():
            if argument.name.value == "input":
                value = value_from_ast_untyped(argument.value, self.variables)
                if isinstance(value, dict) and isinstance(value.get("pageSize"), int):
                    return max(1, min(value["pageSize"], DEFAULT_PAGE_SIZE))
        return DEFAULT_PAGE_SIZE
