"""The composition root: settings -> Clerk verifier, rate limits, proxy, database, broker,
outbox relay -> app."""

from __future__ import annotations

import logging

import httpx
from byte_contracts import topics
from byte_platform.http import (
    CorrelationMiddleware,
    install_health,
    install_problem_handlers,
    problem_response,
    storable_parameters,
)
from byte_platform.runtime import Runtime
from byte_platform.unit_of_work import UnitOfWork
from fastapi import Depends, FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from svix.webhooks import Webhook

from byte_gateway import api, catalogue
from byte_gateway.access import Gatekeeper
from byte_gateway.clerk import AuthError, ClerkVerifier, JwksCache, KeysUnavailable
from byte_gateway.handlers import WebhookHandlers
from byte_gateway.models import inbox, outbox
from byte_gateway.openapi import MergedOpenApi
from byte_gateway.proxy import Proxy, UpstreamUnavailable
from byte_gateway.queries import UserQueries
from byte_gateway.ratelimit import RateLimited, RateLimits
from byte_gateway.settings import GatewaySettings

log = logging.getLogger(__name__)

SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"strict-transport-security", b"max-age=63072000; includeSubDomains"),
    (b"cross-origin-opener-policy", b"same-origin"),
]
# The API serves JSON and CSV only; /docs loads Swagger UI from its CDN and gets no CSP.
API_CSP = (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'")


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = SECURITY_HEADERS if scope["path"] == "/docs" else [*SECURITY_HEADERS, API_CSP]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = message.setdefault("headers", [])
                present = {k.lower() for k, _ in headers}
                headers.extend(h for h in extra if h[0] not in present)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def install_gateway_errors(app: FastAPI) -> None:
    @app.exception_handler(AuthError)
    async def _auth(request: Request, exc: AuthError) -> JSONResponse:
        title = "Unauthorized" if exc.status == 401 else "Forbidden"
        response = problem_response(exc.status, title, exc.detail, request, code=exc.code)
        if exc.status == 401:
            response.headers["WWW-Authenticate"] = 'Bearer realm="byte"'
        return response

    @app.exception_handler(RateLimited)
    async def _limited(request: Request, exc: RateLimited) -> JSONResponse:
        response = problem_response(
            429, "Too Many Requests", str(exc), request, scope=exc.scope, retry_after=exc.retry_after
        )
        response.headers["Retry-After"] = str(exc.retry_after)
        return response

    @app.exception_handler(UpstreamUnavailable)
    async def _unavailable(request: Request, exc: UpstreamUnavailable) -> JSONResponse:
        response = problem_response(exc.status, exc.title, exc.detail, request)
        response.headers["Retry-After"] = str(exc.retry_after)
        return response

    @app.exception_handler(KeysUnavailable)
    async def _keys(request: Request, exc: KeysUnavailable) -> JSONResponse:
        response = problem_response(503, "Service Unavailable", "session keys are unavailable; retry shortly", request)
        response.headers["Retry-After"] = "5"
        return response


def create_app(settings: GatewaySettings | None = None) -> FastAPI:
    settings = settings or GatewaySettings()
    runtime = Runtime(settings)
    db = runtime.database()
    broker = runtime.broker([topics.IDENTITY])
    webhook_handlers = WebhookHandlers(UnitOfWork(db, runtime.outbox_relay(db, broker, outbox), inbox))
    runtime.inbox_pruner(db, inbox)
    proxy = Proxy(
        settings.service_urls_json,
        connect_timeout=settings.upstream_connect_timeout_seconds,
        read_timeout=settings.upstream_read_timeout_seconds,
        pool_timeout=settings.upstream_pool_timeout_seconds,
        max_connections=settings.upstream_max_connections,
        retry_after=settings.upstream_retry_after_seconds,
        keepalive_seconds=settings.upstream_keepalive_seconds,
    )
    side_client = httpx.AsyncClient(timeout=5)  # JWKS and OpenAPI fetches, apart from the proxy pool
    pem = settings.clerk_pem()
    jwks = None
    if pem is None and settings.clerk_jwks_url:
        jwks = JwksCache(
            settings.clerk_jwks_url,
            side_client,
            ttl_seconds=settings.clerk_jwks_cache_seconds,
            min_refresh_seconds=settings.clerk_jwks_min_refresh_seconds,
            timeout_seconds=settings.clerk_jwks_timeout_seconds,
        )
    verifier = ClerkVerifier(
        pem=pem,
        jwks=jwks,
        issuer=settings.clerk_issuer,
        leeway_seconds=settings.clerk_clock_skew_seconds,
        authorized_parties=settings.authorized_parties(),
    )
    limits = (
        RateLimits(
            per_user=settings.rate_limit_per_user,
            per_org=settings.rate_limit_per_org,
            storage_uri=settings.rate_limit_storage_uri,
            strategy=settings.rate_limit_strategy,
        )
        if settings.rate_limit_enabled
        else None
    )

    runtime.add("upstream pool", proxy.start, proxy.close)
    runtime.add("side client", stop=side_client.aclose)

    # docs and schema are served by api.py: one document merged from every service
    app = FastAPI(
        title="BYTE API",
        version="0.1.0",
        lifespan=runtime.lifespan(),
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
        # as every service's app (base_app): unstorable query text is a 422 before a route reads it
        dependencies=[Depends(storable_parameters)],
    )
    gatekeeper = Gatekeeper(
        verifier,
        limits,
        settings.identity_private_key_pem(),
        identity_ttl_seconds=settings.identity_ttl_seconds,
        identity_issuer=settings.identity_issuer,
        identity_audience=settings.identity_audience,
        allowed_origins=settings.authorized_parties(),
    )
    # innermost: a service's path is forwarded inside the correlation, metrics, CORS and
    # security-header middlewares, ahead of FastAPI's routing
    app.add_middleware(api.ServiceRoutes, gatekeeper=gatekeeper, proxy=proxy, handlers=app.exception_handlers)
    app.add_middleware(CorrelationMiddleware)
    install_problem_handlers(app)
    install_gateway_errors(app)
    app.state.settings = settings
    app.state.gatekeeper = gatekeeper
    app.state.proxy = proxy
    app.state.user_queries = UserQueries(db)
    app.state.webhook_handlers = webhook_handlers
    secret = settings.webhook_secret()
    app.state.clerk_webhook = Webhook(secret) if secret else None
    app.state.openapi = MergedOpenApi(
        app.openapi, side_client, settings.service_urls_json, ttl_seconds=settings.openapi_cache_seconds
    )
    app.include_router(api.router)
    app.include_router(catalogue.router)
    if limits is not None and not settings.rate_limit_storage_uri.removeprefix("async+").startswith("memory"):
        runtime.checks["rate_limit_storage"] = limits.ping
    install_health(app, runtime)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_credentials=True,
            allow_methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "X-Request-ID"],
            expose_headers=["X-Request-ID", "Retry-After", "Location", "Content-Disposition"],
            max_age=600,
        )
    app.add_middleware(SecurityHeadersMiddleware)
    return app
