"""Request metrics for every HTTP app: the series prometheus-fastapi-instrumentator's default
set writes (same names, labels and buckets, so dashboards and tests read them as before),
from a pure ASGI middleware that does less per request.

The instrumentator walked the route table a second time to name the handler, and built a
Request and a Response object per request; here the handler is the route the app's own router
matched (`scope["route"]`, set by Starlette and FastAPI), read after the request, and only the
status and Content-Length of the response head are looked at. As before: statuses grouped
(`2xx`), a request no route matched is handler `none`, the health and metrics endpoints are not
counted, sizes are the declared Content-Length (0 when none).
"""

from __future__ import annotations

from time import perf_counter
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, Summary, generate_latest
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUESTS = Counter(
    "http_requests_total", "Total number of requests by method, status and handler.", ["method", "status", "handler"]
)
REQUEST_SIZE = Summary(
    "http_request_size_bytes",
    "Content length of incoming requests by handler. Only value of header is respected. Otherwise ignored.",
    ["handler"],
)
RESPONSE_SIZE = Summary(
    "http_response_size_bytes",
    "Content length of outgoing responses by handler. Only value of header is respected. Otherwise ignored.",
    ["handler"],
)
LATENCY_HIGHR = Histogram(
    "http_request_duration_highr_seconds",
    "Latency with many buckets but no API specific labels. Made for more accurate percentile calculations.",
    buckets=(0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 2.5, 3, 3.5, 4, 4.5, 5, 7.5, 10, 30, 60),
)
LATENCY = Histogram(
    "http_request_duration_seconds",
    "Latency with only few buckets by handler. Made to be only used if aggregation by handler is important.",
    ["method", "handler"],
    buckets=(0.1, 0.5, 1),
)

NOT_COUNTED = frozenset({"/healthz", "/readyz", "/metrics"})
MAX_REMEMBERED_SERIES = 1000
_CONTENT_LENGTH = b"content-length"


def _declared_length(headers: list[tuple[bytes, bytes]]) -> int:
    for name, value in headers:
        if name.lower() == _CONTENT_LENGTH:
            return int(value) if value.isdigit() else 0
    return 0


class HttpMetrics:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        # each label set's children, looked up once: `labels()` takes a lock and builds keys
        self._series: dict[tuple[str, str, str], tuple[Any, Any, Any, Any]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = perf_counter()
        status = 500  # what the caller gets when the app raises before answering
        response_length = 0

        async def send_observed(message: Message) -> None:
            nonlocal status, response_length
            if message["type"] == "http.response.start":
                status = message["status"]
                response_length = _declared_length(message.get("headers") or [])
            await send(message)

        try:
            await self.app(scope, receive, send_observed)
        finally:
            self._observe(scope, status, response_length, perf_counter() - started)

    def _observe(self, scope: Scope, status: int, response_length: int, duration: float) -> None:
        handler = getattr(scope.get("route"), "path", None) or "none"
        if handler in NOT_COUNTED:
            return
        key = (scope["method"], f"{str(status)[0]}xx", handler)
        series = self._series.get(key)
        if series is None:
            method, status_class, _ = key
            series = (
                REQUESTS.labels(method, status_class, handler),
                REQUEST_SIZE.labels(handler),
                RESPONSE_SIZE.labels(handler),
                LATENCY.labels(method, handler),
            )
            if len(self._series) < MAX_REMEMBERED_SERIES:  # methods are the caller's to make up
                self._series[key] = series
        requests, request_size, response_size, latency = series
        requests.inc()
        request_size.observe(_declared_length(scope["headers"]))
        response_size.observe(response_length)
        LATENCY_HIGHR.observe(duration)
        latency.observe(duration)


async def metrics_page(request: Request) -> Response:
    return Response(generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})
