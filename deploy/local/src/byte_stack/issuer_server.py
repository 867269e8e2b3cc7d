"""The dev issuer process: serves the profile's Clerk-like JWKS.

Run as `python -m byte_stack.issuer_server --public-key F --port P` (byte_stack.issuer starts it).
  GET /.well-known/jwks.json   the JWKS (Clerk serves it at the same path of its Frontend API)
  GET /healthz                 200
The key file is read per request, so a rotated key is served without a restart.
"""

from __future__ import annotations

import argparse
import json
import signal
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from .devclerk import jwks

HOST = "127.0.0.1"
JWKS_PATH = "/.well-known/jwks.json"


def make_server(public_key: Path, host: str, port: int) -> ThreadingHTTPServer:
    class Http(BaseHTTPRequestHandler):
        def log_message(self, fmt, *args):  # quiet: the gateway polls it rarely, tests often
            pass

        def _send(self, status: int, payload: dict) -> None:
            body = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "public, max-age=300")
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            if self.path == "/healthz":
                return self._send(200, {"ok": True})
            if self.path == JWKS_PATH:
                return self._send(200, jwks(public_key.read_text()))
            self._send(404, {"error": "not found"})

    server = ThreadingHTTPServer((host, port), Http)
    server.daemon_threads = True
    return server


def serve(public_key: Path, host: str, port: int) -> None:
    server = make_server(public_key, host, port)

    def _stop(*_):
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    print(f"dev issuer: JWKS at http://{host}:{port}{JWKS_PATH}", flush=True)
    server.serve_forever()


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m byte_stack.issuer_server")
    ap.add_argument("--public-key", required=True, type=Path)
    ap.add_argument("--host", default=HOST)
    ap.add_argument("--port", type=int, required=True)
    a = ap.parse_args(argv)
    serve(a.public_key, a.host, a.port)


if __name__ == "__main__":
    main()
