"""GraphQL over HTTP: DataPacket's behaviour by default, the GraphQL-over-HTTP spec on request.

``POST /graphql`` with an ``application/json`` body ``{query, variables, operationName,
extensions}``, or ``GET /graphql?query=…&variables=…&extensions=…`` (queries only). A request
that cannot be read answers HTTP 400 with ``BAD_REQUEST`` (413 too large, 405 a mutation over
GET, 429 rate limited). ``extensions.persistedQuery`` may name the document by its SHA-256
instead of ``query`` (``gateway/persisted.py``); an answer to a GET says how long an HTTP
cache may keep it (``_Answer.http_caching``).

The response media type follows ``Accept``. ``application/json`` (the default, and what
DataPacket clients send) keeps DataPacket's behaviour: a malformed request (one that does not
parse or validate, a variable of the wrong type, a limit passed) answers 400, other errors
200 (seed: "Errors typically return HTTP status code 200. Malformed requests will also return
an errors field along with HTTP status code 400"). ``application/graphql-response+json``
(preferred by the client, per the GraphQL-over-HTTP specification) answers every request
error (those, and a missing or refused token) with 400 (401, 403) and no ``data`` key.
Field errors answer 200 with ``data`` under either (``_Answer.status_and_headers``).

A document with several operations and no ``operationName`` runs them all, in document order
(seed: "They will be executed in the order they are specified in the request").

The document is parsed here, once: the token's scope, the operations and the limits are
checked on it, and strawberry executes that same tree (``FleetSchema.execute_document``),
its own validation cached. The endpoint is FleetQL's rather than a subclass of strawberry's
``GraphQLRouter`` because that view would be overridden almost whole: it reads the body at
once, answers unreadable requests in plain text, knows one media type and one status, and
runs one operation per document. What is left here is only what strawberry lacks, each piece
saying why in its docstring. GraphiQL is a route of its own (``gateway.graphiql``).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable
from contextlib import aclosing
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Protocol

import orjson
from graphql import (
    DocumentNode,
    GraphQLError,
    GraphQLSchema,
    OperationDefinitionNode,
    OperationType,
    parse,
)
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from errors import (
    BadRequest,
    GatewayError,
    GraphQLValidationFailed,
    IdempotencyConflict,
    InternalServerError,
    NotAuthorized,
    PersistedQueryNotFound,
    PersistedQueryNotInList,
    RateLimited,
    ValidationFailed,
)
from errors.wording import graphql_js, quoted
from gateway import idempotency
from gateway.limits import limits_refusal
from gateway.observability import RequestObservation
from gateway.persisted import requested_hash
from providers.cache import ReadRecord, read_record
from providers.http import request_deadline
from resolvers.context import RequestContext
from resolvers.loaders import Loaders

if TYPE_CHECKING:
    from gateway.app import Gateway
    from gateway.auth import TokenEntry

__all__ = [
    "GRAPHQL_RESPONSE_JSON",
    "GraphQLService",
    "format_error",
    "graphql_endpoint",
    "malformed",
    "negotiate",
    "parse_document",
    "select_operations",
    "unexpected_error",
]

log = logging.getLogger("fleetql.request")
GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"
JSON = "application/json"


class ServedSchema(Protocol):
    """What a path serves GraphQL with: ``FleetSchema``, or ``schema.datapacket``'s."""

    #: The graphql-core schema: the limits and the introspection switch check documents on it.
    _schema: GraphQLSchema

    async def execute_document(
        self,
        document: DocumentNode,
        query: str,
        *,
        variable_values: dict[str, Any] | None,
        context_value: Any,
        operation_name: str | None,
    ) -> Any: ...


