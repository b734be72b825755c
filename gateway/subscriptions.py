"""GraphQL subscriptions over WebSocket at ``/graphql`` (graphql-transport-ws).

Strawberry implements the protocol; this mounts its ASGI view for the WebSocket route only
(HTTP stays ``gateway/graphql_http.py``) and adds what FleetQL requires of every document:
the token comes from the ``connection_init`` payload (``{"Authorization": "Bearer …"}``; a
missing or unknown one closes the socket with 4403), each ``subscribe`` passes the token's
request budget and the inbound limits (depth, aliases, cost), carries subscription operations
only (queries and mutations go over HTTP), and a token holds at most
``[subscriptions] max_per_token`` subscriptions open at once, across its connections.
"""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from graphql import GraphQLError, OperationType
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)

from errors import (
    BadRequest,
    GatewayError,
    GraphQLValidationFailed,
    NotAuthorized,
)
from errors.wording import graphql_js
from gateway.auth import TokenEntry
from gateway.graphql_http import (
    format_error,
    parse_document,
    select_operations,
    unexpected_error,
)
from gateway.limits import limits_refusal
from resolvers.context import RequestContext

if TYPE_CHECKING:
    from gateway.app import Gateway

__all__ = ["SubscriberContext", "SubscriptionEndpoint"]

log = logging.getLogger("fleetql.request")


@dataclass
class SubscriberContext(RequestContext):
    """A WebSocket connection's context: the token its ``connection_init`` authenticated."""

    connection_params: dict[str, Any] | None = None
    token: TokenEntry | None = None


class _TransportHandler(BaseGraphQLTransportWSHandler):
    """Strawberry's graphql-transport-ws handler, with FleetQL's checks on ``subscribe``."""

    view: SubscriptionEndpoint
    context: SubscriberContext

    async def handle_subscribe(self, message: Any) -> None:
        payload = message.get("payload")
        if (
            not self.connection_acknowledged
            or message["id"] in self.operations
            or not isinstance(payload, dict)
            or not isinstance(payload.get("query"), str)
        ):
            await super().handle_subscribe(message)  # strawberry closes the socket as it should
            return
        token = self.context.token
        try:
            await self.view.check(payload, token)
        except (GatewayError, GraphQLError) as error:
            formatted = format_error(error, self.context.request_id)
            await self.send_message({"id": message["id"], "type": "error", "payload": [formatted]})
            return
        open_subscriptions = self.view.open_subscriptions
        open_subscriptions[token.name] += 1
        await super().handle_subscribe(message)
        operation = self.operations.get(message["id"])
        if operation is None or operation.task is None:
            open_subscriptions[token.name] -= 1
        else:
            operation.task.add_done_callback(lambda _: open_subscriptions.subtract([token.name]))

    async def send_message(self, message: Any) -> None:
        """Send ``message``, each of its errors with a documented ``extensions.code``.

        Strawberry sends graphql-core's errors as they are: validation and variable errors
        get ``GRAPHQL_VALIDATION_FAILED`` and graphql-js's wording; an unexpected error in a
        field (one without a code) is logged and sent with the connection's request id only,
        as over HTTP.
        """
        payload = message.get("payload")
        errors = payload if message.get("type") == "error" else None
        if message.get("type") == "next" and isinstance(payload, dict):
            errors = payload.get("errors")
        for error in errors if isinstance(errors, list) else []:
            if isinstance(error, dict) and "code" not in (error.get("extensions") or {}):
                self._documented(error)
        await super().send_message(message)

    def _documented(self, error: dict[str, Any]) -> None:
        if "path" not in error:
            if isinstance(error.get("message"), str):
                error["message"] = graphql_js(error["message"])
            error["extensions"] = {"code": GraphQLValidationFailed.code}
            return
        request_id = self.context.request_id
        log.error("unexpected error in a subscription (request %s): %s", request_id, error)
        error["message"], error["extensions"] = unexpected_error(request_id)


class SubscriptionEndpoint(GraphQL):
    """The WebSocket side of ``/graphql``: strawberry's ASGI view, graphql-transport-ws only."""

    graphql_transport_ws_handler_class = _TransportHandler

    def __init__(self, gateway: Gateway) -> None:
        super().__init__(
            gateway.schema,
            graphql_ide=None,
            allow_queries_via_get=False,
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
            allowed_origins=gateway.settings.cors_origins,
        )
        self.gateway = gateway
        #: Subscriptions open per token name, across connections.
        self.open_subscriptions: Counter[str] = Counter()

    async def get_context(self, request: Any, response: Any) -> SubscriberContext:
        """A context seeing no provider until ``connection_init`` authenticates a token."""
        gateway = self.gateway
        return SubscriberContext(
            providers=gateway.providers.visible_to(frozenset()),
            health=gateway.health,
            request_id=uuid.uuid4().hex,
            compiled_execution=gateway.settings.compiled_execution,
            status_feed=gateway.status_feed,
        )

    async def on_ws_connect(self, context: SubscriberContext) -> None:
        """Authenticate the ``connection_init`` payload's ``Authorization``; refuse otherwise."""
        params = context.connection_params or {}
        authorization = params.get("Authorization", params.get("authorization"))
        try:
            token = self.gateway.tokens.authenticate(
                authorization if isinstance(authorization, str) else None
            )
        except NotAuthorized:
            raise ConnectionRejectionError from None
        context.token = token
        context.providers = self.gateway.providers.visible_to(token.providers)

    async def check(self, payload: dict[str, Any], token: TokenEntry) -> None:
        """Raise the refusal of one ``subscribe`` payload, as HTTP would refuse the document."""
        settings = self.gateway.settings
        variables, operation_name = payload.get("variables"), payload.get("operationName")
        if variables is not None and not isinstance(variables, dict):
            raise BadRequest("'variables' must be a JSON object.")
        if operation_name is not None and not isinstance(operation_name, str):
            raise BadRequest("'operationName' must be a string.")
        document = parse_document(payload["query"], settings.limits.max_tokens)
        operations = select_operations(document, operation_name)
        if len(operations) > 1:
            raise BadRequest("A subscription document must name the one operation it runs.")
        if operations[0].operation != OperationType.SUBSCRIPTION:
            raise BadRequest("Only subscriptions are served over WebSocket; use HTTP for others.")
        refusal = limits_refusal(
            self.gateway.schema._schema,
            document,
            operations,
            variables,
            settings.limits,
            introspection=settings.introspection,
        )
        if refusal is not None:
            raise refusal
        cap = settings.subscriptions_per_token
        if self.open_subscriptions[token.name] >= cap:
            raise BadRequest(
                f"This token already has {cap} open subscriptions (subscriptions.max_per_token).",
                limit="max_per_token",
            )
        await self.gateway.rate_limiter.take(token.name, "query")
