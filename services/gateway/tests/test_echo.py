"""What exactly reaches a service: an upstream that echoes the request it got."""

import asyncio
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from byte_platform.identity import HEADER, IdentityVerifier


class Echo(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def _reply(self):
        length = int(self.headers.get("content-length") or 0)
        body = json.dumps(
            {
                "method": self.command,
                "path": self.path,
                "headers": [[k.lower(), v] for k, v in self.headers.items()],
                "body": self.rfile.read(length).decode() if length else "",
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Set-Cookie", "a=1")
        self.send_header("Set-Cookie", "b=2")
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PATCH = do_DELETE = _reply


@pytest.fixture(scope="module")
def echo_gateway(start_gateway):
    server = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield start_gateway(SERVICE_URLS_JSON=json.dumps({"contacts": f"http://127.0.0.1:{server.server_address[1]}"}))
    server.shutdown()


@pytest.mark.parametrize(
    ("clerk_role", "version", "roles"),
    [
        ("admin", 2, ["admin"]),
        ("org:admin", 1, ["admin"]),
        ("member", 2, ["user"]),
        ("org:member", 1, ["user"]),
        ("basic_member", 2, ["user"]),
        ("org:guest", 1, ["guest"]),
        ("reviewer", 2, ["reviewer"]),
        ("org:hr", 1, ["hr"]),
        ("owner", 2, ["owner"]),
        ("org:creator", 1, ["owner"]),
    ],
)
async def test_the_service_gets_a_minted_identity_and_nothing_forgeable(
    echo_gateway, clerk_issuer, stack, org_id, clerk_role, version, roles
):
    claims = clerk_issuer.claims(org_id, "user_echo", version=version)
    if version == 2:
        claims["o"]["rol"] = clerk_role.removeprefix("org:")
    else:
        claims["org_role"] = clerk_role
    token = clerk_issuer.sign(claims)
    forged = {
        HEADER: "forged",
        "X-Org-Id": "org_evil",
        "X-Byte-Org": "org_evil",
        "Cookie": "__session=x; other=y",
        "X-Request-ID": "req-echo-1",
        "X-Forwarded-For": "6.6.6.6",
        "X-Custom": "kept",
    }
    async with httpx.AsyncClient(
        base_url=echo_gateway.url, headers={"Authorization": f"Bearer {token}", **forged}
    ) as c:
        r = await c.get("/v1/contacts/abc/things?q=1&q=2&org_id=ignored")
    assert r.status_code == 200, r.text
    assert r.headers.get_list("set-cookie") == ["a=1", "b=2"]
    seen = r.json()
    headers: dict[str, list[str]] = {}
    for k, v in seen["headers"]:
        headers.setdefault(k, []).append(v)
    assert seen["method"] == "GET" and seen["path"] == "/v1/contacts/abc/things?q=1&q=2&org_id=ignored"
    assert len(headers[HEADER.lower()]) == 1
    verifier = IdentityVerifier(Path(stack["identity_public_key_file"]).read_text())
    who = verifier.verify(headers[HEADER.lower()][0])
    assert (who.user_id, who.org_id, sorted(who.roles)) == ("user_echo", org_id, roles)
    for dropped in ("authorization", "cookie", "x-org-id", "x-byte-org"):
        assert dropped not in headers, dropped
    assert headers["x-request-id"] == ["req-echo-1"]
    assert headers["x-forwarded-for"] == ["127.0.0.1"]
    assert headers["x-custom"] == ["kept"]


async def test_bodies_are_forwarded_and_capped(echo_gateway, clerk_issuer, org_id):
    token = clerk_issuer.token(org_id)
    async with httpx.AsyncClient(base_url=echo_gateway.url, headers={"Authorization": f"Bearer {token}"}) as c:
        r = await c.patch("/v1/contacts/abc", json={"k": "v"})
        assert r.status_code == 200 and json.loads(r.json()["body"]) == {"k": "v"}
        r = await c.post("/v1/contacts", content=b"x" * 2_000_000, headers={"content-type": "application/json"})
        assert r.status_code == 413 and r.headers["content-type"].startswith("application/problem+json")


async def _raw_request(url: str, method: bytes, target: bytes, token: str) -> tuple[int, bytes]:
    """Sends `target` byte for byte (HTTP clients escape what they think needs it); returns the
    status and the decoded body."""
    host, port = url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(
        b"%s %s HTTP/1.1\r\nHost: gateway\r\nAuthorization: Bearer %s\r\nConnection: close\r\n\r\n"
        % (method, target, token.encode())
    )
    await writer.drain()
    raw = await reader.read()
    writer.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    if b"transfer-encoding: chunked" in head.lower():
        chunks, rest = [], body
        while True:
            size, _, rest = rest.partition(b"\r\n")
            if int(size, 16) == 0:
                break
            chunks.append(rest[: int(size, 16)])
            rest = rest[int(size, 16) + 2 :]
        body = b"".join(chunks)
    return int(head.split(b" ", 2)[1]), body


@pytest.mark.parametrize(
    ("sent", "forwarded"),
    [
        (b"/v1/contacts/%00", "/v1/contacts/%00"),
        (b"/v1/contacts/K%0C", "/v1/contacts/K%0C"),
        (b"/v1/contacts/a%20b", "/v1/contacts/a%20b"),
        (b"/v1/contacts/a%2Fb%3Fc%23d", "/v1/contacts/a%2Fb%3Fc%23d"),  # not split, not cut
        (b"/v1/contacts/caf%C3%A9?q=%00&r=a+b%26c", "/v1/contacts/caf%C3%A9?q=%00&r=a+b%26c"),
        (b"/v1/contacts/%zz%4", "/v1/contacts/%25zz%254"),  # a stray % is a literal %, as the gateway read it
        (b'/v1/contacts/"{x}"|^?q=<a>`', "/v1/contacts/%22%7Bx%7D%22%7C%5E?q=%3Ca%3E%60"),
    ],
)
async def test_the_path_goes_upstream_as_sent_and_always_a_valid_url(
    echo_gateway, clerk_issuer, org_id, sent, forwarded
):
    status, body = await _raw_request(echo_gateway.url, b"GET", sent, clerk_issuer.token(org_id))
    assert status == 200, body
    assert json.loads(body)["path"] == forwarded
