"""The contacts service when things fail: an unhandled error or an unreachable database is a
problem+json answer that leaves the connection usable and is logged with the request's
correlation id; Kafka unreachable at startup leaves the service serving, degraded, until it
connects."""

import asyncio
import contextlib
import io
import json
import logging

import httpx
import pytest
import uvicorn
from byte_contacts.main import create_app
from byte_contacts.settings import ContactsSettings
from byte_contracts import topics
from byte_platform.db import Database
from byte_platform.identity import HEADER
from byte_platform.logging import configure_logging
from byte_testing.http import assert_problem
from byte_testing.processes import free_port


@contextlib.asynccontextmanager
async def served(app):
    """`app` behind a real uvicorn (keep-alive and all) on a free port, in this process."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False))
    task = asyncio.create_task(server.serve())
    while not server.started:
        assert not task.done(), "uvicorn did not start"
        await asyncio.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@pytest.fixture
def json_logs():
    """The services' log configuration, writing to a buffer; restored afterwards."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    buffer = io.StringIO()
    configure_logging("contacts")
    root.handlers[0].setStream(buffer)
    yield lambda: [json.loads(line) for line in buffer.getvalue().splitlines()]
    root.handlers[:], level = saved
    root.setLevel(level)


def local_port(response: httpx.Response) -> int:
    """The client side of the connection that carried `response`."""
    return response.extensions["network_stream"].get_extra_info("client_addr")[1]


async def test_errors_are_answered_without_dropping_the_connection(stack, contacts_db, make_token, org_id, json_logs):
    settings = ContactsSettings(
        database_url=contacts_db,
        kafka_bootstrap_servers=stack["kafka_bootstrap_servers"],
        identity_public_key_file=stack["identity_public_key_file"],
        consumers_enabled=False,
    )
    app = create_app(settings)
    unreachable = Database(f"postgresql+asyncpg://nobody:x@127.0.0.1:{free_port()}/nothing", pool_size=1)

    # test-only routes: a bug, and a database that does not answer
    @app.get("/v1/test/bug")
    async def bug() -> None:
        raise RuntimeError("a bug")

    @app.get("/v1/test/database-down")
    async def database_down() -> None:
        await unreachable.ping()

    async with served(app) as url:  # uvicorn runs the app's lifespan: the runtime starts and stops
        headers = {HEADER: make_token(org_id)}
        # one connection for every request: the pool must reuse it after each error
        async with httpx.AsyncClient(base_url=url, headers=headers, limits=httpx.Limits(max_connections=1)) as api:
            first = await api.post("/v1/contacts", json={"first_name": "Before"})
            assert first.status_code == 201

            failed = await api.get("/v1/test/bug", headers={"X-Request-ID": "req-bug-1"})
            assert_problem(failed, 500)
            assert failed.headers["x-request-id"] == "req-bug-1"
            assert "retry-after" not in failed.headers

            after = await api.post("/v1/contacts", json={"first_name": "After"})
            assert after.status_code == 201
            assert local_port(after) == local_port(failed) == local_port(first)

            unavailable = await api.get("/v1/test/database-down", headers={"X-Request-ID": "req-db-1"})
            body = assert_problem(unavailable, 503)
            assert unavailable.headers["retry-after"] == str(body["retry_after"]) and int(body["retry_after"]) > 0
            assert unavailable.headers["x-request-id"] == "req-db-1"
            assert "nobody" not in unavailable.text  # the cause is logged, not told

            listed = await api.get("/v1/contacts")
            assert [c["first_name"] for c in listed.json()["items"]] == ["After", "Before"]
            assert local_port(listed) == local_port(unavailable) == local_port(first)
    await unreachable.dispose()

    logs = [x for x in json_logs() if x["logger"] != "httpx"]  # the test's own client logs its requests
    [bug_line] = [x for x in logs if x["level"] == "ERROR" and "/v1/test/bug" in x["message"]]
    assert bug_line["correlation_id"] == "req-bug-1" and "RuntimeError: a bug" in bug_line["exc_info"]
    [db_line] = [x for x in logs if "/v1/test/database-down" in x["message"]]
    assert db_line["level"] == "WARNING" and db_line["correlation_id"] == "req-db-1"
    assert not [x for x in logs if "Exception in ASGI application" in x["message"]]


async def test_a_service_starts_and_takes_writes_while_kafka_is_unreachable(
    start_service, fresh_database, make_token, event_tap, org_id, stack
):
    # The service's Kafka address is a port nobody listens on, until the test forwards it to the
    # real broker: Kafka "comes back" without disturbing the shared one.
    port = free_port()
    service = start_service(
        "contacts",
        database_url=fresh_database("contacts"),
        kafka_bootstrap_servers=f"127.0.0.1:{port}",
        kafka_connect_timeout_seconds="2",
        consumers_enabled="false",
    )  # the shared topics' history belongs to other tests
    async with (
        event_tap(topics.CONTACTS) as tap,
        httpx.AsyncClient(base_url=service.url, headers={HEADER: make_token(org_id)}, timeout=30) as api,
    ):
        ready = await api.get("/readyz")
        assert ready.status_code == 200
        assert ready.json()["status"] == "degraded" and ready.json()["degraded"] == ["broker"]
        assert ready.json()["checks"]["database"] == "ok"

        created = await api.post("/v1/contacts", json={"first_name": "Buffered"})
        assert created.status_code == 201  # the outbox keeps its event until Kafka answers

        host, kafka_port = stack["kafka_bootstrap_servers"].split(",")[0].rsplit(":", 1)
        async with forwarding(port, host, int(kafka_port)):
            events = await tap.collect(lambda e: e.org_id == org_id, count=1, timeout=90)
            assert [e.data["contact"]["first_name"] for e, _, _ in events] == ["Buffered"]
            assert (await api.get("/readyz")).json()["status"] == "ok"


@contextlib.asynccontextmanager
async def forwarding(port: int, host: str, target_port: int):
    """A TCP forwarder from 127.0.0.1:`port` to host:target_port, for as long as the block runs."""

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    async def forward(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection(host, target_port)
        await asyncio.gather(pipe(reader, upstream_writer), pipe(upstream_reader, writer))

    server = await asyncio.start_server(forward, "127.0.0.1", port)
    try:
        yield
    finally:
        server.close()
