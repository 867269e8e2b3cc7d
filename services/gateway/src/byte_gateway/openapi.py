"""One OpenAPI document for the whole public API: the gateway's own routes plus, from every
service behind it, the paths the gateway routes to that service (fetched from the service's
/openapi.json, cached). A schema name two services define differently is prefixed with the
service's name, and that service's references follow."""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import time
from collections.abc import Callable
from typing import Any

import httpx

from byte_gateway.domain import ROUTES, prefixes_of

log = logging.getLogger(__name__)

SECURITY_SCHEMES = {
    "clerkSession": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                     "description": "Clerk session token (cross-origin callers)"},
    "clerkCookie": {"type": "apiKey", "in": "cookie", "name": "__session",
                    "description": "Clerk session cookie (same-origin callers)"},
}
PARTIAL_CACHE_SECONDS = 5.0


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
    tags = {t["name"]: t for t in doc.get("tags", [])}
    for service, sub in sorted(upstream.items()):
        prefixes = prefixes_of(service)
        routed = {
            p: v for p, v in (sub.get("paths") or {}).items()
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
    return doc


class MergedOpenApi:
    def __init__(self, own: Callable[[], dict[str, Any]], client: httpx.AsyncClient,
                 service_urls: dict[str, str], *, ttl_seconds: float = 60.0) -> None:
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
