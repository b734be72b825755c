"""What every HTTP response gets: a request id, and a JSON body when it is an error.

``RequestIdMiddleware`` accepts a well-formed ``X-Request-ID`` or generates one, keeps it
in ``request.state.request_id`` and in the log context, echoes it on the response, makes
the gateway's observer see upstream calls made outside GraphQL (readiness pings), and logs
a line for each request that GraphQL did not log itself (method, path, status). The two
exception handlers turn Starlette's plain-text 404/405 and any unexpected exception into
``{"errors": [...]}`` bodies with a code from the schema's ``ErrorCode`` list, as
``JsonCorsMiddleware`` does for refused CORS preflights.
"""

from __future__ import annotations

import logging
import re
import time
import uuid

from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from errors import BadRequest, InternalServerError, NotAuthorized, NotFound, RateLimited
from gateway.logs import REQUEST_ID
from gateway.observability import REQUEST_LINE, RequestLine, log_http_request
from providers.http import UpstreamObserver, upstream_observer

__all__ = ["JsonCorsMiddleware", "RequestIdMiddleware", "http_error", "unexpected_error"]

log = logging.getLogger("fleetql.request")
REQUEST_ID_PATTERN = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_CODES = {
    401: NotAuthorized.code,
    403: NotAuthorized.code,
    404: NotFound.code,
    429: RateLimited.code,
}


class RequestIdMiddleware:
    """Pure ASGI: a request id per HTTP request, echoed as ``X-Request-ID``, and its log line."""

    def __init__(self, app: ASGIApp, observer: UpstreamObserver) -> None:
        self.app = app
        self.observer = observer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = Headers(scope=scope).get("x-request-id", "")
        request_id = given if REQUEST_ID_PATTERN.match(given) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status: int | None = None
        line = RequestLine()

        def log_once() -> None:
            if status is not None and not line.written:
                line.written = True
                seconds = time.perf_counter() - started
                log_http_request(scope["method"], scope["path"], status, seconds)

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message)["X-Request-ID"] = request_id
            elif not message.get("more_body", False):
                log_once()  # before the client has the whole answer, so the line comes first
            await send(message)

        id_reset = REQUEST_ID.set(request_id)
        line_reset = REQUEST_LINE.set(line)
        observer_reset = upstream_observer.set(self.observer)
        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            # Answered outside this middleware, by ``unexpected_error``: a 500.
            status = status or 500
            raise
        finally:
            log_once()
            upstream_observer.reset(observer_reset)
            REQUEST_LINE.reset(line_reset)
            REQUEST_ID.reset(id_reset)


async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
    """Starlette's HTTP errors (unknown path 404, wrong method 405, …) as JSON errors."""
    code = _CODES.get(exc.status_code, BadRequest.code)
    if exc.status_code >= 500:
        code = InternalServerError.code
    body = {"errors": [{"message": str(exc.detail), "extensions": {"code": code}}]}
    return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)


async def unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    """Any exception that escaped a route: logged with its traceback, answered without it."""
    request_id = getattr(request.state, "request_id", None) or uuid.uuid4().hex
    log.error("unexpected error (request %s)", request_id, exc_info=exc)
    error = {
        "message": f"Internal server error (request id {request_id}).",
        "extensions": {"code": InternalServerError.code, "requestId": request_id},
    }
    return JSONResponse({"errors": [error]}, status_code=500, headers={"X-Request-ID": request_id})


class JsonCorsMiddleware(CORSMiddleware):
    """Starlette's CORS middleware, answering a refused preflight with a JSON error."""

    def preflight_response(self, request_headers: Headers) -> Response:
        """The preflight answer; a refusal's text becomes a ``BAD_REQUEST`` error."""
        response = super().preflight_response(request_headers)
        if response.status_code < 400:
            return response
        headers = {
            name: value
            for name, value in response.headers.items()
            if name not in ("content-type", "content-length")
        }
        message = bytes(response.body).decode()
        body = {"errors": [{"message": message, "extensions": {"code": BadRequest.code}}]}
        return JSONResponse(body, status_code=response.status_code, headers=headers)
