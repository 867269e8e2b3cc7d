"""Forwarding a request to the service that owns its path.

One pooled aiohttp session for every upstream (httpx costs about 2 ms more per request here:
docs/benchmarks.md); a small connect timeout so a dead service is a fast 503 with Retry-After,
not a hang. The caller's headers pass through except the ones that could
speak for someone: `Authorization` and cookies (the Clerk session stays at the edge), any
`X-Byte-Identity` (the gateway mints the only one) and any org header. Responses stream back
unbuffered (a CSV export never sits in the gateway's memory).
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator
from urllib.parse import quote

import aiohttp
from byte_platform.http import CORRELATION_HEADER, PROBLEM_JSON, Problem
from byte_platform.identity import HEADER as IDENTITY_HEADER
from byte_platform.logging import correlation_id
from fastapi import Request
from prometheus_client import Counter
from starlette.responses import Response, StreamingResponse
from yarl import URL

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


# RFC 3986: what may stand unescaped in a path (and, with `?`, in a query); `%` only as the
# start of an escape. Everything else a lenient HTTP parser let through is escaped again.
_NOT_IN_PATH = re.compile(rb"%(?![0-9A-Fa-f]{2})|[^A-Za-z0-9\-._~!$&'()*+,;=:@/%]")
_NOT_IN_QUERY = re.compile(rb"%(?![0-9A-Fa-f]{2})|[^A-Za-z0-9\-._~!$&'()*+,;=:@/?%]")


def _escape(raw: bytes, unsafe: re.Pattern[bytes]) -> str:
    return unsafe.sub(lambda m: b"%%%02X" % m.group()[0], raw).decode("ascii")


def upstream_target(scope: dict) -> str:
    """The path and query as the caller sent them (`raw_path`, not the decoded `path`, so
    `%2F`, `%00` or `%20` reach the service as escapes it decodes exactly as the gateway did),
    with any byte that cannot stand in a URL escaped."""
    raw_path = scope.get("raw_path") or quote(scope["path"]).encode()
    target = _escape(raw_path, _NOT_IN_PATH)
    query = scope.get("query_string") or b""
    return f"{target}?{_escape(query, _NOT_IN_QUERY)}" if query else target


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
        self._timeout = aiohttp.ClientTimeout(
            total=None, connect=pool_timeout + connect_timeout, sock_connect=connect_timeout, sock_read=read_timeout
        )
        self._max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=self._max_connections, limit_per_host=self._max_connections),
            timeout=self._timeout,
            # one session serves every caller: it must never keep an upstream's cookies
            cookie_jar=aiohttp.DummyCookieJar(),
            # bytes pass through as the upstream encoded them, Content-Encoding and all
            auto_decompress=False,
            skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding", "Content-Type"),
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

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
        assert self._session is not None, "Proxy.start() runs in the app's lifespan"
        headers = [(k, v) for k, v in request.headers.items() if _forwardable(k)]
        headers.append((IDENTITY_HEADER, identity_token))
        headers.append((CORRELATION_HEADER, correlation_id.get() or ""))
        if request.client:
            headers.append(("x-forwarded-for", request.client.host))
        headers.append(("x-forwarded-proto", request.url.scheme))
        body = await self._body(request) if request.method not in ("GET", "HEAD") else None
        # encoded=True: the target is already escaped; yarl must not decode or normalise it
        url = URL(base + upstream_target(request.scope), encoded=True)
        try:
            response = await self._session.request(
                request.method, url, headers=headers, data=body, allow_redirects=False
            )
        except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as exc:
            UPSTREAM_FAILURES.labels(service, "connect").inc()
            raise UpstreamUnavailable(service, type(exc).__name__, self.retry_after) from None
        except (TimeoutError, asyncio.TimeoutError):
            UPSTREAM_FAILURES.labels(service, "timeout").inc()
            raise Problem(504, "Gateway Timeout", f"the {service} service did not answer in time") from None
        except aiohttp.ClientError as exc:
            UPSTREAM_FAILURES.labels(service, "transport").inc()
            raise Problem(502, "Bad Gateway", f"the {service} service failed mid-request: {type(exc).__name__}") from None
        content_type = response.headers.get("content-type", "")
        if response.status >= 500 and not content_type.startswith(PROBLEM_JSON):
            response.release()
            UPSTREAM_FAILURES.labels(service, "status").inc()
            log.warning("%s answered %s without problem+json", service, response.status)
            raise Problem(502, "Bad Gateway", f"the {service} service failed ({response.status})")
        streamed = StreamingResponse(_relay(response), status_code=response.status)
        # every header as sent (Set-Cookie may repeat), except hop-by-hop ones
        streamed.raw_headers = [(k.lower(), v) for k, v in response.raw_headers if k.decode("latin-1").lower() not in DROP_RESPONSE]
        return streamed


async def _relay(response: aiohttp.ClientResponse) -> AsyncIterator[bytes]:
    # Released here rather than in a BackgroundTask: a sync background callable would cost a
    # thread-pool round trip on every request.
    try:
        async for chunk in response.content.iter_any():
            yield chunk
    except (aiohttp.ClientError, TimeoutError) as exc:  # the upstream died mid-body: the status is sent, stop here
        log.warning("upstream body broke off: %s", exc)
    finally:
        response.release()
