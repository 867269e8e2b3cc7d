"""HTTP conventions every service shares: problem+json errors, correlation ids, the caller's
identity, health and metrics."""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from prometheus_fastapi_instrumentator import Instrumentator
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from byte_contracts.errors import Conflict, DomainError, Forbidden, Invalid, Malformed, NotFound
from prometheus_client import Gauge

from byte_platform.context import Context
from byte_platform.identity import HEADER, IdentityVerifier, InvalidIdentity
from byte_platform.logging import correlation_id
from byte_platform.runtime import Runtime

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
CORRELATION_HEADER = "X-Request-ID"


class Problem(Exception):
    """An error only HTTP has (no identity, too many requests), rendered as RFC 9457
    problem+json. Refusals of a command are `byte_contracts.errors.DomainError`s instead."""

    def __init__(self, status: int, title: str, detail: str | None = None, **extra: Any) -> None:
        super().__init__(detail or title)
        self.status = status
        self.title = title
        self.detail = detail
        self.extra = extra


# The one place a domain refusal becomes a status code.
DOMAIN_STATUS: dict[type[DomainError], int] = {
    NotFound: 404,
    Conflict: 409,
    Forbidden: 403,
    Invalid: 422,
    Malformed: 400,
}


def domain_status(exc: DomainError) -> int:
    for cls in type(exc).__mro__:
        if cls in DOMAIN_STATUS:
            return DOMAIN_STATUS[cls]
    return 409


def problem_response(status: int, title: str, detail: str | None, request: Request, **extra: Any) -> JSONResponse:
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status, "instance": request.url.path}
    if detail:
        body["detail"] = detail
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON)


def _field_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    errors = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ())]
        errors.append({"field": ".".join(loc[1:]) or loc[0] if loc else "", "in": loc[0] if loc else "", "message": err.get("msg", "")})
    return errors


_HTTP_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})


def allowed_methods(request: Request) -> str | None:
    """The methods the app documents for the request's path. Starlette's own 405 names only the
    first route that matched the path (`GET` of `GET, PATCH, DELETE /{id}`). The most literal
    templates win, as in routing: `/contacts/export` is not one of `/contacts/{id}`."""
    matched: dict[int, set[str]] = {}
    for template, item in (request.app.openapi().get("paths") or {}).items():
        pattern = re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template))
        if re.fullmatch(pattern, request.url.path):
            matched.setdefault(template.count("{"), set()).update(m.upper() for m in item if m in _HTTP_METHODS)
    return ", ".join(sorted(matched[min(matched)])) if matched else None


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        return problem_response(exc.status, exc.title, exc.detail, request, **exc.extra)

    @app.exception_handler(DomainError)
    async def _refused(request: Request, exc: DomainError) -> JSONResponse:
        extra = dict(exc.extra)
        if exc.errors:
            extra["errors"] = exc.errors
        return problem_response(domain_status(exc), exc.title, exc.detail, request, **extra)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = _field_errors(exc)
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        return problem_response(422, "Invalid request", detail, request, errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        title = {404: "Not Found", 405: "Method Not Allowed", 401: "Unauthorized"}.get(exc.status_code, "Error")
        response = problem_response(exc.status_code, title, str(exc.detail) if exc.detail else None, request)
        response.headers.update(exc.headers or {})
        if exc.status_code == 405:  # RFC 9110: a 405 names what the resource does allow
            response.headers["Allow"] = allowed_methods(request) or response.headers.get("Allow", "")
        return response

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return problem_response(500, "Internal Server Error", None, request)


class CorrelationMiddleware:
    """Takes the caller's request id (or makes one), binds it to logs, echoes it back."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope["headers"]).get(CORRELATION_HEADER.lower().encode())
        value = incoming.decode()[:128] if incoming else uuid.uuid4().hex
        token = correlation_id.set(value)

        async def send_with_id(message: dict) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", []).append((CORRELATION_HEADER.lower().encode(), value.encode()))
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            correlation_id.reset(token)


async def current_context(request: Request) -> Context:
    """Who the request runs for, as the gateway vouched (`X-Byte-Identity`), in the request's
    flow. Needs `app.state.identity_verifier`."""
    token = request.headers.get(HEADER)
    if not token:
        raise Problem(401, "Unauthorized", f"missing {HEADER}: requests reach services through the gateway")
    verifier: IdentityVerifier = request.app.state.identity_verifier
    try:
        identity = verifier.verify(token)
    except InvalidIdentity as exc:
        raise Problem(401, "Unauthorized", f"invalid identity: {exc}") from exc
    return Context.of_identity(identity, correlation_id.get())


CurrentContext = Annotated[Context, Depends(current_context)]

Check = Callable[[], Awaitable[None]]

DEPENDENCY_UP = Gauge("byte_dependency_up", "1 when the dependency answered the last readiness check", ["dependency"])


async def _run_checks(checks: dict[str, Check]) -> dict[str, str]:
    results: dict[str, str] = {}
    for name, check in checks.items():
        try:
            await check()
            results[name] = "ok"
        except Exception as exc:  # a readiness probe reports, it does not raise
            results[name] = f"failed: {exc.__class__.__name__}: {exc}"
        DEPENDENCY_UP.labels(name).set(1 if results[name] == "ok" else 0)
    return results


def install_health(app: FastAPI, runtime: Runtime, *, extra_checks: dict[str, Check] | None = None) -> None:
    """/healthz: the process answers. /readyz: it can serve requests (its required
    dependencies answer); a dependency it can do without for a while (the broker: the outbox
    buffers) is reported as `degraded`, not as unready. /metrics: Prometheus."""
    required = {**runtime.checks, **(extra_checks or {})}

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> JSONResponse:
        results = await _run_checks(required)
        optional = await _run_checks(runtime.degraded_checks)
        ready = all(v == "ok" for v in results.values())
        degraded = sorted(name for name, v in optional.items() if v != "ok")
        status = "unavailable" if not ready else "degraded" if degraded else "ok"
        body: dict[str, Any] = {"status": status, "checks": {**results, **optional}}
        if degraded:
            body["degraded"] = degraded
        return JSONResponse(body, status_code=200 if ready else 503)

    Instrumentator(excluded_handlers=["/healthz", "/readyz", "/metrics"]).instrument(app).expose(app, include_in_schema=False)


def base_app(*, title: str, version: str, lifespan: Any) -> FastAPI:
    app = FastAPI(title=title, version=version, lifespan=lifespan)
    app.add_middleware(CorrelationMiddleware)
    install_problem_handlers(app)
    return app

