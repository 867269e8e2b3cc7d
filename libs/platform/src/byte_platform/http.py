"""HTTP conventions every service shares: problem+json errors, correlation ids, the caller's
identity, health and metrics."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from prometheus_fastapi_instrumentator import Instrumentator
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from byte_platform.identity import HEADER, Identity, IdentityVerifier, InvalidIdentity
from byte_platform.logging import correlation_id

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
CORRELATION_HEADER = "X-Request-ID"


class Problem(Exception):
    """An error the caller can act on, rendered as RFC 9457 problem+json."""

    def __init__(self, status: int, title: str, detail: str | None = None, **extra: Any) -> None:
        super().__init__(detail or title)
        self.status = status
        self.title = title
        self.detail = detail
        self.extra = extra


class NotFound(Problem):
    def __init__(self, what: str) -> None:
        super().__init__(404, "Not Found", f"{what} not found")


class Conflict(Problem):
    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(409, "Conflict", detail, **extra)


class Forbidden(Problem):
    def __init__(self, detail: str) -> None:
        super().__init__(403, "Forbidden", detail)


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


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        return problem_response(exc.status, exc.title, exc.detail, request, **exc.extra)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = _field_errors(exc)
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        return problem_response(422, "Invalid request", detail, request, errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        title = {404: "Not Found", 405: "Method Not Allowed", 401: "Unauthorized"}.get(exc.status_code, "Error")
        return problem_response(exc.status_code, title, str(exc.detail) if exc.detail else None, request)

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


async def current_identity(request: Request) -> Identity:
    """The caller, as the gateway vouched for them. Needs `app.state.identity_verifier`."""
    token = request.headers.get(HEADER)
    if not token:
        raise Problem(401, "Unauthorized", f"missing {HEADER}: requests reach services through the gateway")
    verifier: IdentityVerifier = request.app.state.identity_verifier
    try:
        return verifier.verify(token)
    except InvalidIdentity as exc:
        raise Problem(401, "Unauthorized", f"invalid identity: {exc}") from exc


CurrentIdentity = Annotated[Identity, Depends(current_identity)]


def require_writer(identity: Identity) -> None:
    if identity.is_read_only:
        raise Forbidden("read-only role: this action changes data")


def require_admin(identity: Identity) -> None:
    if not identity.is_admin:
        raise Forbidden("only an org admin or owner may do this")


Check = Callable[[], Awaitable[None]]


def install_health(app: FastAPI, checks: dict[str, Check]) -> None:
    """/healthz: the process answers. /readyz: every dependency answers. /metrics: Prometheus."""

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> JSONResponse:
        results: dict[str, str] = {}
        for name, check in checks.items():
            try:
                await check()
                results[name] = "ok"
            except Exception as exc:  # a readiness probe reports, it does not raise
                results[name] = f"failed: {exc.__class__.__name__}: {exc}"
        ready = all(v == "ok" for v in results.values())
        return JSONResponse({"status": "ok" if ready else "unavailable", "checks": results}, status_code=200 if ready else 503)

    Instrumentator(excluded_handlers=["/healthz", "/readyz", "/metrics"]).instrument(app).expose(app, include_in_schema=False)


def base_app(*, title: str, version: str, lifespan: Any) -> FastAPI:
    app = FastAPI(title=title, version=version, lifespan=lifespan)
    app.add_middleware(CorrelationMiddleware)
    install_problem_handlers(app)
    return app