@dataclass(frozen=True)
class GraphQLService:
    """What one GraphQL path serves: its schema and the providers behind it.

    ``/graphql`` serves FleetQL's schema over every provider; ``/v0/graphql`` DataPacket's own
    schema over the DataPacket providers (``[datapacket_endpoint]``). Everything else (auth,
    limits, caches, persisted queries, errors, statuses, observation) is the same pipeline.
    """

    path: str
    schema: ServedSchema
    #: The provider ids answering at this path; ``None``: every configured provider.
    providers: frozenset[str] | None = None

    def scope(self, token: TokenEntry) -> frozenset[str] | None:
        """The provider ids a request of ``token`` reaches here (``None``: every one)."""
        if self.providers is None:
            return token.providers
        if token.providers is None:
            return self.providers
        return self.providers & token.providers


def graphql_endpoint(service: GraphQLService) -> Callable[[Request], Awaitable[Response]]:
    """The route handler serving ``service``'s GraphQL requests."""

    async def endpoint(request: Request) -> Response:
        return await serve_graphql(request, service)

    return endpoint


async def serve_graphql(request: Request, service: GraphQLService) -> Response:
    """Serve one GraphQL request, observed (metrics, trace span, access log) from end to end.

    Strawberry's view has no hook spanning the whole request with the status it answers, which
    the request metrics and the access log need.
    """
    gateway = request.app.state.gateway
    media_type = negotiate(request.headers.get("accept"))
    request_id = request.state.request_id
    observability = gateway.observability
    with observability.graphql_request(request_id, request.headers, service.path) as observation:
        answer = await _answer(request, gateway, service, observation)
        status, headers = answer.status_and_headers(media_type)
        if request.method == "GET":
            headers = {**headers, **answer.http_caching()}
        observation.responded(status, answer.body)
        content = answer.body if answer.raw is None else answer.raw
        return FastJSONResponse(content, status, headers, media_type=media_type)


def negotiate(accept: str | None) -> str:
    """``application/graphql-response+json`` when ``Accept`` prefers it, else ``application/json``.

    Strawberry answers ``application/json`` only; DataPacket's clients need it, and
    GraphQL-over-HTTP clients ask for the newer type, whose request errors are 4xx.

    Example:
        ``negotiate("application/graphql-response+json, application/json;q=0.9")``
    """
    quality = {GRAPHQL_RESPONSE_JSON: 0.0, JSON: 0.0}
    for media_range in (accept or "").split(","):
        media, *params = (part.strip() for part in media_range.split(";"))
        # A wildcard counts for application/json only: the new type must be asked for by name.
        media = JSON if media.lower() in ("*/*", "application/*") else media.lower()
        if media in quality:
            quality[media] = max(quality[media], _quality(params))
    wanted = quality[GRAPHQL_RESPONSE_JSON]
    return GRAPHQL_RESPONSE_JSON if wanted > 0 and wanted >= quality[JSON] else JSON


def _quality(params: list[str]) -> float:
    """The ``q`` parameter of a media range (1 when absent, 0 when unreadable)."""
    for param in params:
        name, _, value = param.partition("=")
        if name.strip().lower() == "q":
            try:
                return float(value)
            except ValueError:
                return 0.0
    return 1.0


