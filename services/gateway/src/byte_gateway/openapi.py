"""One OpenAPI document for the whole public API: the gateway's own routes plus, from every
service behind it, the paths the gateway routes to that service (fetched from the service's
/openapi.json, cached). A schema name two services define differently is prefixed with the
service's name, and that service's references follow.

Every error the API answers is RFC 9457 problem+json, whoever answers it: the document says so
for every 4xx/5xx of every operation (a service's `application/json` 422 is corrected), and adds
the errors the gateway itself answers in front of a service (no session, a role that may not,
a rate limit, a service down or failing) that the service's own document cannot know of."""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import time
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

import httpx

from byte_gateway.domain import ROUTES, prefixes_of

log = logging.getLogger(__name__)

SECURITY_SCHEMES = {
    "clerkSession": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "Clerk session token (cross-origin callers)",
    },
    "clerkCookie": {
        "type": "apiKey",
        "in": "cookie",
        "name": "__session",
        "description": "Clerk session cookie (same-origin callers)",
    },
}
PARTIAL_CACHE_SECONDS = 5.0
HTTP_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})

PROBLEM_JSON = "application/problem+json"
PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "RFC 9457 problem details. Members beyond these may appear (`code` on an auth failure, "
    "`retry_after` on a rate limit, facts such as `assigned_to` on a conflict).",
    "type": "object",
    "required": ["type", "title", "status"],
    "properties": {
        "type": {"type": "string", "description": "`about:blank`: the status and title say it all"},
        "title": {"type": "string"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string"},
        "instance": {"type": "string", "description": "the path of the request"},
        "errors": {
            "type": "array",
            "description": "the inputs at fault",
            "items": {
                "type": "object",
                "required": ["field", "in", "message"],
                "properties": {
                    "field": {"type": "string", "description": "dotted path of the input (`metadata.a`, `cursor`)"},
                    "in": {"type": "string", "description": "body, query, path or header"},
                    "message": {"type": "string"},
                },
            },
        },
    },
}
_RETRY_AFTER = {"Retry-After": {"description": "seconds to wait before retrying", "schema": {"type": "integer"}}}
# What the gateway answers before or instead of the service: (status, description, headers).
GatewayError = tuple[int, str, dict[str, Any]]
SESSION_ERRORS: tuple[GatewayError, ...] = (
    (
        401,
        "No valid Clerk session (missing, expired, not for this app)",
        {"WWW-Authenticate": {"description": '`Bearer realm="byte"`', "schema": {"type": "string"}}},
    ),
    (403, "The session has no active organization, or its role may not do this", {}),
    (429, "Too many requests for this user or organization", _RETRY_AFTER),
    (503, "Session keys or the service are unavailable; retry after a moment", _RETRY_AFTER),
)
UPSTREAM_ERRORS: tuple[GatewayError, ...] = (
    (413, "The request body is over the gateway's limit", {}),
    (502, "The service failed or broke off mid-request", {}),
    (504, "The service did not answer in time", {}),
)
UNEXPECTED: GatewayError = (500, "Unexpected failure", {})


def _rename_refs(node: Any, renames: dict[str, str]) -> Any:
    text = json.dumps(node)
    for old, new in renames.items():
        text = text.replace(f'"#/components/schemas/{old}"', f'"#/components/schemas/{new}"')
    return json.loads(text)


