"""GraphQL over HTTP, as the DataPacket seed describes it.

``POST /graphql`` with an ``application/json`` body ``{query, variables, operationName}``, or
``GET /graphql?query=…&variables=…`` (queries only). A request that cannot be read answers
HTTP 400 with ``BAD_REQUEST``; everything else answers 200 with ``errors`` as needed. A
document with several operations and no ``operationName`` runs them all, in document order
(seed: "They will be executed in the order they are specified in the request").
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from typing import Any

from graphql import (
    DocumentNode,
    GraphQLError,
    OperationDefinitionNode,
    OperationType,
    parse,
)
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response

from gateway.context import RequestContext
from gateway.graphiql import graphiql_page
from gateway.limits import check_document, uses_introspection
from schema import fleet_schema
from schema.errors import (
    BadRequest,
    GatewayError,
    GraphQLValidationFailed,
    InternalServerError,
    NotAuthorized,
    RateLimited,
)

__all__ = ["graphql_endpoint"]

log = logging.getLogger("fleetql.request")
REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


async def graphql_endpoint(request: Request) -> Response:
    """Serve one GraphQL request (or GraphiQL to a browser)."""
    gateway = request.app.state.gateway
    request_id = _request_id(request)
    if request.method == "GET" and "query" not in request.query_params:
        if gateway.settings.graphiql and "text/html" in request.headers.get("accept", ""):
            return HTMLResponse(graphiql_page(gateway.demo_token))
    settings = gateway.settings
    try:
        query, variables, operation_name = await _read_request(
            request, settings.limits.max_body_bytes
        )
    except BadRequest as error:
        status = 413 if error.details.get("limit") else 400
        return _errors([format_error(error, request_id)], status, request_id)
    try:
        token = gateway.tokens.authenticate(request.headers.get("authorization"))
        document = parse(query, max_tokens=settings.limits.max_tokens)
        operations = _operations(document, operation_name)
        mutates = any(op.operation == OperationType.MUTATION for op in operations)
        if request.method == "GET" and mutates:
            error = BadRequest("Mutations must be sent with POST.")
            return _errors([format_error(error, request_id)], 405, request_id, allow="POST")
        if mutates and not token.can_mutate:
            raise NotAuthorized("This API token is read-only; mutations need a full-access token.")
        gateway.rate_limiter.take(token.name, "mutation" if mutates else "query")
        check_document(gateway.graphql_schema, document, operations, variables, settings.limits)
        if not settings.introspection and uses_introspection(document):
            raise GraphQLValidationFailed("Introspection is disabled on this gateway.")
    except RateLimited as error:
        retry_after = str(error.details["retryAfter"])
        body = [format_error(error, request_id)]
        return _errors(body, 429, request_id, retry_after=retry_after)
    except (GatewayError, GraphQLError) as error:
        return _errors([format_error(error, request_id)], 200, request_id)
    context = RequestContext(
        providers=gateway.providers.visible_to(token.providers),
        health=gateway.health,
        token=token,
        request_id=request_id,
    )
    data: dict[str, Any] | None = None
    errors: list[dict[str, Any]] = []
    for operation in operations:
        result = await fleet_schema.execute(
            query,
            variable_values=variables,
            context_value=context,
            operation_name=operation.name.value if operation.name else None,
        )
        errors.extend(format_error(error, request_id) for error in result.errors or [])
        errors.extend(
            format_error(error, request_id) | {"path": path}
            for error, path in context.partial_errors
        )
        context.partial_errors.clear()
        if result.data is not None:
            data = {**(data or {}), **result.data}
        elif result.errors and not any(error.path for error in result.errors):
            break  # the document itself is invalid: every operation would fail the same way
    body: dict[str, Any] = {}
    if errors:
        body["errors"] = errors
    if data is not None or any("path" in error for error in errors):
        body["data"] = data
    return JSONResponse(body, headers={"X-Request-ID": request_id})


def _request_id(request: Request) -> str:
    given = request.headers.get("x-request-id", "")
    return given if REQUEST_ID.match(given) else uuid.uuid4().hex


async def _read_request(
    request: Request, max_body_bytes: int
) -> tuple[str, dict[str, Any] | None, str | None]:
    if request.method == "GET":
        params: dict[str, Any] = dict(request.query_params)
        if "variables" in params:
            try:
                params["variables"] = (
                    json.loads(params["variables"]) if params["variables"] else None
                )
            except json.JSONDecodeError:
                raise BadRequest("The 'variables' parameter is not valid JSON.") from None
    else:
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != "application/json":
            raise BadRequest("POST requests must have Content-Type: application/json.")
        declared = request.headers.get("content-length", "0")
        if not declared.isdigit() or int(declared) > max_body_bytes:
            raise _too_large(max_body_bytes)
        body = await request.body()
        if len(body) > max_body_bytes:
            raise _too_large(max_body_bytes)
        try:
            params = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise BadRequest("The request body is not valid JSON.") from None
        if not isinstance(params, dict):
            raise BadRequest("The request body must be a JSON object.")
    query = params.get("query")
    variables = params.get("variables")
    operation_name = params.get("operationName")
    if not isinstance(query, str) or not query.strip():
        raise BadRequest("The request has no 'query'.")
    if variables is not None and not isinstance(variables, dict):
        raise BadRequest("'variables' must be a JSON object.")
    if operation_name is not None and not isinstance(operation_name, str):
        raise BadRequest("'operationName' must be a string.")
    return query, variables, operation_name


def _too_large(max_body_bytes: int) -> BadRequest:
    return BadRequest(
        f"The request body exceeds the max_body_bytes limit ({max_body_bytes} bytes).",
        limit="max_body_bytes",
    )


def _operations(
    document: DocumentNode, operation_name: str | None
) -> list[OperationDefinitionNode]:
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is not None:
        operations = [op for op in operations if op.name and op.name.value == operation_name]
        if not operations:
            raise GraphQLValidationFailed(f"Unknown operation named '{operation_name}'.")
    if not operations:
        raise GraphQLValidationFailed("The document contains no operation.")
    return operations


def _locations(error: GraphQLError) -> list[dict[str, int]] | None:
    if not error.locations:
        return None
    return [{"line": loc.line, "column": loc.column} for loc in error.locations]


def format_error(error: GatewayError | GraphQLError, request_id: str) -> dict[str, Any]:
    """One entry of ``errors``: message, locations, path and ``extensions.code``."""
    if isinstance(error, GatewayError):
        return {"message": error.message, "extensions": error.extensions}
    original = error.original_error
    if isinstance(original, GatewayError):
        message, extensions = original.message, original.extensions
    elif error.path is None:
        # Parse, validation and variable-coercion errors: graphql-core's message is safe.
        message, extensions = error.message, {"code": GraphQLValidationFailed.code}
    else:
        log.error(
            "unexpected error in %s (request %s)",
            ".".join(map(str, error.path)),
            request_id,
            exc_info=original,
        )
        message = f"Internal server error (request id {request_id})."
        extensions = {"code": InternalServerError.code, "requestId": request_id}
    formatted: dict[str, Any] = {"message": message}
    if locations := _locations(error):
        formatted["locations"] = locations
    if error.path is not None:
        formatted["path"] = list(error.path)
    formatted["extensions"] = extensions
    return formatted


def _errors(errors: list[dict[str, Any]], status: int, request_id: str, **headers: str) -> Response:
    headers = {
        "X-Request-ID": request_id,
        **{key.replace("_", "-").title(): value for key, value in headers.items()},
    }
    return JSONResponse({"errors": errors}, status_code=status, headers=headers)
