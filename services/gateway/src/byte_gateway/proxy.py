"""Forwarding a request to the service that owns its path.

One pooled aiohttp session for every upstream (httpx costs about 2 ms more per request here:
docs/benchmarks.md); a small connect timeout so a dead service is a fast 503 with Retry-After,
not a hang. The caller's headers pass through except the ones that could
speak for someone: `Authorization` and cookies (the Clerk session stays at the edge), any
`X-Byte-Identity` (the gateway mints the only one) and any org header. Responses stream back
unbuffered (a CSV export never sits in the gateway's memory).

Faults (docs/errors.md, "Gateway"): a pooled connection the service has already closed is never
written to; a connection that carried a 5xx is not pooled again (a service that failed may close
it); a request that never reached the service (refused connection), or an idempotent one whose
connection broke before an answer, is sent once more on a fresh connection; a body that breaks
off mid-stream aborts the caller's response instead of ending it as if it were complete.
"""

from __future__ import annotations

import logging
import re
import weakref
from collections.abc import AsyncIterator, MutableMapping
from typing import Any
from urllib.parse import quote

import aiohttp
from byte_platform.connections import closed_by_peer
from byte_platform.http import CORRELATION_HEADER, PROBLEM_JSON, Problem
from byte_platform.identity import HEADER as IDENTITY_HEADER
from byte_platform.logging import correlation_id
from fastapi import Request
from prometheus_client import Counter
from starlette.responses import Response, StreamingResponse
from yarl import URL

log = logging.getLogger(__name__)

UPSTREAM_FAILURES = Counter(
    "byte_gateway_upstream_failures_total", "Requests no upstream answered", ["service", "kind"]
)
UPSTREAM_RETRIES = Counter(
    "byte_gateway_upstream_retries_total", "Requests sent again on a fresh connection", ["service", "reason"]
)

# RFC 9110 §9.2.2: sending one of these twice has the effect of sending it once
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})

HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
DROP_REQUEST = HOP_BY_HOP | {
    "host",
    "content-length",
    "authorization",
    "cookie",
    IDENTITY_HEADER.lower(),
    CORRELATION_HEADER.lower(),
    "forwarded",
    "x-forwarded-for",
    "x-forwarded-host",
    "x-forwarded-proto",
    "x-real-ip",
}
DROP_RESPONSE = HOP_BY_HOP | {"server", "date", CORRELATION_HEADER.lower()}


# RFC 3986: what may stand unescaped in a path (and, with `?`, in a query); `%` only as the
# start of an escape. Everything else a lenient HTTP parser let through is escaped again.
_NOT_IN_PATH = re.compile(rb"%(?![0-9A-Fa-f]{2})|[^A-Za-z0-9\-._~!$&'()*+,;=:@/%]")
_NOT_IN_QUERY = re.compile(rb"%(?![0-9A-Fa-f]{2})|[^A-Za-z0-9\-._~!$&'()*+,;=:@/?%]")


def _escape(raw: bytes, unsafe: re.Pattern[bytes]) -> str:
    return unsafe.sub(lambda m: b"%%%02X" % m.group()[0], raw).decode("ascii")


def upstream_target(scope: MutableMapping[str, Any]) -> str:
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


class UpstreamCut(Exception):
    """The service's body broke off after the status went out: raised inside the streaming body
    so the server aborts the caller's response (no terminating chunk, or fewer bytes than
    Content-Length) instead of ending it as if it were whole."""


class _UpstreamResponse(aiohttp.ClientResponse):
    async def start(self, connection: aiohttp.connector.Connection) -> aiohttp.ClientResponse:
        protocol = connection.protocol
        await super().start(connection)
        if self.status >= 500 and protocol is not None:
            # A service that failed may close the connection once its answer is out (uvicorn
            # does after an unhandled error), and would take in, then drop, a request sent on
            # it meanwhile: it is not used again. Marked even when a short body already put it
            # back in the pool; _OpenConnections skips it there.
            protocol.force_close()
        return self


