"""HTTP conventions every service shares: problem+json errors, correlation ids, the caller's
identity, health and metrics."""

from __future__ import annotations

import logging
import re
import uuid
from typing import Annotated, Any

from byte_contracts.errors import Conflict, DomainError, Forbidden, Invalid, Malformed, NotFound
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from prometheus_client import Gauge
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from byte_platform.context import Context
from byte_platform.faults import is_transient
from byte_platform.identity import HEADER, IdentityVerifier, InvalidIdentity
from byte_platform.logging import correlation_id
from byte_platform.metrics import HttpMetrics, metrics_page
from byte_platform.runtime import Check, Runtime
from byte_platform.validation import MAX_REPORTED, printable, unstorable

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
CORRELATION_HEADER = "X-Request-ID"
# Long enough for a pool to reconnect or a database to fail over, short enough that a client
# which honours it does not give up.
RETRY_AFTER_SECONDS = 2


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
    """One `{field, in, message}` per error; `field` is the dotted path of the input
    (`first_name`, `metadata.a.b`, `tags.2`), or `body` when the body as a whole is wrong."""
    errors = []
    for err in exc.errors():
        loc = list(err.get("loc", ()))
        where = str(loc[0]) if loc else "body"
        path, message = loc[1:], str(err.get("msg", ""))
        if err.get("type") == "json_invalid":
            # FastAPI puts the character offset where a field name would go.
            error = (err.get("ctx") or {}).get("error", "")
            message = f"not valid JSON (at character {path[0]}: {error})" if path else "not valid JSON"
            path = []
        # Control characters or lone surrogates in a path (a metadata key, a query parameter's
        # name) or in a message that quotes the input are written as escapes.
        field = ".".join(printable(str(p)) for p in path) or where
        errors.append({"field": field, "in": where, "message": printable(message)})
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
        if exc.status_code == 400 and isinstance(exc.__cause__, ValueError | RecursionError):
            # FastAPI's answer to a JSON body Python cannot decode at all (nested past the
            # recursion limit, not UTF-8, an integer of thousands of digits): still a body error.
            message = _unreadable_body(exc.__cause__)
            return problem_response(
                400, "Malformed body", message, request, errors=[{"field": "body", "in": "body", "message": message}]
            )
        title = {404: "Not Found", 405: "Method Not Allowed", 401: "Unauthorized"}.get(exc.status_code, "Error")
        response = problem_response(exc.status_code, title, str(exc.detail) if exc.detail else None, request)
        response.headers.update(exc.headers or {})
        if exc.status_code == 405:  # RFC 9110: a 405 names what the resource does allow
            response.headers["Allow"] = allowed_methods(request) or response.headers.get("Allow", "")
        return response

    # No handler for `Exception` here: Starlette runs those in its outermost ServerErrorMiddleware,
    # which re-raises after answering, so uvicorn closes the connection (the caller's next pooled
    # request fails) and the log line no longer has the request's correlation id.
    # CorrelationMiddleware answers what no handler took instead.


def unavailable_response(request: Request, retry_after: int) -> JSONResponse:
    """503 for a failure of the world (the database restarting, a pool with no connection to
    give): the request was fine and may be sent again after `Retry-After` seconds."""
    response = problem_response(
        503,
        "Service Unavailable",
        "a dependency is briefly unavailable; retry shortly",
        request,
        retry_after=retry_after,
    )
    response.headers["Retry-After"] = str(retry_after)
    return response


def _unreadable_body(cause: BaseException) -> str:
    if isinstance(cause, RecursionError):
        return "not readable JSON: nested too deeply"
    if isinstance(cause, UnicodeDecodeError):
        return "not readable JSON: not UTF-8"
    return "not readable JSON: a number is too long"


_REQUEST_ID = re.compile(rb"[\x20-\x7e]+")


class CorrelationMiddleware:
    """The outermost frame of a request: takes the caller's request id (or makes one), binds it
    to logs and echoes it back, and answers any error no exception handler took, as
    problem+json, without re-raising it.

    An error is a 503 with `Retry-After` when `byte_platform.faults.is_transient` says another
    attempt may succeed, a 500 otherwise. Either way the connection stays open for the caller's
    next request. An error after the response started (a stream cut mid-body) is re-raised: the
    server must then drop the connection, which is how the client learns the body is incomplete.
    """

    def __init__(self, app: ASGIApp, retry_after: int = RETRY_AFTER_SECONDS) -> None:
        self.app = app
        self.retry_after = retry_after

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope["headers"]).get(CORRELATION_HEADER.lower().encode())
        # Only printable ASCII is taken: the id is echoed in a header, logged and carried in
        # events, and a header's bytes need not even be UTF-8.
        value = incoming.decode()[:128] if incoming and _REQUEST_ID.fullmatch(incoming) else uuid.uuid4().hex
        token = correlation_id.set(value)
        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message.setdefault("headers", []).append((CORRELATION_HEADER.lower().encode(), value.encode()))
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception as exc:
            request = Request(scope)
            transient = is_transient(exc)
            if started:
                log.error(
                    "%s %s failed after its response started; the connection is dropped (%s: %s)",
                    request.method,
                    request.url.path,
                    type(exc).__name__,
                    exc,
                    exc_info=None if transient else exc,
                )
                raise
            if transient:
                log.warning(
                    "%s %s met a transient failure; answered 503 (%s: %s)",
                    request.method,
                    request.url.path,
                    type(exc).__name__,
                    exc,
                )
                response = unavailable_response(request, self.retry_after)
            else:
                log.exception("unhandled error in %s %s", request.method, request.url.path)
                response = problem_response(500, "Internal Server Error", None, request)
            await response(scope, receive, send_with_id)
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

    app.add_api_route("/metrics", metrics_page, methods=["GET"], include_in_schema=False)
    app.add_middleware(HttpMetrics)


