"""The SMTP sink process: every message received becomes an .eml file, readable over HTTP.

Run as `python -m byte_stack.mail_server --dir D --smtp-port P --http-port Q` (byte_stack.mail
starts it). HTTP API (JSON):
  GET    /messages            list, oldest first; `?to=addr` filters on an envelope recipient
  GET    /messages/<id>       one message (adds `headers`; `/messages/<id>.eml` gives the raw file)
  DELETE /messages            delete all;  DELETE /messages/<id> deletes one
  GET    /healthz             200 once both servers listen
Each message: id, from, to (envelope recipients, Bcc included), header_to, subject, date,
received_at, body (text part, or HTML if there is none), html.
"""

from __future__ import annotations

import argparse
import email
import email.policy
import json
import re
import signal
import threading
import time
import uuid
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

HOST = "127.0.0.1"
_ID = re.compile(r"^[0-9A-Za-z_.-]+$")


class _Handler:
    def __init__(self, mail_dir: Path):
        self.mail_dir = mail_dir

    async def handle_DATA(self, server, session, envelope):
        # envelope recipients include Bcc, which never appear in the headers: keep them
        head = (f"X-Envelope-From: {envelope.mail_from}\r\nX-Envelope-To: {', '.join(envelope.rcpt_tos)}\r\n").encode()
        content = envelope.original_content or envelope.content
        if isinstance(content, str):
            content = content.encode("utf-8", "surrogateescape")
        msg_id = f"{time.time_ns()}-{uuid.uuid4().hex[:8]}"
        tmp = self.mail_dir / f".{msg_id}.tmp"
        tmp.write_bytes(head + content)
        tmp.rename(self.mail_dir / f"{msg_id}.eml")  # readers never see half a message
        return "250 Message accepted for delivery"


def _summary(path: Path, full: bool = False) -> dict:
    msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    body = msg.get_body(preferencelist=("plain", "html"))
    text = body.get_content() if body is not None else ""
    html = msg.get_body(preferencelist=("html",))
    received = datetime.fromtimestamp(int(path.stem.split("-")[0]) / 1e9, UTC).isoformat()
    out = {
        "id": path.stem,
        "from": str(msg.get("From", "")) or msg.get("X-Envelope-From", ""),
        "to": [a.strip() for a in str(msg.get("X-Envelope-To", "")).split(",") if a.strip()],
        "header_to": str(msg.get("To", "")),
        "subject": str(msg.get("Subject", "")),
        "date": str(msg.get("Date", "")) or received,
        "received_at": received,
        "body": text.replace("\r\n", "\n"),
        "html": html.get_content() if html is not None else None,
    }
    if full:
        out["headers"] = {k: str(v) for k, v in msg.items()}
    return out


def _make_http_handler(mail_dir: Path):
    class Http(BaseHTTPRequestHandler):
        def log_message(self, fmt, *args):  # quiet: tests poll this a lot
            pass

        def _send(self, status: int, payload, content_type: str = "application/json") -> None:
            body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _files(self) -> list[Path]:
            return sorted(mail_dir.glob("*.eml"))

        def do_GET(self):
            url = urlsplit(self.path)
            parts = [p for p in url.path.split("/") if p]
            if parts == ["healthz"]:
                return self._send(200, {"ok": True})
            if parts == ["messages"]:
                to = parse_qs(url.query).get("to", [None])[0]
                items = [_summary(p) for p in self._files()]
                if to:
                    items = [m for m in items if to.lower() in (a.lower() for a in m["to"])]
                return self._send(200, items)
            if len(parts) == 2 and parts[0] == "messages" and _ID.match(parts[1]):
                raw = parts[1].endswith(".eml")
                path = mail_dir / (parts[1] if raw else f"{parts[1]}.eml")
                if not path.exists():
                    return self._send(404, {"error": "not found"})
                if raw:
                    return self._send(200, path.read_bytes(), "message/rfc822")
                return self._send(200, _summary(path, full=True))
            self._send(404, {"error": "not found"})

        def do_DELETE(self):
            parts = [p for p in urlsplit(self.path).path.split("/") if p]
            if parts == ["messages"]:
                for p in self._files():
                    p.unlink(missing_ok=True)
                return self._send(200, {"deleted": True})
            if len(parts) == 2 and parts[0] == "messages" and _ID.match(parts[1]):
                path = mail_dir / f"{parts[1]}.eml"
                if path.exists():
                    path.unlink()
                    return self._send(200, {"deleted": True})
            self._send(404, {"error": "not found"})

    return Http


def serve(mail_dir: Path, host: str, smtp_port: int, http_port: int) -> None:
    from aiosmtpd.controller import Controller

    mail_dir.mkdir(parents=True, exist_ok=True)
    # data_size_limit: attachments in tests can be large; no need to refuse them here
    smtp = Controller(_Handler(mail_dir), hostname=host, port=smtp_port, data_size_limit=50 * 1024 * 1024)
    smtp.start()
    http = ThreadingHTTPServer((host, http_port), _make_http_handler(mail_dir))
    http.daemon_threads = True

    def _stop(*_):
        threading.Thread(target=http.shutdown, daemon=True).start()

    if threading.current_thread() is threading.main_thread():  # tests run it in a thread
        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
    print(f"mail sink: SMTP {host}:{smtp_port}, HTTP http://{host}:{http_port}/messages, dir {mail_dir}", flush=True)
    try:
        http.serve_forever()
    finally:
        smtp.stop()


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m byte_stack.mail")
    ap.add_argument("--dir", required=True, type=Path)
    ap.add_argument("--host", default=HOST)
    ap.add_argument("--smtp-port", type=int, required=True)
    ap.add_argument("--http-port", type=int, required=True)
    a = ap.parse_args(argv)
    serve(a.dir, a.host, a.smtp_port, a.http_port)


if __name__ == "__main__":
    main()
