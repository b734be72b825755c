"""The GraphQL schema FleetQL serves: DataPacket's public API plus documented additions."""

from __future__ import annotations

from functools import cache

import strawberry
from strawberry.extensions import ParserCache, ValidationCache
from strawberry.schema.config import StrawberryConfig

from schema.enums import ErrorCode
from schema.execution import CompiledExecutor, executor_for, resolve_from_dict
from schema.root import Mutation, Query
from schema.scalars import DATETIME_SCALAR, DateTime

__all__ = ["FleetSchema", "fleet_schema", "schema_sdl"]


class FleetSchema(strawberry.Schema):
    """The strawberry schema; error reporting is left to the HTTP layer (gateway.graphql_http)."""

    def process_errors(self, errors, execution_context=None) -> None:  # noqa: ANN001
        """Do not log here: the HTTP layer logs unexpected errors once, with the request id."""


@cache
def fleet_schema() -> FleetSchema:
    """The schema, built on first use (by the app factory, ``fleetql schema``), once a process.

    DataPacket's ``Subscription`` object type is a billing subscription, so the schema has no
    GraphQL subscription root (one, if ever added, must be named otherwise).
    """
    schema = FleetSchema(
        query=Query,
        mutation=Mutation,
        types=[ErrorCode],
        # Repeated documents are parsed and validated once (the cache keys are the query text).
        # The factories share module-level LRU caches across requests.
        extensions=[lambda: ParserCache(maxsize=512), lambda: ValidationCache(maxsize=512)],
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
    """The served SDL, with an explicit ``schema`` block.

    Without it, SDL tools would take the billing ``Subscription`` type for the subscription root.
    """
    return "schema {\n  query: Query\n  mutation: Mutation\n}\n\n" + fleet_schema().as_str() + "\n"
