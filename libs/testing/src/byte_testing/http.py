"""HTTP helpers for tests: problem+json assertions, Prometheus samples, a JWKS endpoint tests control."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families


def assert_problem(
    response: httpx.Response, status: int, *, code: str | None = None, contains: str | None = None
) -> dict:
    """The response is an RFC 9457 problem with this status (and `code`, and `detail` containing...)."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json"), response.headers
    body = response.json()
    assert body["status"] == status and body["title"]
    if code is not None:
        assert body.get("code") == code, body
    if contains is not None:
        assert contains in body.get("detail", ""), body
    return body


def assert_invalid(response: httpx.Response, field: str, location: str) -> dict:
    """A 422 problem whose `errors` name `field` (dotted) in `location` (body, query, path), each
    error with a message."""
    body = assert_problem(response, 422)
    errors = body.get("errors")
    assert errors and all(e.keys() >= {"field", "in", "message"} and e["message"] for e in errors), body
    assert any(e["field"] == field and e["in"] == location for e in errors), body
    return body


def metric_value(exposition: str, sample: str, **labels: str) -> float:
    """The sum of the samples named `sample` (e.g. `byte_outbox_published_total`) whose labels
    include `labels`, in a /metrics page; 0 when there is none yet (a labelled counter has no
    sample before its first increment)."""
    return sum(
        s.value
        for family in text_string_to_metric_families(exposition)
        for s in family.samples
        if s.name == sample and all(s.labels.get(k) == v for k, v in labels.items())
    )


class JwksServer:
    """A JWKS endpoint whose keys the test changes, counting how often it is fetched."""

    def __init__(self) -> None:
        self.keys: list[dict[str, Any]] = []
        self.fetches = 0
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                with outer._lock:
                    outer.fetches += 1
                    body = json.dumps({"keys": outer.keys}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/.well-known/jwks.json"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