@dataclass
class _Answer:
    """A response body and how to send it under each media type (see ``negotiate``)."""

    body: dict[str, Any]
    #: The status under either media type, unless 200 and the body has no ``data``: then
    #: ``status_and_headers`` decides.
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    #: The status under application/graphql-response+json when the body has no ``data``.
    refusal_status: int = 400
    #: The body already serialised (a whole-response cache entry, or one just stored).
    raw: bytes | None = None
    #: Seconds an HTTP cache may keep it: a whole-response cache entry's freshness left.
    max_age: int = 0

    @classmethod
    def failed(cls, error: GatewayError, request_id: str, status: int, **headers: str) -> _Answer:
        """An unreadable or refused HTTP request: ``status`` under either media type."""
        body = {"errors": [format_error(error, request_id)]}
        return cls(body, status, {key.replace("_", "-").title(): v for key, v in headers.items()})

    @classmethod
    def served(cls, raw: bytes, max_age: int = 0) -> _Answer:
        """A cached success: data and no errors, which is all the observation reads of it."""
        return cls({"data": {}}, raw=raw, max_age=max_age)

    @classmethod
    def replayed(cls, stored: idempotency.StoredResponse) -> _Answer:
        """The first response of a mutation sent again with its ``Idempotency-Key``."""
        headers = {"Idempotent-Replayed": "true"}
        return cls(orjson.loads(stored.body), stored.status, headers, raw=stored.body)

    @classmethod
    def rejected(
        cls, error: GatewayError | GraphQLError, request_id: str, refusal_status: int = 400
    ) -> _Answer:
        """A request error: ``refusal_status`` under application/graphql-response+json (see
        ``status_and_headers`` for application/json)."""
        body = {"errors": [format_error(error, request_id)]}
        return cls(body, refusal_status=refusal_status)

    def http_caching(self) -> dict[str, str]:
        """The caching headers of an answer to a GET (a POST's are never cached).

        The body depends on the token (its scope) and the media type asked for, so it is
        ``private`` and varies on both; it may be kept only while the whole-response cache
        would serve it, so a mutation's or an error's never is.
        """
        cache_control = f"private, max-age={self.max_age}" if self.max_age > 0 else "no-store"
        return {"Cache-Control": cache_control, "Vary": "Accept, Authorization"}

    def status_and_headers(self, media_type: str) -> tuple[int, dict[str, str]]:
        """The HTTP status and extra headers to answer with under ``media_type``.

        An answer with a status of its own, or with ``data`` (field errors included), keeps
        it. A request refused without ``data`` answers, under application/json, 400 when it is
        malformed (``malformed``: DataPacket's and Apollo Server's status) and 200 otherwise
        (a token refused, ``PERSISTED_QUERY_NOT_FOUND``, which APQ links expect with 200).
        """
        if self.status != 200 or "data" in self.body:
            return self.status, self.headers
        if media_type == JSON:
            return (400 if malformed(self.body) else 200), self.headers
        if self.refusal_status == 401:
            return 401, {**self.headers, "WWW-Authenticate": "Bearer"}
        return self.refusal_status, self.headers


def malformed(body: dict[str, Any]) -> bool:
    """Whether a body without ``data`` refuses a malformed request: every error is
    ``GRAPHQL_VALIDATION_FAILED`` (the document does not parse or validate, a variable is of the
    wrong type or missing, a ``[limits]`` limit is passed)."""
    errors = body.get("errors") or []
    return bool(errors) and all(
        error["extensions"]["code"] == GraphQLValidationFailed.code for error in errors
    )


