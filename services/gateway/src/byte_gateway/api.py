"""HTTP routes: the gateway's own (`/v1/users`, `/webhooks/clerk`, the merged docs) and the
catch-all that forwards `/v1/...` to the owning service."""

from __future__ import annotations

import binascii
import json
from collections.abc import Mapping
from typing import Annotated, Any

from byte_platform.http import Problem
from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send
from svix.webhooks import Webhook, WebhookVerificationError

from byte_gateway.access import Gatekeeper
from byte_gateway.domain import Session, route_for
from byte_gateway.handlers import ApplyClerkDelivery, WebhookHandlers
from byte_gateway.openapi import MergedOpenApi
from byte_gateway.proxy import Proxy
from byte_gateway.queries import UserQueries
from byte_gateway.schemas import UserPage, WebhookResult

router = APIRouter()
WEBHOOK_MAX_BYTES = 1_048_576
FORMSTACK_WEBHOOK_SERVICE = "ingest"
# Every method: the service that owns a path knows which it serves, and answers 405 with Allow.
PROXY_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"]


async def caller(request: Request) -> Session:
    gatekeeper: Gatekeeper = request.app.state.gatekeeper
    return await gatekeeper.admit(request)


Caller = Annotated[Session, Depends(caller)]


@router.get(
    "/v1/users",
    response_model=UserPage,
    tags=["users"],
    responses={400: {"description": "`cursor` is not one this API issued"}},
)
async def list_users(
    who: Caller,
    request: Request,
    role: Annotated[
        str | None, Query(min_length=1, max_length=64, description="only members holding this role")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: Annotated[str | None, Query(max_length=1024)] = None,
) -> UserPage:
    """The members of the caller's org (for assignee pickers), by last name, first name."""
    queries: UserQueries = request.app.state.user_queries
    items, next_cursor = await queries.page(who, role=role, limit=limit, cursor=cursor)
    return UserPage(items=items, next_cursor=next_cursor)


@router.api_route("/v1/users", methods=[m for m in PROXY_METHODS if m != "GET"], include_in_schema=False)
async def users_other_methods() -> None:
    # without it the catch-all below would take these and answer that no service owns the path
    raise HTTPException(405, headers={"Allow": "GET"})


SVIX_HEADERS = ("svix-id", "svix-timestamp", "svix-signature")
# The handler reads the raw body (the signature covers its exact bytes), so FastAPI cannot derive
# what it expects: said here. `type` and `data` are what every Clerk event carries.
WEBHOOK_OPENAPI = {
    "security": [],
    "parameters": [
        {
            "name": name,
            "in": "header",
            "required": True,
            "schema": {"type": "string"},
            "description": "set by Svix; the signature covers the id, the timestamp and the exact body",
        }
        for name in SVIX_HEADERS
    ],
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["type", "data"],
                    "properties": {
                        "type": {
                            "type": "string",
                            "description": "`user.created`, `organizationMembership.updated`, ...",
                        },
                        "data": {"type": "object", "description": "the Clerk object the event is about"},
                    },
                }
            }
        },
    },
}


@router.post(
    "/webhooks/clerk",
    response_model=WebhookResult,
    tags=["webhooks"],
    openapi_extra=WEBHOOK_OPENAPI,
    responses={
        400: {
            "description": "missing or wrong Svix signature, or a payload that is not a Clerk event "
            "the gateway can store (not JSON, too deep, NUL or lone surrogates)"
        },
        413: {"description": f"over {WEBHOOK_MAX_BYTES} bytes"},
        503: {"description": "webhooks are not configured on this gateway"},
    },
)
async def clerk_webhook(request: Request) -> WebhookResult:
    """Clerk (Svix) webhooks: users, memberships, organizations. Signed, deduplicated by svix-id."""
    webhook: Webhook | None = request.app.state.clerk_webhook
    if webhook is None:
        raise Problem(503, "Service Unavailable", "Clerk webhooks are not configured (CLERK_WEBHOOK_SECRET)")
    body = await request.body()
    if len(body) > WEBHOOK_MAX_BYTES:
        raise Problem(413, "Payload Too Large", f"webhook bodies are limited to {WEBHOOK_MAX_BYTES} bytes")
    headers = {name: request.headers.get(name, "") for name in SVIX_HEADERS}
    missing = [name for name, value in headers.items() if not value]
    if missing:
        raise Problem(400, "Invalid webhook", f"missing {', '.join(missing)}")
    try:
        webhook.verify(body, headers)  # returns None in svix 2.9: the body is parsed below
    except (WebhookVerificationError, binascii.Error, ValueError, TypeError):
        raise Problem(
            400, "Invalid webhook", "signature does not verify, or the timestamp is too old or too new"
        ) from None
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError):  # RecursionError: nested deeper than the parser goes
        raise Problem(400, "Invalid webhook", "body is not JSON, or nests too deep") from None
    handlers: WebhookHandlers = request.app.state.webhook_handlers
    return WebhookResult(status=await handlers.apply(ApplyClerkDelivery(svix_id=headers["svix-id"], body=payload)))


