"""The GraphQL schema FleetQL serves: DataPacket's public API plus documented additions."""

from __future__ import annotations

from collections.abc import Iterator
from contextvars import ContextVar
from functools import cache
from typing import Any

import strawberry
from graphql import DocumentNode
from strawberry.extensions import SchemaExtension, ValidationCache
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionResult

from schema.enums import ErrorCode
from schema.execution import CompiledExecutor, executor_for, resolve_from_dict
from schema.root import Mutation, Query, SubscriptionRoot
from schema.scalars import DATETIME_SCALAR, DateTime

__all__ = ["FleetSchema", "ParsedDocument", "fleet_schema", "schema_sdl"]


#: The document ``FleetSchema.execute_document`` hands to the operation it runs.
_parsed_document: ContextVar[DocumentNode | None] = ContextVar("parsed_document", default=None)


class ParsedDocument(SchemaExtension):
    """Runs the document the HTTP layer parsed and checked, rather than parsing the text again.

    The HTTP layer needs the syntax tree before anything runs (token scope, operations, the
    limits). Strawberry skips its own parse when ``graphql_document`` is set in ``on_parse``,
    so the document checked is the one executed. Without a parsed document (a caller of
    ``execute`` with text only) strawberry parses the text itself.
    """

    def on_parse(self) -> Iterator[None]:
        document = _parsed_document.get()
        if document is not None:
            self.execution_context.graphql_document = document
        yield


class FleetSchema(strawberry.Schema):
    """The strawberry schema; error reporting is left to the HTTP layer (gateway.graphql_http)."""

    def process_errors(self, errors, execution_context=None) -> None:  # noqa: ANN001
        """Do not log here: the HTTP layer logs unexpected errors once, with the request id."""

    async def execute_document(
        self,
        document: DocumentNode,
        query: str,
        *,
        variable_values: dict[str, Any] | None,
        context_value: Any,
        operation_name: str | None,
    ) -> ExecutionResult:
        """``execute`` one operation of ``document``, already parsed from ``query``.

        The text still reaches every extension as ``execution_context.query``.
        """
        token = _parsed_document.set(document)
        try:
            return await self.execute(
                query,
                variable_values=variable_values,
                context_value=context_value,
                operation_name=operation_name,
            )
        finally:
            _parsed_document.reset(token)


@cache
def fleet_schema() -> FleetSchema:
    """The schema, built on first use (by the app factory, ``fleetql schema``), once a process.

    DataPacket's ``Subscription`` object type is a billing subscription, so the subscription
    root is named ``SubscriptionRoot``.
    """
    schema = FleetSchema(
        query=Query,
        mutation=Mutation,
        subscription=SubscriptionRoot,
        types=[ErrorCode],
        # The HTTP layer parses each document (once per distinct text); repeated documents are
        # validated once (the factory shares a module-level LRU cache across requests).
        extensions=[ParsedDocument, lambda: ValidationCache(maxsize=512)],
        execution_context_class=CompiledExecutor,
        config=StrawberryConfig(
            auto_camel_case=False,
            default_resolver=resolve_from_dict,
            scalar_map={DateTime: DATETIME_SCALAR},
        ),
    )
    # Compiled only where graphql-core and the extensions allow it (schema/execution.py).
    schema.execution_context_class = executor_for(schema)
    return schema


def schema_sdl() -> str:
    """The served SDL, with its explicit ``schema`` block.

    Strawberry prints one because the subscription root is not named ``Subscription``; without
    it, SDL tools would take the billing ``Subscription`` type for that root.
    """
    return fleet_schema().as_str() + "\n"