async def _answer(
    request: Request, gateway: Gateway, service: GraphQLService, observation: RequestObservation
) -> _Answer:
    """Read, authenticate, check and run one GraphQL request."""
    settings = gateway.settings
    request_id = observation.request_id
    try:
        body = await _read_body(request, settings.limits.max_body_bytes, settings.body_timeout)
    except BadRequest as error:
        # The rest of the body stays unread: close the connection rather than let the server
        # drain it (it could be any size) to reach the next request.
        status = _BODY_REFUSAL_STATUS.get(error.details.get("limit"), 400)
        return _Answer.failed(error, request_id, status, connection="close")
    try:
        sent, sha256, variables, operation_name = _request_params(request, body)
    except BadRequest as error:
        return _Answer.failed(error, request_id, 400)
    try:
        token = gateway.tokens.authenticate(request.headers.get("authorization"))
    except NotAuthorized as error:
        return _Answer.rejected(error, request_id, refusal_status=401)
    observation.client = token.name
    try:
        query = await _document(gateway, sent, sha256, token, observation)
    except PersistedQueryNotFound as error:
        # 200 under either media type: the APQ links send the document again on this answer,
        # and some take a 400 for "persisted queries unsupported".
        return _Answer.rejected(error, request_id, refusal_status=200)
    except PersistedQueryNotInList as error:
        return _Answer.rejected(error, request_id, refusal_status=403)
    except BadRequest as error:
        return _Answer.failed(error, request_id, 400)
    except GraphQLError as error:
        return _Answer.rejected(error, request_id)
    responses, cache_key = gateway.responses, None
    if responses is not None:
        cache_key = responses.key(
            query, operation_name, variables, service.scope(token), path=service.path
        )
        if cache_key is not None and (cached := await responses.get(cache_key)) is not None:
            observation.served_from_cache(cached.operation)
            try:
                await gateway.rate_limiter.take(token.name, "query")
            except RateLimited as error:
                retry_after = str(error.details["retryAfter"])
                return _Answer.failed(error, request_id, 429, retry_after=retry_after)
            return _Answer.served(cached.body, _seconds_left(cached.fresh_until))
    try:
        document = parse_document(query, settings.limits.max_tokens)
        operations = select_operations(document, operation_name)
        observation.operation = "+".join(
            op.name.value if op.name else "anonymous" for op in operations
        )
        if any(op.operation == OperationType.SUBSCRIPTION for op in operations):
            message = "Subscriptions are served over WebSocket (graphql-transport-ws) at /graphql."
            return _Answer.failed(BadRequest(message), request_id, 400)
        mutates = any(op.operation == OperationType.MUTATION for op in operations)
        if request.method == "GET" and mutates:
            error = BadRequest("Mutations must be sent with POST.")
            return _Answer.failed(error, request_id, 405, allow="POST")
        if mutates and not token.can_mutate:
            detail = "This API token is read-only; mutations need a full-access token."
            return _Answer.rejected(NotAuthorized(detail), request_id, refusal_status=403)
        # Only a mutation's: a query runs again at no risk, so its header is ignored.
        header = request.headers.get(idempotency.HEADER) if mutates else None
        key = idempotency.idempotency_key(header)
        await gateway.rate_limiter.take(token.name, "mutation" if mutates else "query")
    except RateLimited as error:
        retry_after = str(error.details["retryAfter"])
        return _Answer.failed(error, request_id, 429, retry_after=retry_after)
    except BadRequest as error:
        return _Answer.failed(error, request_id, 400)
    except (GatewayError, GraphQLError) as error:
        return _Answer.rejected(error, request_id)
    refusal = limits_refusal(
        service.schema._schema,
        document,
        operations,
        variables,
        settings.limits,
        introspection=settings.introspection,
    )
    if refusal is not None:
        return _Answer.rejected(refusal, request_id)
    checked = _Checked(
        service, document, query, variables, operation_name, operations, token, mutates, cache_key
    )
    if key is None:
        return await _run(gateway, checked, observation)
    return await _run_once(gateway, checked, key, observation)


async def _document(
    gateway: Gateway,
    query: str | None,
    sha256: str | None,
    token: TokenEntry,
    observation: RequestObservation,
) -> str:
    """The document the request runs (``gateway/persisted.py``): the one sent, or the one its
    hash names; a document sent with its hash is registered once it parses."""
    persisted = gateway.persisted
    resolved = await persisted.resolve(query, sha256, token.free_documents)
    if resolved.found_in is not None:
        observation.persisted_query(resolved.found_in)
    if resolved.register is not None:
        parse_document(resolved.query, gateway.settings.limits.max_tokens)
        await persisted.register(resolved.register, resolved.query)
        observation.persisted_query("registration")
    return resolved.query


def _seconds_left(fresh_until: float) -> int:
    """Whole seconds until ``fresh_until`` (``time.monotonic()``'s clock), an HTTP ``max-age``."""
    left = fresh_until - time.monotonic()
    return int(left) if 0 < left < math.inf else 0


@dataclass(frozen=True)
class _Checked:
    """A request read, authenticated and within its limits: what running it needs."""

    service: GraphQLService
    document: DocumentNode
    query: str
    variables: dict[str, Any] | None
    operation_name: str | None
    operations: list[OperationDefinitionNode]
    token: TokenEntry
    mutates: bool
    #: Its key in the whole-response cache; ``None``: not kept there.
    cache_key: Any