class _OpenConnections(aiohttp.TCPConnector):
    """A pool that checks a kept-alive connection just before it is written to: a service
    closes idle connections (its keep-alive timeout, a shutdown, after an unhandled error) and
    the close can sit unread in the socket while the gateway picks the connection. Such a one,
    or one that carried a 5xx, is dropped for another, so a request is never written into a
    connection known to be closed."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._handed_out: weakref.WeakSet[object] = weakref.WeakSet()

    async def connect(self, req, traces, timeout):
        while True:
            conn = await super().connect(req, traces, timeout)
            if conn.protocol not in self._handed_out:  # just opened: nothing to check
                self._handed_out.add(conn.protocol)
                return conn
            if not (conn.protocol is None or conn.protocol.should_close or closed_by_peer(conn.transport)):
                return conn
            conn.close()


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
        keepalive_seconds: float = 4.0,
        max_body_bytes: int = 1_048_576,
    ) -> None:
        self.service_urls = service_urls
        self.retry_after = retry_after
        self.max_body_bytes = max_body_bytes
        self._timeout = aiohttp.ClientTimeout(
            total=None, connect=pool_timeout + connect_timeout, sock_connect=connect_timeout, sock_read=read_timeout
        )
        self._max_connections = max_connections
        self._keepalive = keepalive_seconds
        self._session: aiohttp.ClientSession | None = None
        self._fresh: aiohttp.ClientSession | None = None

    def _client(self, connector: aiohttp.BaseConnector) -> aiohttp.ClientSession:
        session = aiohttp.ClientSession(
            connector=connector,
            timeout=self._timeout,
            # one session serves every caller: it must never keep an upstream's cookies
            cookie_jar=aiohttp.DummyCookieJar(),
            # bytes pass through as the upstream encoded them, Content-Encoding and all
            auto_decompress=False,
            skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding", "Content-Type"),
            response_class=_UpstreamResponse,
        )
        # aiohttp resends an idempotent request itself, on the same pool (which may hand it
        # another connection the service closed); forward() does the one retry, on a fresh one.
        session._retry_connection = False
        return session

    async def start(self) -> None:
        # Idle connections are dropped before the services' own keep-alive (uvicorn: 5 s) would
        # close them under the gateway's feet.
        self._session = self._client(
            _OpenConnections(
                limit=self._max_connections,
                limit_per_host=self._max_connections,
                keepalive_timeout=self._keepalive,
            )
        )
        self._fresh = self._client(aiohttp.TCPConnector(limit=self._max_connections, force_close=True))

    async def close(self) -> None:
        for session in (self._session, self._fresh):
            if session is not None:
                await session.close()

    async def _body(self, request: Request, limit: int) -> bytes:
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > limit:
            raise Problem(413, "Payload Too Large", f"request bodies are limited to {limit} bytes")
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise Problem(413, "Payload Too Large", f"request bodies are limited to {limit} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    async def forward(
        self, request: Request, service: str, identity_token: str | None, *, max_body_bytes: int | None = None
    ) -> Response:
        """`max_body_bytes`: this route's own cap, when it is not the gateway's usual one."""
        base = self.service_urls.get(service)
        if base is None:
            raise UpstreamUnavailable(service, "it is not deployed behind this gateway", self.retry_after)
        headers = [(k, v) for k, v in request.headers.items() if _forwardable(k)]
        if identity_token is not None:  # None: a public path the service authenticates itself
            headers.append((IDENTITY_HEADER, identity_token))
        headers.append((CORRELATION_HEADER, correlation_id.get() or ""))
        if request.client:
            headers.append(("x-forwarded-for", request.client.host))
        headers.append(("x-forwarded-proto", request.scope.get("scheme", "http")))
        limit = max_body_bytes or self.max_body_bytes
        body = await self._body(request, limit) if request.method not in ("GET", "HEAD") else None
        # encoded=True: the target is already escaped; yarl must not decode or normalise it
        url = URL(base + upstream_target(request.scope), encoded=True)
        response = await self._exchange(service, request.method, url, headers, body)
        content_type = response.headers.get("content-type", "")
        if response.status >= 500 and not content_type.startswith(PROBLEM_JSON):
            response.release()
            UPSTREAM_FAILURES.labels(service, "status").inc()
            log.warning("%s answered %s without problem+json", service, response.status)
            raise Problem(502, "Bad Gateway", f"the {service} service failed ({response.status})")
        # every header as sent (Set-Cookie may repeat), except hop-by-hop ones
        passed = [(k.lower(), v) for k, v in response.raw_headers if k.decode("latin-1").lower() not in DROP_RESPONSE]
        declared = response.headers.get("content-length")
        if (
            declared is not None
            and request.method != "HEAD"
            and response.content.is_eof()
            and response.content.exception() is None
        ):
            # A short answer (a page of a list) is in whole with its head: it goes on at once,
            # without the machinery of a stream (a task group per response). Anything longer,
            # or of no declared length, streams, and is cut off if the service's body breaks.
            # (The body is at its end only once all the declared bytes came.)
            answered = Response(status_code=response.status)
            answered.body = response.content.read_nowait()
            answered.raw_headers = passed
            response.release()
            return answered
        streamed = StreamingResponse(_relay(response, service), status_code=response.status)
        streamed.raw_headers = passed
        return streamed

    async def _exchange(
        self, service: str, method: str, url: URL, headers: list[tuple[str, str]], body: bytes | None
    ) -> aiohttp.ClientResponse:
        """The service's answer (status and headers; the body still to read), trying a second
        time, on a fresh connection, only when that cannot apply a request twice."""
        assert self._session is not None and self._fresh is not None, "Proxy.start() runs in the app's lifespan"
        for session in (self._session, self._fresh):
            retrying = session is self._fresh
            try:
                return await session.request(method, url, headers=headers, data=body, allow_redirects=False)
            except aiohttp.ConnectionTimeoutError:
                # no connection within the connect (and pool) timeout: waiting again would only double it
                UPSTREAM_FAILURES.labels(service, "connect").inc()
                raise UpstreamUnavailable(service, "ConnectionTimeoutError", self.retry_after) from None
            except TimeoutError:
                UPSTREAM_FAILURES.labels(service, "timeout").inc()
                raise Problem(504, "Gateway Timeout", f"the {service} service did not answer in time") from None
            except aiohttp.ClientConnectorError as exc:
                # refused, or reset while connecting: not a byte of the request was sent
                if retrying:
                    UPSTREAM_FAILURES.labels(service, "connect").inc()
                    raise UpstreamUnavailable(service, type(exc).__name__, self.retry_after) from None
                reason = "connect"
            except aiohttp.ClientConnectionError as exc:
                # The connection broke before an answer. The service may have acted on the
                # request (uvicorn runs a request that arrives on a connection it is about to
                # close), so only a request that is safe to apply twice goes again.
                if retrying or method not in IDEMPOTENT:
                    UPSTREAM_FAILURES.labels(service, "transport").inc()
                    raise Problem(
                        502,
                        "Bad Gateway",
                        f"the connection to the {service} service broke before it answered ({type(exc).__name__});"
                        + ("" if method in IDEMPOTENT else " the request may or may not have been applied"),
                    ) from None
                reason = "dropped"
            except aiohttp.ClientError as exc:  # an answer that is not HTTP, and the like
                UPSTREAM_FAILURES.labels(service, "transport").inc()
                raise Problem(
                    502, "Bad Gateway", f"the {service} service failed mid-request: {type(exc).__name__}"
                ) from None
            UPSTREAM_RETRIES.labels(service, reason).inc()
            log.info("%s %s: sending again on a fresh connection (%s)", method, service, reason)
        raise AssertionError("unreachable: the fresh attempt returns or raises")


async def _relay(response: aiohttp.ClientResponse, service: str) -> AsyncIterator[bytes]:
    # Released here rather than in a BackgroundTask: a sync background callable would cost a
    # thread-pool round trip on every request.
    try:
        async for chunk in response.content.iter_any():
            yield chunk
    except (aiohttp.ClientError, TimeoutError) as exc:
        # The status is out: the only honest signal left is to cut the caller's transfer too.
        UPSTREAM_FAILURES.labels(service, "cut").inc()
        log.warning(
            "%s %s: the %s service's body broke off (%s); aborting the response",
            response.method,
            response.url.path,
            service,
            type(exc).__name__,
        )
        response.close()
        raise UpstreamCut(f"the {service} service's body broke off: {type(exc).__name__}: {exc}") from None
    finally:
        response.release()
