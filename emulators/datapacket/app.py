"""An in-process stand-in for DataPacket's GraphQL API (https://api.datapacket.com/v0/graphql).

Example:
    with EmulatorServer(create_app(size=40, seed=1)) as server:
        httpx.post(
            f"{server.url}/v0/graphql",
            headers={"Authorization": "Bearer dp-emulator-full"},
            json={"query": "{ servers { entries { name } } }"},
        )

It serves the whole schema, ``schema/datapacket.graphql`` with the live fields of
``schema/datapacket-observed.graphql`` (every root field is one the adapter calls, but
``server``, which the seed's examples use, and ``locations``, which public clients send) over
``POST`` with a JSON body, as the
adapter sends it, one operation per request (``operationName`` picks one of several), with the
seed's behaviour. The seed's ``GET`` transport and its several operations run in one request
are not emulated: no adapter uses them.
  * ``Authorization: Bearer <token>``; ``tokens`` maps a token to "read-only" or "full-access".
    A missing or unknown token gets HTTP 200 with a NOT_AUTHORIZED error ("You are not
    authorized to perform this action") and no data; a read-only token's mutation fields fail
    with NOT_AUTHORIZED and change nothing.
  * Malformed HTTP (bad JSON, non-JSON content type, no query) -> 400 BAD_REQUEST; parse,
    validation and variable errors (several operations without ``operationName`` included) ->
    400 GRAPHQL_VALIDATION_FAILED (seed: "Malformed requests will also return an errors field
    along with HTTP status code 400"); errors of fields -> 200 with ``data``.
  * Lists are ordered: servers and instant-delivery servers by name ascending, invoices newest
    first (by number, descending), subscriptions by creation, support requests by id ascending.
  * Power actions land after ``power_delay`` seconds (IPMI is asynchronous); responses show the
    server as it is at that moment.

Every request is logged with ``operation`` = the comma-joined root field names it executes, and
faults injected through ``app.state.emulator.faults`` answer in DataPacket's error format.
"""

from __future__ import annotations

import json
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    execute_sync,
    parse,
    validate,
)
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from emulators.datapacket.fleet import Fleet, build_fleet
from emulators.datapacket.resolvers import Context, datapacket_schema
from emulators.datapacket.rules import ApiError
from emulators.kit import create_emulator_app, logged_request

GRAPHQL_PATH = "/v0/graphql"
DEFAULT_TOKENS = {"dp-emulator-full": "full-access", "dp-emulator-read": "read-only"}
#: DataPacket's message for NOT_AUTHORIZED.
NOT_AUTHORIZED = "You are not authorized to perform this action"


def create_app(
    *,
    size: int = 40,
    seed: int = 1,
    tokens: dict[str, str] | None = None,
    power_delay: float = 0.5,
    examples: bool = True,
) -> Starlette:
    """A DataPacket emulator over a fleet of ``size`` servers generated from ``seed``.

    ``examples=False`` leaves out the seed's fixed entities (for a second account).
    ``app.state.emulator`` holds the fault settings and request log; ``app.state.fleet`` the data.
    """
    fleet = build_fleet(size, seed, examples=examples)
    tokens = dict(DEFAULT_TOKENS if tokens is None else tokens)
    endpoint = _GraphQLEndpoint(fleet, tokens, power_delay, seed)
    route = Route(GRAPHQL_PATH, endpoint.handle, methods=["POST"])
    app = create_emulator_app([route], fault_body=_fault_body)
    app.state.fleet = fleet
    return app


def _fault_body(status: int) -> tuple[bytes, str]:
    """DataPacket's error body for an injected ``status`` (a 400: its malformed-request answer)."""
    if status == 400:
        message = 'Cannot query field "injected" on type "Query".'
        code = "GRAPHQL_VALIDATION_FAILED"
    else:
        message = "Too many requests" if status == 429 else "Internal server error"
        code = "INTERNAL_SERVER_ERROR"
    body = {"errors": [{"message": message, "extensions": {"code": code}}]}
    return json.dumps(body).encode(), "application/json"


class _BadRequest(Exception):
    """The HTTP request is malformed: answered with 400 BAD_REQUEST before any GraphQL work."""


def _error(code: str, message: str, status: int = 200) -> JSONResponse:
    return JSONResponse({"errors": [{"message": message, "extensions": {"code": code}}]}, status)