async def _run_once(
    gateway: Gateway, checked: _Checked, key: str, observation: RequestObservation
) -> _Answer:
    """Run a mutation sent with an ``Idempotency-Key`` at most once (``gateway.idempotency``).

    The first run's response is kept once it ran (its body has ``data``); a run refused before
    running (a variable's type) releases the key; one that ends without a response
    (cancelled, an unexpected failure) is kept as an unknown outcome.
    """
    store, request_id = gateway.idempotency, observation.request_id
    scope = idempotency.scope_of(checked.token.name, key)
    request = idempotency.fingerprint(checked.query, checked.variables, checked.operation_name)
    try:
        wait = gateway.settings.request_deadline + idempotency.WAIT_MARGIN
        stored = await store.begin(scope, request, wait)
    except ValidationFailed as error:
        return _Answer.failed(error, request_id, 422)
    except IdempotencyConflict as error:
        retry_after = str(error.details["retryAfter"])
        return _Answer.failed(error, request_id, 409, retry_after=retry_after)
    if stored is not None:
        return _Answer.replayed(stored)
    answer: _Answer | None = None
    try:
        answer = await _run(gateway, checked, observation)
    finally:
        if answer is None:
            await store.finish(scope, request, idempotency.abandoned_response(request_id))
    if "data" not in answer.body:
        await store.release(scope, request)
        return answer
    raw = orjson.dumps(answer.body)
    await store.finish(scope, request, idempotency.StoredResponse(answer.status, raw))
    return _Answer(answer.body, answer.status, raw=raw)


async def _run(gateway: Gateway, checked: _Checked, observation: RequestObservation) -> _Answer:
    """Run a checked request under the request deadline; keep a query's response if it may."""
    settings, responses, cache_key = gateway.settings, gateway.responses, checked.cache_key
    # An identical query already running answers this one too (``ResponseCache.join``).
    leads = False
    if cache_key is not None and not checked.mutates:
        flight = responses.join(cache_key)
        leads = flight is None
        if flight is not None and (shared := await _shared(flight, settings.request_deadline)):
            observation.served_from_cache(observation.operation)
            return _Answer.served(shared)
    raw = None
    try:
        context = RequestContext(
            providers=gateway.providers.visible_to(checked.service.scope(checked.token)),
            health=gateway.health,
            request_id=observation.request_id,
            loaders=Loaders(observation.loader_batch),
            compiled_execution=settings.compiled_execution,
            status_feed=gateway.status_feed,
        )
        # Strawberry has no deadline for a whole request: every upstream call of this one
        # (retries included) reads it from this context variable and gives up once it passed.
        deadline = asyncio.get_running_loop().time() + settings.request_deadline
        deadline_token = request_deadline.set(deadline)
        # What the query reads upstream decides whether its response may be kept, and how long.
        record = ReadRecord() if cache_key is not None and not checked.mutates else None
        record_token = read_record.set(record)
        try:
            body = await _execute(
                checked.service.schema,
                checked.document,
                checked.query,
                checked.variables,
                checked.operations,
                context,
            )
        finally:
            read_record.reset(record_token)
            request_deadline.reset(deadline_token)
        if record is None or "errors" in body:
            return _Answer(body)
        raw = orjson.dumps(body)
        kept = await responses.put(cache_key, raw, observation.operation, record)
        return _Answer(body, raw=raw, max_age=_seconds_left(record.fresh_until) if kept else 0)
    finally:
        if leads:
            responses.landed(cache_key, raw)


async def _shared(flight: asyncio.Future[bytes | None], timeout: float) -> bytes | None:
    """The body an identical running query gives, or ``None`` if it has none to share or has
    not finished within ``timeout`` seconds."""
    try:
        return await asyncio.wait_for(asyncio.shield(flight), timeout)
    except TimeoutError:
        return None


