"""The gateway under faults: honest answers, and recovery without a human.

Real processes throughout: the gateway, a stand-in service built and served the way the services
are (upstream_app.py: its unhandled errors and cut-off bodies are theirs), a bare HTTP/1.1
upstream that hangs up on request, and Kafka, unreachable and then reachable again.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from byte_testing.http import assert_problem
from byte_testing.processes import free_port
from svix.webhooks import Webhook

STAND_IN = Path(__file__).with_name("upstream_app.py")


def _auth(clerk_issuer, org_id: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {clerk_issuer.token(org_id)}"}


def _wait_until(check, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"{what}: not within {timeout}s"
        time.sleep(0.1)


@pytest.fixture(scope="module")
def stand_in(logs_dir: Path) -> Iterator[str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = (logs_dir / f"stand-in-{port}.log").open("ab")
    proc = subprocess.Popen(
        [sys.executable, str(STAND_IN), str(port)], stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )

    def up() -> bool:
        assert proc.poll() is None, f"the stand-in service exited; see {log.name}"
        with contextlib.suppress(httpx.HTTPError):
            return httpx.get(f"{url}/healthz").status_code == 200
        return False

    _wait_until(up, "the stand-in service")
    yield url
    proc.terminate()
    proc.wait(10)


@pytest.fixture(scope="module")
def stand_in_gateway(start_gateway, stand_in):
    return start_gateway(SERVICE_URLS_JSON=json.dumps({"contacts": stand_in}))


async def test_an_unhandled_error_does_not_fail_the_requests_after_it(stand_in_gateway, clerk_issuer, org_id):
    """The service answers a 500 and closes that connection; the writes right behind it, one by
    one and many at once, all go through, each applied exactly once."""
    async with httpx.AsyncClient(base_url=stand_in_gateway.url, headers=_auth(clerk_issuer, org_id), timeout=30) as c:
        applied_before = (await c.get("/v1/contacts/writes")).json()["applied"]
        statuses: Counter[int] = Counter()
        for _ in range(10):
            assert_problem(await c.post("/v1/contacts/boom"), 500)
            for _ in range(10):
                statuses[(await c.post("/v1/contacts")).status_code] += 1
            assert_problem(await c.post("/v1/contacts/boom"), 500)
            statuses.update(r.status_code for r in await asyncio.gather(*(c.post("/v1/contacts") for _ in range(10))))
            assert_problem(await c.post("/v1/contacts/boom"), 500)
            r = await c.get("/v1/contacts/writes")
            statuses[r.status_code] += 1
        assert statuses == {201: 200, 200: 10}
        applied = (await c.get("/v1/contacts/writes")).json()["applied"]
    assert applied - applied_before == 200


async def test_a_body_cut_off_midway_is_an_incomplete_transfer(stand_in_gateway, clerk_issuer, org_id):
    async with httpx.AsyncClient(base_url=stand_in_gateway.url, headers=_auth(clerk_issuer, org_id), timeout=30) as c:
        whole = await c.get("/v1/contacts/export", params={"rows": 2000})
        assert whole.status_code == 200 and whole.text.splitlines()[-1] == "1999,contact 1999"

        async with c.stream("GET", "/v1/contacts/export", params={"rows": 2000, "cut": "true"}) as r:
            assert r.status_code == 200  # the status was out before the service broke down
            received = bytearray()
            with pytest.raises(httpx.RemoteProtocolError):  # ... so the transfer itself says so
                async for chunk in r.aiter_raw():
                    received += chunk
        assert b"\r\n1000,contact 1000" not in received
        assert (await c.get("/v1/contacts/writes")).status_code == 200  # the gateway serves on

    # On the wire: a chunked body without its terminating chunk, then the connection closed.
    reader, writer = await asyncio.open_connection("127.0.0.1", stand_in_gateway.port)
    token = _auth(clerk_issuer, org_id)["Authorization"]
    writer.write(
        f"GET /v1/contacts/export?rows=2000&cut=true HTTP/1.1\r\nHost: gateway\r\n"
        f"Authorization: {token}\r\n\r\n".encode()
    )
    await writer.drain()
    raw = await reader.read()  # to EOF: the gateway closes the connection
    writer.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200") and b"transfer-encoding: chunked" in head.lower()
    assert not body.endswith(b"0\r\n\r\n")


class HangingUpUpstream:
    """A bare HTTP/1.1 server that records every request it reads, then, by path:
    `/v1/contacts/drop/...` hangs up without a byte of answer; `/v1/contacts/once/...` hangs up
    on the first request for that path and answers the next; `/v1/contacts/closing/...`
    answers, then closes the connection (an idle keep-alive closed by the service);
    `/v1/contacts/short/...` declares a Content-Length and dies halfway through it; anything
    else is answered on a kept-alive connection."""

    def __init__(self) -> None:
        self.arrivals: list[tuple[str, str]] = []
        self.server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"

    def methods(self, path: str) -> list[str]:
        return [method for method, p in self.arrivals if p == path]

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                method, path, _ = head.split(b"\r\n", 1)[0].decode().split(" ")
                length = next(
                    (
                        int(line.split(b":", 1)[1])
                        for line in head.split(b"\r\n")
                        if line.lower().startswith(b"content-length:")
                    ),
                    0,
                )
                await reader.readexactly(length)
                self.arrivals.append((method, path))
                if path.startswith("/v1/contacts/drop/") or (
                    path.startswith("/v1/contacts/once/") and len(self.methods(path)) == 1
                ):
                    return
                if path.startswith("/v1/contacts/short/"):
                    writer.write(
                        b"HTTP/1.1 200 OK\r\nContent-Type: text/csv\r\nContent-Length: 2000\r\n\r\n" + b"n\r\n" * 250
                    )
                    await writer.drain()
                    return
                body = json.dumps({"method": method, "path": path}).encode()
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
                )
                await writer.drain()
                if path.startswith("/v1/contacts/closing/"):
                    return
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


@pytest.fixture(scope="module")
async def hanging_up() -> AsyncIterator[HangingUpUpstream]:
    upstream = HangingUpUpstream()
    upstream.server = await asyncio.start_server(upstream.serve, "127.0.0.1", 0)
    yield upstream
    upstream.server.close()


@pytest.fixture(scope="module")
def hanging_up_gateway(start_gateway, hanging_up):
    return start_gateway(SERVICE_URLS_JSON=json.dumps({"contacts": hanging_up.url}))


async def test_a_body_short_of_its_content_length_is_an_incomplete_transfer(hanging_up_gateway, clerk_issuer, org_id):
    async with (
        httpx.AsyncClient(base_url=hanging_up_gateway.url, headers=_auth(clerk_issuer, org_id)) as c,
        c.stream("GET", f"/v1/contacts/short/{uuid.uuid4().hex}") as r,
    ):
        assert r.status_code == 200 and r.headers["content-length"] == "2000"
        with pytest.raises(httpx.RemoteProtocolError):
            await r.aread()


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
async def test_an_idempotent_request_is_sent_once_more_on_a_fresh_connection(
    method, hanging_up_gateway, hanging_up, clerk_issuer, org_id
):
    key = uuid.uuid4().hex
    async with httpx.AsyncClient(base_url=hanging_up_gateway.url, headers=_auth(clerk_issuer, org_id)) as c:
        r = await c.request(method, f"/v1/contacts/once/{key}")
        assert r.status_code == 200, r.text
        assert hanging_up.methods(f"/v1/contacts/once/{key}") == [method, method]
        # once more, not again and again
        assert_problem(await c.request(method, f"/v1/contacts/drop/{key}"), 502, contains="contacts")
        assert hanging_up.methods(f"/v1/contacts/drop/{key}") == [method, method]


@pytest.mark.parametrize("method", ["POST", "PATCH"])
async def test_a_write_the_service_may_have_applied_is_not_sent_twice(
    method, hanging_up_gateway, hanging_up, clerk_issuer, org_id
):
    key = uuid.uuid4().hex
    async with httpx.AsyncClient(base_url=hanging_up_gateway.url, headers=_auth(clerk_issuer, org_id)) as c:
        r = await c.request(method, f"/v1/contacts/drop/{key}", json={"first_name": "Once"})
        assert_problem(r, 502, contains="may or may not have been applied")
    assert hanging_up.methods(f"/v1/contacts/drop/{key}") == [method]


async def test_a_connection_the_service_closed_is_not_written_to(hanging_up_gateway, hanging_up, clerk_issuer, org_id):
    """The service closes a kept-alive connection right after answering; the write behind it
    goes out on another connection, and once."""
    async with httpx.AsyncClient(base_url=hanging_up_gateway.url, headers=_auth(clerk_issuer, org_id)) as c:
        for _ in range(20):
            key = uuid.uuid4().hex
            assert (await c.get(f"/v1/contacts/closing/{key}")).status_code == 200
            r = await c.post(f"/v1/contacts/write/{key}", json={})
            assert r.status_code == 200, r.text
            assert hanging_up.methods(f"/v1/contacts/write/{key}") == ["POST"]


@contextlib.asynccontextmanager
async def tcp_relay(port: int, to: str) -> AsyncIterator[None]:
    """Listens on `port` and pipes every connection to `to` (host:port): Kafka coming back."""
    host, to_port = to.rsplit(":", 1)

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()

    async def relay(client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        server_reader, server_writer = await asyncio.open_connection(host, int(to_port))
        await asyncio.gather(pipe(client_reader, server_writer), pipe(server_reader, client_writer))

    server = await asyncio.start_server(relay, "127.0.0.1", port)
    try:
        yield
    finally:
        server.close()


async def test_ready_without_kafka_and_publishes_once_it_is_reachable(
    start_gateway, fresh_database, stack, webhook_secret, event_tap, clerk_issuer, org_id
):
    kafka_port = free_port()  # nothing listens there yet
    # a database of its own: no other gateway's relay publishes its outbox for it
    gateway = start_gateway(database_url=fresh_database("gateway"), KAFKA_BOOTSTRAP_SERVERS=f"127.0.0.1:{kafka_port}")
    try:
        async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as c:
            ready = await c.get("/readyz")
            assert ready.status_code == 200, ready.text
            assert ready.json()["status"] == "degraded" and ready.json()["degraded"] == ["broker"]
            assert (await c.get("/v1/contacts", headers=_auth(clerk_issuer, org_id))).status_code == 200
            # a webhook is taken in; its identity event waits in the outbox
            svix_id, at = f"msg_{uuid.uuid4().hex}", datetime.now(UTC)
            body = json.dumps(
                {
                    "type": "organizationMembership.created",
                    "object": "event",
                    "data": {
                        "id": f"orgmem_{uuid.uuid4().hex[:10]}",
                        "object": "organization_membership",
                        "role": "org:member",
                        "organization": {"id": org_id, "name": "Sheriff", "slug": "sheriff"},
                        "public_user_data": {
                            "user_id": "user_kafkaless",
                            "first_name": "Kay",
                            "last_name": "Less",
                            "identifier": "kay@example.com",
                        },
                        "created_at": 1_000,
                        "updated_at": 1_000,
                    },
                }
            )
            r = await c.post(
                "/webhooks/clerk",
                content=body,
                headers={
                    "svix-id": svix_id,
                    "svix-timestamp": str(int(at.timestamp())),
                    "svix-signature": Webhook(webhook_secret).sign(svix_id, at, body),
                    "content-type": "application/json",
                },
            )
            assert r.json() == {"status": "processed"}, r.text

            async with event_tap("identity") as tap, tcp_relay(kafka_port, stack["kafka_bootstrap_servers"]):
                found = await tap.collect(lambda e: e.org_id == org_id, count=1, timeout=120)
                assert [e.type for e, _, _ in found] == ["identity.membership.created"]
                deadline = time.monotonic() + 60
                while (ready := await c.get("/readyz")).json()["status"] != "ok":
                    assert time.monotonic() < deadline, ready.text
                    await asyncio.sleep(0.2)
    finally:
        assert gateway.stop() in (0, -15)  # uvicorn re-raises the SIGTERM it handled; not killed