def merge(own: dict[str, Any], upstream: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Pure: the gateway's document plus each service's routed paths and their schemas."""
    doc = copy.deepcopy(own)
    paths: dict[str, Any] = doc.setdefault("paths", {})
    components = doc.setdefault("components", {})
    schemas: dict[str, Any] = components.setdefault("schemas", {})
    # before the services' schemas: a `Problem` of theirs that differs becomes `<Service>Problem`
    schemas.setdefault("Problem", PROBLEM_SCHEMA)
    tags = {t["name"]: t for t in doc.get("tags", [])}
    for service, sub in sorted(upstream.items()):
        prefixes = prefixes_of(service)
        routed = {
            p: v
            for p, v in (sub.get("paths") or {}).items()
            if any(p == pre or p.startswith(pre + "/") for pre in prefixes)
        }
        theirs = (sub.get("components") or {}).get("schemas") or {}
        renames = {n: f"{service.title()}{n}" for n, s in theirs.items() if n in schemas and schemas[n] != s}
        if renames:
            routed = _rename_refs(routed, renames)
            theirs = _rename_refs(theirs, renames)
        for name, schema in theirs.items():
            schemas[renames.get(name, name)] = schema
        paths.update(routed)
        for t in sub.get("tags") or []:
            tags.setdefault(t["name"], t)
    if tags:
        doc["tags"] = list(tags.values())
    components.setdefault("securitySchemes", {}).update(SECURITY_SCHEMES)
    doc["security"] = [{"clerkSession": []}, {"clerkCookie": []}]
    proxied = {p for sub in upstream.values() for p in (sub.get("paths") or {})}
    document_problems(doc, proxied)
    return doc


def _problem_content(status: str, response: dict[str, Any]) -> None:
    if not response.get("description"):  # required by OpenAPI
        response["description"] = HTTPStatus(int(status)).phrase if status.isdigit() else "Error"
    content = response.get("content") or {}
    if PROBLEM_JSON not in content:
        response["content"] = {PROBLEM_JSON: {"schema": PROBLEM_REF}}
    else:  # a service documented problem+json already: its schema stands
        response["content"] = {PROBLEM_JSON: content[PROBLEM_JSON]}


def document_problems(doc: dict[str, Any], proxied: set[str]) -> None:
    """Pure, in place: problem+json for every 4xx/5xx of every operation, plus the errors the
    gateway answers itself (session, role, rate limit on every operation that needs a session;
    body limit and a failing service on the ones it forwards)."""
    doc.setdefault("components", {}).setdefault("schemas", {}).setdefault("Problem", PROBLEM_SCHEMA)
    for path, item in doc.get("paths", {}).items():
        for method, operation in item.items():
            if method not in HTTP_METHODS or not isinstance(operation, dict):
                continue
            responses: dict[str, Any] = operation.setdefault("responses", {})
            added: list[GatewayError] = [UNEXPECTED]
            if operation.get("security", doc.get("security")):
                added += SESSION_ERRORS
            if path in proxied:
                added += UPSTREAM_ERRORS if "requestBody" in operation else UPSTREAM_ERRORS[1:]
            for status, description, headers in added:
                response = responses.setdefault(str(status), {"description": description})
                for name, header in headers.items():
                    response.setdefault("headers", {}).setdefault(name, header)
            for code, response in responses.items():
                if code[:1] in ("4", "5") and isinstance(response, dict):
                    _problem_content(code, response)
            operation["responses"] = dict(sorted(responses.items()))


class MergedOpenApi:
    def __init__(
        self,
        own: Callable[[], dict[str, Any]],
        client: httpx.AsyncClient,
        service_urls: dict[str, str],
        *,
        ttl_seconds: float = 60.0,
    ) -> None:
        self._own = own
        self._client = client
        self._urls = service_urls
        self._ttl = ttl_seconds
        self._doc: dict[str, Any] | None = None
        self._expires = 0.0
        self._lock = asyncio.Lock()

    async def _fetch(self, service: str) -> dict[str, Any] | None:
        try:
            r = await self._client.get(f"{self._urls[service]}/openapi.json", timeout=5)
            r.raise_for_status()
            return r.json()
        except (httpx.HTTPError, ValueError) as exc:
            log.warning("openapi of %s unavailable: %s", service, exc)
            return None

    async def document(self) -> dict[str, Any]:
        if self._doc is not None and time.monotonic() < self._expires:
            return self._doc
        async with self._lock:
            if self._doc is not None and time.monotonic() < self._expires:
                return self._doc
            services = sorted({svc for _, svc in ROUTES if svc in self._urls})
            fetched = await asyncio.gather(*(self._fetch(s) for s in services))
            upstream = {s: d for s, d in zip(services, fetched, strict=True) if d is not None}
            missing = [s for s, d in zip(services, fetched, strict=True) if d is None]
            doc = merge(self._own(), upstream)
            if missing:
                doc["info"]["x-unavailable-services"] = missing
            self._doc = doc
            self._expires = time.monotonic() + (PARTIAL_CACHE_SECONDS if missing else self._ttl)
            return doc