class FieldError(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    field: str = Field(
        description="dotted path of the offending input (`first_name`, `metadata.a.b`, `tags.2`, "
        "`cursor`), or `body` when the body as a whole is wrong"
    )
    in_: str = Field(alias="in", description="where it was given: `body`, `query`, `path` or `header`")
    message: str = Field(description="what is wrong with it")


class ProblemDetails(BaseModel):
    """An error, as every service answers one: RFC 9457 problem details
    (`application/problem+json`). A refusal may add facts worth showing (who holds a task)."""

    model_config = ConfigDict(title="Problem", extra="allow")

    type: str = Field("about:blank", description="always `about:blank`: `status` and `title` say what happened")
    title: str
    status: int
    detail: str | None = Field(None, description="what went wrong, for a person")
    instance: str | None = Field(None, description="the request's path")
    errors: list[FieldError] | None = Field(None, description="one per offending input, on 400 and 422")


# What each status means for any operation; an operation may describe its own more precisely.
PROBLEM_STATUSES: dict[int, str] = {
    400: "Malformed input: a cursor this API did not issue, a body that is not readable JSON",
    401: "No valid identity: requests reach services through the gateway",
    403: "The caller may not do this",
    404: "Not found (another organization's rows read the same as missing ones)",
    409: "The current state does not allow this",
    422: "Invalid input: `errors` names each offending field",
    500: "Unexpected failure",
    503: "A dependency is unavailable; retry after `Retry-After` seconds",
}
_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


def document_problems(app: FastAPI) -> None:
    """Makes `app`'s OpenAPI document say what errors really look like: problem+json (the
    `Problem` schema) for every 4xx/5xx of every operation, in place of FastAPI's default
    `application/json` `HTTPValidationError`, which no service ever answers."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = with_problems(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def with_problems(schema: dict[str, Any]) -> dict[str, Any]:
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    problem = ProblemDetails.model_json_schema(ref_template="#/components/schemas/{model}")
    components.update(problem.pop("$defs", {}))
    components["Problem"] = problem
    content = {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for path_item in schema.get("paths", {}).values():
        for method, operation in path_item.items():
            if method not in _METHODS:
                continue
            responses = operation.setdefault("responses", {})
            for status, description in PROBLEM_STATUSES.items():
                documented = responses.setdefault(str(status), {"description": description})
                if documented.get("description") == "Validation Error":
                    documented["description"] = description
                documented["content"] = content
    for unused in ("HTTPValidationError", "ValidationError"):
        components.pop(unused, None)
    return schema


async def storable_parameters(request: Request) -> None:
    """Refuses a query parameter (name or value) or a path segment PostgreSQL could not store,
    naming it, before any route reads it. Installed on every route by `base_app`."""
    errors: list[dict[str, Any]] = []
    for name, value in request.path_params.items():
        if isinstance(value, str) and (why := unstorable(value)):
            errors.append({"type": "text_unstorable", "loc": ("path", name), "msg": why, "input": None})
    for name, value in request.query_params.multi_items():
        if why := unstorable(name):
            errors.append({"type": "text_unstorable", "loc": ("query", name), "msg": f"name {why}", "input": None})
        elif why := unstorable(value):
            errors.append({"type": "text_unstorable", "loc": ("query", name), "msg": why, "input": None})
    if errors:
        raise RequestValidationError(errors[:MAX_REPORTED])


def base_app(*, title: str, version: str, lifespan: Any) -> FastAPI:
    # Every route refuses a query parameter or path segment PostgreSQL could not store before
    # it reads any (byte_platform.validation); bodies are checked by their schemas' types.
    app = FastAPI(title=title, version=version, lifespan=lifespan, dependencies=[Depends(storable_parameters)])
    app.add_middleware(CorrelationMiddleware)
    install_problem_handlers(app)
    document_problems(app)
    return app
