"""Events on the real broker: envelope and payload, delivery after a crash, no duplicates."""

import asyncio
import uuid

import psycopg
import sqlalchemy as sa
from byte_contracts import Envelope, topics
from byte_contracts.contacts import (
    ContactCreated,
    ContactDeleted,
    ContactUpdated,
    ContactUpserted,
)
from byte_testing import eventually


def in_org(org_id):
    return lambda e: e.org_id == org_id


async def outbox_drained(database_url: str, timeout: float = 20) -> None:
    """Waits until the relay has marked every outbox row sent (not just published)."""
    dsn = sa.make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:

        async def nothing_pending() -> bool:
            pending = (await (await conn.execute("SELECT count(*) FROM outbox WHERE published_at IS NULL")).fetchone())[
                0
            ]
            assert pending == 0, f"{pending} outbox rows not marked sent"
            return True

        await eventually(nothing_pending, timeout=timeout)


async def test_every_change_emits_its_event_with_envelope_and_payload(client, event_tap, org_id):
    async with event_tap(topics.CONTACTS) as tap, client(user_id="user_ann") as api:
        created = (
            await api.post(
                "/v1/contacts",
                json={"first_name": "Ev", "email": "ev@example.com"},
                headers={"X-Request-ID": "corr-123"},
            )
        ).json()
        await api.patch(f"/v1/contacts/{created['id']}", json={"city": "Peachtree City"})
        await api.patch(f"/v1/contacts/{created['id']}", json={"city": "Peachtree City"})  # no change, no event
        await api.post(
            "/v1/contacts/upsert", json={"first_name": "Ev", "email": "ev@example.com", "submission_id": "fs-1"}
        )
        await api.delete(f"/v1/contacts/{created['id']}")
        events = await tap.collect(in_org(org_id), count=4, settle=2)

    types = [e.type for e, _, _ in events]
    assert types == ["contact.created", "contact.updated", "contact.upserted", "contact.deleted"]
    for envelope, headers, key in events:
        assert isinstance(envelope, Envelope)
        assert key == created["id"].encode()
        assert envelope.subject == created["id"]
        assert envelope.actor == "user_ann"
        assert envelope.version == 1
        assert envelope.occurred_at.tzinfo is not None
        assert headers["event_type"] == envelope.type.encode()
        assert headers["event_id"] == str(envelope.id).encode()
    assert events[0][0].correlation_id == "corr-123"
    assert len({e.id for e, _, _ in events}) == 4

    made = ContactCreated.model_validate(events[0][0].data)
    assert made.contact.email == "ev@example.com" and str(made.contact.id) == created["id"]
    changed = ContactUpdated.model_validate(events[1][0].data)
    assert changed.changed_fields == ["city"] and changed.contact.city == "Peachtree City"
    upserted = ContactUpserted.model_validate(events[2][0].data)
    assert upserted.created is False and upserted.submission_id == "fs-1"
    assert ContactDeleted.model_validate(events[3][0].data).contact_id == uuid.UUID(created["id"])


async def test_events_committed_before_a_crash_are_published_after_restart(
    fresh_database, start_service, event_tap, client, org_id
):
    """The service commits rows and outbox entries but is SIGKILLed before its relay runs;
    the restarted service publishes every one of them, each exactly once."""
    db = fresh_database("contacts")
    service = start_service("contacts", database_url=db, outbox_relay_enabled="false")
    async with event_tap(topics.CONTACTS) as tap:
        async with client(service=service) as api:
            ids = [(await api.post("/v1/contacts", json={"first_name": f"K{i}"})).json()["id"] for i in range(25)]
        assert await tap.collect(in_org(org_id), timeout=2) == []
        service.kill()

        service.start(outbox_relay_enabled="true")
        events = await tap.collect(in_org(org_id), count=25, settle=3)
    assert sorted(e.subject for e, _, _ in events) == sorted(ids)
    assert len({e.id for e, _, _ in events}) == 25


async def test_relay_publishes_nothing_twice_across_restarts(fresh_database, start_service, event_tap, client, org_id):
    db = fresh_database("contacts")
    service = start_service("contacts", database_url=db)
    async with event_tap(topics.CONTACTS) as tap:
        async with client(service=service) as api:
            await asyncio.gather(*[api.post("/v1/contacts", json={"first_name": f"R{i}"}) for i in range(30)])
        first = await tap.collect(in_org(org_id), count=30, timeout=20)
        assert len(first) == 30
        # Killed once every row is marked sent. (Killed between the broker's ack and the mark,
        # the restarted relay would send those rows again under the same envelope ids, which
        # consumers drop: docs/adr/0003-outbox.md.)
        await outbox_drained(db)
        service.kill()
        service.start()
        service.stop()  # graceful: flushes nothing, because nothing is pending
        service.start()
        async with client(service=service) as api:
            await api.post("/v1/contacts", json={"first_name": "After"})
        rest = await tap.collect(in_org(org_id), count=1, settle=4)
    assert [e.data["contact"]["first_name"] for e, _, _ in rest] == ["After"]


async def test_graceful_stop_flushes_pending_events(fresh_database, start_service, event_tap, client, org_id):
    db = fresh_database("contacts")
    # A relay that only polls once a minute: only the shutdown flush can publish in time.
    service = start_service("contacts", database_url=db, outbox_poll_seconds="60")
    async with event_tap(topics.CONTACTS) as tap:
        async with client(service=service) as api:
            await api.post("/v1/contacts", json={"first_name": "Flushed"})
        # uvicorn re-raises the SIGTERM once its graceful shutdown is done. Bounds on waiting,
        # not targets: under load a stop has taken more than the default 30 s before SIGKILL.
        assert service.stop(timeout=120) in (0, -15)
        events = await tap.collect(in_org(org_id), count=1, timeout=60)
    assert [e.data["contact"]["first_name"] for e, _, _ in events] == ["Flushed"]


async def test_sigterm_lets_an_in_flight_export_finish(fresh_database, start_service, client, org_id):
    db = fresh_database("contacts")
    dsn = sa.make_url(db).set(drivername="postgresql").render_as_string(hide_password=False)
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        await conn.execute("SELECT set_config('app.org_id', %s, false)", (org_id,))
        await conn.execute(
            "INSERT INTO contacts (id, org_id, first_name) SELECT gen_random_uuid(), %s, 'P' || i "
            "FROM generate_series(1, 30000) i",
            (org_id,),
        )
    service = start_service("contacts", database_url=db)
    async with client(service=service) as api, api.stream("GET", "/v1/contacts/export") as r:
        chunks = r.aiter_text()
        received = [await anext(chunks)]
        service.proc.send_signal(15)  # SIGTERM while the body is still streaming
        received += [chunk async for chunk in chunks]
    lines = "".join(received).strip().splitlines()
    assert len(lines) == 30002 and lines[-1] == "# rows=30000 complete"
    assert service.proc.wait(30) in (0, -15)