# Formstack posts here without a session: the ingest service authenticates each delivery by its
# signature (or handshake key), so the gateway forwards it as it came, with no identity. The path
# carries the org and the form's secret token; docs/errors.md and the ingest service document it.
# Its body limit is ingest's to apply (a signed delivery over it is kept as `rejected`), so the
# gateway lets larger bodies through, up to a hard cap of its own.
@router.post("/webhooks/formstack/{rest:path}", include_in_schema=False)
async def formstack_webhook(request: Request) -> Response:
    proxy: Proxy = request.app.state.proxy
    cap = request.app.state.settings.formstack_webhook_max_bytes
    return await proxy.forward(request, FORMSTACK_WEBHOOK_SERVICE, None, max_body_bytes=cap)


@router.get("/openapi.json", include_in_schema=False)
async def openapi(request: Request) -> JSONResponse:
    merged: MergedOpenApi = request.app.state.openapi
    return JSONResponse(await merged.document())


@router.get("/docs", include_in_schema=False)
async def docs() -> HTMLResponse:
    return get_swagger_ui_html(openapi_url="/openapi.json", title="BYTE API")


@router.api_route("/v1/{rest:path}", methods=PROXY_METHODS, include_in_schema=False)
async def no_service(who: Caller, request: Request) -> Response:
    """A /v1 path no service owns: 404, after the session check as on any /v1 path. The paths a
    service owns never get here (ServiceRoutes forwards them before routing); this route is
    also the name metrics give to forwarded requests."""
    raise Problem(404, "Not Found", f"no service answers {request.url.path}")


FORWARD_ROUTE = next(route for route in router.routes if getattr(route, "path", None) == "/v1/{rest:path}")


class ServiceRoutes:
    """The forwarding of a service's path (`/v1/contacts/...`) as a plain ASGI app in front of
    FastAPI's routing: the session, rate limit, role, identity and proxy without the route
    table walk, the dependency solving and FastAPI's request
    handling, which were most of what the gateway itself spent on a request (docs/benchmarks.md).

    It runs inside the app's middlewares (security headers, CORS, metrics, correlation id), and
    an error raised before the answer starts is rendered by the app's own exception handlers, as
    FastAPI's ExceptionMiddleware would: the answers are the same as through the route. An error
    once the answer has started (a cut stream) propagates so the server aborts the response.
    """

    def __init__(self, app: ASGIApp, *, gatekeeper: Gatekeeper, proxy: Proxy, handlers: Mapping[Any, Any]) -> None:
        self.app = app
        self.gatekeeper = gatekeeper
        self.proxy = proxy
        self.handlers = handlers  # the app's exception handlers, by exception class

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        service = route_for(scope["path"]) if scope["type"] == "http" else None
        if service is None:
            await self.app(scope, receive, send)
            return
        scope["route"] = FORWARD_ROUTE  # what metrics name the handler, as when the route ran
        request = Request(scope, receive)
        try:
            who = await self.gatekeeper.admit(request)
            response = await self.proxy.forward(request, service, self.gatekeeper.identity_token(who))
        except Exception as exc:
            handler = next((self.handlers[cls] for cls in type(exc).__mro__ if cls in self.handlers), None)
            if handler is None:
                raise
            response = await handler(request, exc)
        await response(scope, receive, send)