class _GraphQLEndpoint:
    """``/v0/graphql`` over one fleet."""

    def __init__(self, fleet: Fleet, tokens: dict[str, str], power_delay: float, seed: int) -> None:
        self.fleet = fleet
        self.tokens = tokens
        self.power_delay = power_delay
        self.seed = seed

    async def handle(self, request: Request) -> JSONResponse:
        """Turn one HTTP request into DataPacket's JSON answer."""
        try:
            query, variables, operation_name = await _read_request(request)
        except _BadRequest as exc:
            return _error("BAD_REQUEST", str(exc), 400)
        document, errors = _parse(query)
        operation = _operation(document, operation_name) if document else None
        entry = logged_request(request.scope)
        if entry is not None and document and operation:
            entry.operation = ",".join(_root_fields(document, operation))
        access = self._access(request)
        if access is None:
            return _error("NOT_AUTHORIZED", NOT_AUTHORIZED)
        if document is not None:
            errors = validate(datapacket_schema(), document)
            if not errors and operation is None:
                errors = [GraphQLError(_no_operation(operation_name))]
        if errors:
            return JSONResponse({"errors": [_format(e) for e in errors]}, 400)
        context = Context(self.fleet, access, self.power_delay, self.seed)
        result = execute_sync(
            datapacket_schema(),
            document,
            context_value=context,
            variable_values=variables,
            operation_name=operation_name,
        )
        failures = [_format(e) for e in result.errors or []]
        if result.data is None and failures and all(e.path is None for e in result.errors):
            # The variables were refused before anything ran: a malformed request too.
            return JSONResponse({"errors": failures}, 400)
        return JSONResponse(
            {"errors": failures, "data": result.data} if failures else {"data": result.data}
        )

    def _access(self, request: Request) -> str | None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        return self.tokens.get(token.strip()) if scheme.lower() == "bearer" else None


async def _read_request(request: Request) -> tuple[str, dict[str, Any] | None, str | None]:
    """Query, variables and operationName from the JSON body of a POST."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "application/json":
        raise _BadRequest("Content-Type must be application/json")
    try:
        payload = json.loads(await request.body())
    except ValueError:
        raise _BadRequest("Request body is not valid JSON") from None
    if not isinstance(payload, dict):
        raise _BadRequest("Request body must be a JSON object")
    query, variables, name = (
        payload.get("query"),
        payload.get("variables"),
        payload.get("operationName"),
    )
    if not isinstance(query, str) or not query.strip():
        raise _BadRequest("Must provide query string")
    if variables is not None and not isinstance(variables, dict):
        raise _BadRequest("variables must be a JSON object")
    if name is not None and not isinstance(name, str):
        raise _BadRequest("operationName must be a string")
    return query, variables, name


def _parse(query: str) -> tuple[DocumentNode | None, list[GraphQLError]]:
    try:
        return parse(query), []
    except GraphQLError as exc:
        return None, [exc]


def _operation(document: DocumentNode, name: str | None) -> OperationDefinitionNode | None:
    """The operation to run: the named one, or the document's only one."""
    ops = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if name is None:
        return ops[0] if len(ops) == 1 else None
    return next((op for op in ops if op.name and op.name.value == name), None)


def _no_operation(name: str | None) -> str:
    if name is None:
        return "Must provide operation name if query contains multiple operations."
    return f"Unknown operation named '{name}'."


def _root_fields(document: DocumentNode, operation: OperationDefinitionNode) -> list[str]:
    """Root field names (not aliases) the operation selects, fragments expanded, in order."""
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }

    def walk(selection_set: SelectionSetNode, seen: frozenset[str]) -> list[str]:
        names = []
        for sel in selection_set.selections:
            if isinstance(sel, FieldNode):
                names.append(sel.name.value)
            elif isinstance(sel, InlineFragmentNode):
                names += walk(sel.selection_set, seen)
            elif isinstance(sel, FragmentSpreadNode) and sel.name.value in fragments:
                if sel.name.value not in seen:
                    names += walk(fragments[sel.name.value].selection_set, seen | {sel.name.value})
        return names

    return walk(operation.selection_set, frozenset())


def _code(error: GraphQLError) -> str:
    """Resolver errors keep their code; other errors with a path are server bugs; the rest is a
    problem with the document or its variables."""
    if isinstance(error.original_error, ApiError):
        return error.original_error.code
    return "INTERNAL_SERVER_ERROR" if error.path is not None else "GRAPHQL_VALIDATION_FAILED"


def _format(error: GraphQLError) -> dict[str, Any]:
    formatted = dict(error.formatted)
    formatted["extensions"] = {"code": _code(error)}
    return formatted