async def _execute(
    schema: ServedSchema,
    document: DocumentNode,
    query: str,
    variables: dict[str, Any] | None,
    operations: list[OperationDefinitionNode],
    context: RequestContext,
) -> dict[str, Any]:
    """Run each operation in document order and merge their ``data`` and ``errors``.

    Strawberry (as graphql-core) runs one operation per document and refuses several without
    an ``operationName``; DataPacket runs them all, in order. Providers' partial failures are
    added after each operation's own errors, with their path.
    """
    request_id = context.request_id
    data: dict[str, Any] | None = None
    errors: list[dict[str, Any]] = []
    for operation in operations:
        result = await schema.execute_document(
            document,
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
    return body


class FastJSONResponse(Response):
    """A JSON response serialised with orjson (several times faster than the standard library)."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return content if isinstance(content, bytes) else orjson.dumps(content)


@lru_cache(maxsize=512)
def parse_document(query: str, max_tokens: int) -> DocumentNode:
    """Parse a document once per distinct text (clients repeat the same few documents).

    This is the request's only parse: strawberry executes the tree returned. The tree is never
    mutated afterwards, so sharing it between requests is safe (and keeps strawberry's
    validation cache hitting); syntax errors are raised every time (exceptions are not cached).
    ``max_tokens`` stops the parser on a document too long, as strawberry's MaxTokensLimiter.
    """
    return parse(query, max_tokens=max_tokens)


async def _read_body(request: Request, max_body_bytes: int, timeout: float) -> bytes | None:
    """The JSON body of a POST (None for GET), refused once it passes ``max_body_bytes``.

    Strawberry's view reads the whole body before looking at it; this reads it as a stream.

    The body is read as it arrives and counted whether or not a Content-Length came with it
    (chunked bodies have none) or tells the truth, so at most ``max_body_bytes`` plus one
    chunk is ever held; a declared length over the limit is refused before reading at all.
    A body still incomplete after ``timeout`` seconds is refused too (a client trickling it
    would otherwise hold its connection and this task for as long as it likes).
    """
    if request.method == "GET":
        return None
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/json":
        raise BadRequest("POST requests must have Content-Type: application/json.")
    declared = request.headers.get("content-length")
    if declared is not None:
        if not (declared.isascii() and declared.isdigit()):
            raise BadRequest("The Content-Length header is not a non-negative integer.")
        if int(declared) > max_body_bytes:
            raise _too_large(max_body_bytes)
    body = bytearray()
    try:
        async with asyncio.timeout(timeout), aclosing(request.stream()) as chunks:
            async for chunk in chunks:
                body += chunk
                if len(body) > max_body_bytes:
                    raise _too_large(max_body_bytes)
    except TimeoutError:
        message = f"The request body did not arrive within the body_timeout ({timeout:g} s)."
        raise BadRequest(message, limit="body_timeout") from None
    except ClientDisconnect:
        raise BadRequest("The client closed the connection before the body ended.") from None
    return bytes(body)


def _request_params(
    request: Request, body: bytes | None
) -> tuple[str | None, str | None, dict[str, Any] | None, str | None]:
    """``query``, the persisted query's hash (``extensions.persistedQuery.sha256Hash``),
    ``variables`` and ``operationName`` from the body, or a GET's query string.

    Each malformed parameter is a ``BAD_REQUEST`` naming it (strawberry's view answers these
    in plain text). ``query`` is ``None`` only when a hash names the document.
    """
    if body is None:
        params: dict[str, Any] = dict(request.query_params)
        for name in ("variables", "extensions"):
            if params.get(name):
                params[name] = _decode_json(params[name], f"The '{name}' parameter")
            elif name in params:
                params[name] = None
    else:
        params = _decode_json(body, "The request body")
        if not isinstance(params, dict):
            raise BadRequest("The request body must be a JSON object.")
    query = params.get("query")
    variables = params.get("variables")
    operation_name = params.get("operationName")
    sha256 = requested_hash(params.get("extensions"))
    named_by_hash = query is None and sha256 is not None
    if not named_by_hash and (not isinstance(query, str) or not query.strip()):
        raise BadRequest("The request has no 'query'.")
    if variables is not None and not isinstance(variables, dict):
        raise BadRequest("'variables' must be a JSON object.")
    if operation_name is not None and not isinstance(operation_name, str):
        raise BadRequest("'operationName' must be a string.")
    return query, sha256, variables, operation_name


def _decode_json(text: bytes | str, what: str) -> Any:
    """JSON from a client, with ``BAD_REQUEST`` naming ``what`` when it is not readable.

    orjson refuses nesting deeper than 1024 levels with an error (the standard library's
    decoder recursed into a RecursionError), and invalid UTF-8 or lone surrogates as well.
    """
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as error:
        problem = "nested too deeply" if "depth" in str(error) else "not valid JSON"
        raise BadRequest(f"{what} is {problem}.") from None


#: The HTTP status of a body refused for a limit (``extensions.limit``); others are 400.
_BODY_REFUSAL_STATUS = {"max_body_bytes": 413, "body_timeout": 408}


def _too_large(max_body_bytes: int) -> BadRequest:
    return BadRequest(
        f"The request body exceeds the max_body_bytes limit ({max_body_bytes} bytes).",
        limit="max_body_bytes",
    )


def select_operations(
    document: DocumentNode, operation_name: str | None
) -> list[OperationDefinitionNode]:
    """The operations to run: the one named, else every one (DataPacket runs them all).

    Known before anything runs, so that a mutation among them is refused over GET or with a
    read-only token, and the limits count exactly these.
    """
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is not None:
        operations = [op for op in operations if op.name and op.name.value == operation_name]
        if not operations:
            raise GraphQLValidationFailed(f"Unknown operation named {quoted(operation_name)}.")
    if not operations:
        raise GraphQLValidationFailed("Must provide an operation.")  # graphql-js's wording
    return operations


def _locations(error: GraphQLError) -> list[dict[str, int]] | None:
    if not error.locations:
        return None
    return [{"line": loc.line, "column": loc.column} for loc in error.locations]


def unexpected_error(request_id: str) -> tuple[str, dict[str, Any]]:
    """The message and extensions an unexpected error is answered with: its request id only
    (what went wrong is logged, never sent)."""
    message = f"Internal server error (request id {request_id})."
    return message, {"code": InternalServerError.code, "requestId": request_id}


def format_error(error: GatewayError | GraphQLError, request_id: str) -> dict[str, Any]:
    """One entry of ``errors``: message, locations, path and ``extensions.code``.

    Strawberry would serialise graphql-core's errors as they are; FleetQL answers every error
    with a documented ``extensions.code`` and graphql-core's messages in graphql-js's wording
    (``errors.wording``), and an unexpected one with its request id only (the traceback is
    logged here, never returned).
    """
    if isinstance(error, GatewayError):
        return {"message": error.message, "extensions": error.extensions}
    original = error.original_error
    if isinstance(original, GatewayError):
        message, extensions = original.message, original.extensions
    elif error.path is None:
        # Parse, validation and variable-coercion errors: graphql-core's message is safe, and
        # clients match on graphql-js's wording of it.
        message, extensions = graphql_js(error.message), {"code": GraphQLValidationFailed.code}
    else:
        log.error(
            "unexpected error in %s (request %s)",
            ".".join(map(str, error.path)),
            request_id,
            exc_info=original,
        )
        message, extensions = unexpected_error(request_id)
    formatted: dict[str, Any] = {"message": message}
    if locations := _locations(error):
        formatted["locations"] = locations
    if error.path is not None:
        formatted["path"] = list(error.path)
    formatted["extensions"] = extensions
    return formatted
