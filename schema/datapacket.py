"""DataPacket's own schema, served at ``/v0/graphql``: its SDL, none of FleetQL's additions.

The schema is built by graphql-core from two files: ``datapacket.graphql`` (the documented
API, from the seed) extended by ``datapacket-observed.graphql`` (fields the live API serves
beyond the documentation, as ``extend type`` definitions). Nothing is relaxed: a DataPacket
non-null stays non-null, so a null from an upstream gets graphql-core's null propagation and
error, and no FleetQL enum member (``UNKNOWN``, ``AUD``) or field (``provider``) exists here.

Its root fields run FleetQL's own root resolvers (``schema/root.py``, as the strawberry schema
compiled them: each converts its arguments to strawberry inputs and calls ``resolvers/``);
every other field reads the resolved dict by its GraphQL name, as in FleetQL. The DateTime
scalar is FleetQL's. Execution is ``schema/execution.py``'s compiled executor where
``executor_for`` allows it, as for the FleetQL schema.
"""

from __future__ import annotations

from collections import OrderedDict
from functools import cache
from pathlib import Path
from typing import Any

from graphql import (
    DocumentNode,
    ExecutionResult,
    GraphQLError,
    GraphQLSchema,
    Lexer,
    Source,
    TokenKind,
    build_schema,
    execute,
    extend_schema,
    parse,
    print_schema,
    validate,
)
from graphql.pyutils import is_awaitable

from schema import FleetSchema, fleet_schema
from schema.execution import executor_for

__all__ = [
    "DOCUMENTED_SDL",
    "OBSERVED_SDL",
    "DataPacketSchema",
    "build_datapacket_schema",
    "datapacket_schema",
    "datapacket_sdl",
    "read_datapacket_schema",
]

#: DataPacket's documented schema, as the seed renders it.
DOCUMENTED_SDL = Path(__file__).with_name("datapacket.graphql")
#: The fields the live API serves beyond the documentation (``extend type`` definitions).
OBSERVED_SDL = Path(__file__).with_name("datapacket-observed.graphql")

#: Validated documents kept, least recently used dropped first (as strawberry's cache).
MAX_VALIDATED = 512


def build_datapacket_schema(documented: str, observed: str) -> GraphQLSchema:
    """The schema of ``documented`` SDL extended by ``observed`` (which may hold only comments).

    graphql-core checks the extension: a field already defined, or a type extended that does
    not exist, raises ``TypeError`` naming it.
    """
    schema = build_schema(documented)
    if Lexer(Source(observed)).advance().kind == TokenKind.EOF:
        return schema  # comments and blank lines only: graphql-core cannot parse an empty document
    return extend_schema(schema, parse(observed))


def read_datapacket_schema() -> GraphQLSchema:
    """A new graphql-core schema from the two committed files (no resolvers bound)."""
    return build_datapacket_schema(
        DOCUMENTED_SDL.read_text(encoding="utf-8"), OBSERVED_SDL.read_text(encoding="utf-8")
    )


def datapacket_sdl() -> str:
    """The SDL ``/v0/graphql`` serves: the two files combined, printed by graphql-core."""
    return print_schema(read_datapacket_schema()) + "\n"


class DataPacketSchema:
    """The executable DataPacket schema: what ``gateway.graphql_http`` needs of a schema.

    The same two members as ``FleetSchema``: ``_schema`` (the graphql-core schema the limits
    and the introspection switch check) and ``execute_document``.
    """

    def __init__(self, schema: GraphQLSchema, fleet: FleetSchema) -> None:
        self._schema = schema
        #: graphql-core 3.3's name for the execution context class (pinned in pyproject.toml).
        self.executor_class = executor_for(schema)
        _bind(schema, fleet._schema)
        self._validated: OrderedDict[int, tuple[DocumentNode, list[GraphQLError]]] = OrderedDict()

    async def execute_document(
        self,
        document: DocumentNode,
        query: str,
        *,
        variable_values: dict[str, Any] | None,
        context_value: Any,
        operation_name: str | None,
    ) -> ExecutionResult:
        """Validate ``document`` (every standard rule, once per document) and execute one
        operation of it, as ``FleetSchema.execute_document`` does."""
        errors = self._validation_errors(document)
        if errors:
            return ExecutionResult(None, errors)
        result = execute(
            self._schema,
            document,
            variable_values=variable_values,
            context_value=context_value,
            operation_name=operation_name,
            executor_class=self.executor_class,
        )
        if is_awaitable(result):
            result = await result
        return result

    def _validation_errors(self, document: DocumentNode) -> list[GraphQLError]:
        """graphql-core's validation errors, cached by document: the HTTP layer parses each
        distinct text once, so a repeated request brings the same tree."""
        entry = self._validated.get(id(document))
        if entry is not None and entry[0] is document:
            self._validated.move_to_end(id(document))
            return entry[1]
        errors = validate(self._schema, document)
        # The key is the tree's id; keeping the tree keeps that id from being reused.
        self._validated[id(document)] = (document, errors)
        if len(self._validated) > MAX_VALIDATED:
            self._validated.popitem(last=False)
        return errors


def _bind(schema: GraphQLSchema, fleet: GraphQLSchema) -> None:
    """Give ``schema``'s root fields FleetQL's root resolvers, and its DateTime FleetQL's.

    A root field FleetQL does not serve raises ``LookupError`` here, at start-up, rather than
    answering null at run time.
    """
    roots = ((schema.query_type, fleet.query_type), (schema.mutation_type, fleet.mutation_type))
    for ours, theirs in roots:
        for name, field in ours.fields.items():
            resolver = theirs.fields.get(name)
            if resolver is None:
                raise LookupError(f"DataPacket's {ours.name}.{name} has no FleetQL resolver")
            field.resolve = resolver.resolve
    scalar, fleet_scalar = schema.type_map["DateTime"], fleet.type_map["DateTime"]
    # graphql-core 3.3 calls coerce_*, which strawberry sets beside the older names.
    for name in _SCALAR_FUNCTIONS:
        if name in vars(fleet_scalar):
            setattr(scalar, name, getattr(fleet_scalar, name))


_SCALAR_FUNCTIONS = (
    "serialize",
    "parse_value",
    "parse_literal",
    "coerce_output_value",
    "coerce_input_value",
    "coerce_input_literal",
)


@cache
def datapacket_schema() -> DataPacketSchema:
    """The schema ``/v0/graphql`` serves, built once a process (by the app factory)."""
    return DataPacketSchema(read_datapacket_schema(), fleet_schema())
