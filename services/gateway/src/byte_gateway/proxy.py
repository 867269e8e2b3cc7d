"""Forwarding a request to the service that owns its path.

One pooled httpx client for every upstream; a small connect timeout so a dead service is a fast
503 with Retry-After, not a hang. The caller's headers pass through except the ones that could
speak for someone: `Authorization` and cookies (the Clerk session stays at the edge), any
`X-Byte-Identity` (the gateway mints the only one) and any org header. Responses stream back
unbuffered (a CSV export never sits in the gateway's memory).
"""

from __future__ import annotations

import logging
from http.cookiejar import CookieJar, DefaultCookiePolicy

import httpx
from byte_platform.http import CORRELATION_HEADER, PROBLEM_JSON, Problem
from byte_platform.identity import HEADER as IDENTITY_HEADER
from byte_platform.logging import correlation_id
from fastapi import Request
from prometheus_client import Counter
from starlette.background import BackgroundTask
from starlette.responses import Response, StreamingResponse

log = logging.getLogger(__name__)

UPSTREAM_FAILURES = Counter("byte_gateway_upstream_failures_total", "Requests no upstream answered", ["service", "kind"])

HOP_BY_HOP = frozenset({
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "proxy-connection", "te",
    "trailer", "transfer-encoding", "upgrade",
})
DROP_REQUEST = HOP_BY_HOP | {
    "host", "content-length", "authorization", "cookie", IDENTITY_HEADER.lower(), CORRELATION_HEADER.lower(),
    "forwarded", "x-forwarded-for", "x-forwarded-host", "x-forwarded-proto", "x-real-ip",
}
DROP_RESPONSE = HOP_BY_HOP | {"server", "date", CORRELATION_HEADER.lower()}


def _forwardable(name: str) -> bool:
    # org and identity claims come from the verified session only: drop every look-alike header
    return name not in DROP_REQUEST and not name.startswith(("x-org", "x-byte-", "x-clerk"))


class UpstreamUnavailable(Problem):
    def __init__(self, service: str, detail: str, retry_after: int) -> None:
        super().__init__(503, "Service Unavailable", f"the {service} service is not answering: {detail}")
        self.retry_after = retry_after


class Proxy:
    def __init__(
        self,
        service_urls: dict[str, str],
        *,
        connect_timeout: float,
        read_timeout: float,
        pool_timeout: float,
        max_connections: int,
        retry_after: int,
        max_body_bytes: int = 1_048_576,
    ) -> None:
        self.service_urls = service_urls
        self.retry_after = retry_after
        self.max_body_bytes = max_body_bytes
        self.client = httpx.AsyncClient(
            timeout=httpx.Timeout(read_timeout, connect=connect_timeout, pool=pool_timeout),
            limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
            follow_redirects=False,
            # one client serves every caller: it must never keep an upstream's cookies
            cookies=CookieJar(policy=DefaultCookiePolicy(allowed_domains=[])),
        )

    async def close(self) -> None:
        await self.client.aclose()

    async def _body(self, request: Request) -> bytes:
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > self.max_body_bytes:
            raise Problem(413, "Payload Too Large", f"request bodies are limited to {self.max_body_bytes} bytes")
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > self.max_body_bytes:
                raise Problem(413, "Payload Too Large", f"request bodies are limited to {self.max_body_bytes} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    async def forward(self, request: Request, service: str, identity_token: str) -> Response:
        base = self.service_urls.get(service)
        if base is None:
            raise UpstreamUnavailable(service, "it is not deployed behind this gateway", self.retry_after)
        headers = [(k, v) for k, v in request.headers.items() if _forwardable(k)]
        headers.append((IDENTITY_HEADER, identity_token))
        headers.append((CORRELATION_HEADER, correlation_id.get() or ""))
        if request.client:
            headers.append(("x-forwarded-for", request.client.host))
        headers.append(("x-forwarded-proto", request.url.scheme))
        body = await self._body(request) if request.method not in ("GET", "HEAD") else b""
        upstream = self.client.build_request(
            request.method,
            base + request.url.path,
            params=request.url.query.encode() if request.url.query else None,
            headers=headers,
            content=body,
        )
        try:
            response = await self.client.send(upstream, stream=True)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            UPSTREAM_FAILURES.labels(service, "connect").inc()
            raise UpstreamUnavailable(service, type(exc).__name__, self.retry_after) from None
        except httpx.TimeoutException:
            UPSTREAM_FAILURES.labels(service, "timeout").inc()
            raise Problem(504, "Gateway Timeout", f"the {service} service did not answer in time") from None
        except httpx.TransportError as exc:
            UPSTREAM_FAILURES.labels(service, "transport").inc()
            raise Problem(502, "Bad Gateway", f"the {service} service failed mid-request: {type(exc).__name__}") from None
        content_type = response.headers.get("content-type", "")
        if response.status_code >= 500 and not content_type.startswith(PROBLEM_JSON):
            await response.aclose()
            UPSTREAM_FAILURES.labels(service, "status").inc()
            log.warning("%s answered %s without problem+json", service, response.status_code)
            raise Problem(502, "Bad Gateway", f"the {service} service failed ({response.status_code})")
        streamed = StreamingResponse(
            _relay(response), status_code=response.status_code, background=BackgroundTask(response.aclose)
        )
        # every header as sent (Set-Cookie may repeat), except hop-by-hop ones
        streamed.raw_headers = [
            (k.encode("latin-1"), v.encode("latin-1")) for k, v in response.headers.multi_items() if k not in DROP_RESPONSE
        ]
        return streamed


async def _relay(response: httpx.Response):
    try:
        async for chunk in response.aiter_raw():
            yield chunk
    except httpx.HTTPError as exc:  # the upstream died mid-body: the status is sent, stop here
        log.warning("upstream body broke off: %s", exc)
