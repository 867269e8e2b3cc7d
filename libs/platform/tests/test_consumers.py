"""Consumers against the real broker and database: duplicates are no-ops, poison goes to the DLQ."""

import uuid

import sqlalchemy as sa
from byte_contracts import Envelope, new_event, topics
from byte_contracts.contacts import ContactDeleted
from byte_platform.broker import ensure_topics, make_broker
from byte_platform.consumers import subscribe
from byte_platform.db import Database
from byte_platform.inbox import first_time, inbox_table, prune
from byte_testing import eventually
from byte_testing.events import EventTap


def event(org_id: str) -> Envelope:
    contact_id = uuid.uuid4()
    return new_event(
        "contact.deleted",
        org_id=org_id,
        subject=str(contact_id),
        actor="system:test",
        data=ContactDeleted(contact_id=contact_id),
    )


async def test_redelivered_events_change_nothing_and_poison_is_dead_lettered(stack, fresh_database, org_id):
    topic = f"test.consumer.{uuid.uuid4().hex[:8]}"
    bootstrap = stack["kafka_bootstrap_servers"]
    await ensure_topics(bootstrap, [topic, topics.dead_letter(topic)])
    db = Database(fresh_database("contacts"), pool_size=2, max_overflow=0)
    metadata = sa.MetaData()
    processed = inbox_table(metadata)
    effects = sa.Table(
        "effects", metadata, sa.Column("event_id", sa.Uuid, primary_key=False), sa.Column("attempt", sa.Integer)
    )
    async with db.engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    attempts: dict[uuid.UUID, int] = {}
    always_fails = event(org_id)

    async def handle(envelope: Envelope) -> None:
        attempts[envelope.id] = attempts.get(envelope.id, 0) + 1
        if envelope.id == always_fails.id:
            raise RuntimeError("this one never works")
        async with db.unscoped() as session:
            if not await first_time(session, processed, "test-consumer", str(envelope.id)):
                return
            await session.execute(sa.insert(effects).values(event_id=envelope.id, attempt=attempts[envelope.id]))

    broker = make_broker(bootstrap, client_id="test")
    subscribe(broker, topic, group_id=f"test-{uuid.uuid4().hex[:6]}", handler=handle, retry_delays=(0.05, 0.05))
    first, second = event(org_id), event(org_id)
    async with EventTap(bootstrap, topics.dead_letter(topic)) as dlq:
        await broker.start()
        try:
            for e in (first, first, second, first):
                await broker.publish(e.to_bytes(), topic=topic, key=e.subject.encode())
            await broker.publish(b"{not an envelope", topic=topic, key=b"x")
            await broker.publish(always_fails.to_bytes(), topic=topic, key=b"y")
            last = event(org_id)
            await broker.publish(last.to_bytes(), topic=topic, key=last.subject.encode())

            async def all_applied():
                async with db.unscoped() as session:
                    return await session.scalar(sa.select(sa.func.count()).select_from(effects)) == 3

            await eventually(all_applied, timeout=20)
            async with db.unscoped() as session:
                rows = (await session.execute(sa.select(effects.c.event_id))).scalars().all()
            assert sorted(map(str, rows)) == sorted(str(e.id) for e in (first, second, last))

            dead = await dlq.records(count=2)
            assert len(dead) == 2

            # Polled, not asserted at once: `last` may sit on another partition and be applied
            # before the other messages have been handled their last time.
            async def all_attempted():
                return attempts.get(first.id) == 3 and attempts.get(always_fails.id) == 3

            await eventually(all_attempted, timeout=20)
            assert b"{not an envelope" in [r.value for r in dead]
            errors = sorted(dict(r.headers)["dlq_error"].decode() for r in dead)
            assert errors[0].startswith("Traceback") and "this one never works" in errors[0]
            assert errors[1].startswith("invalid envelope")
        finally:
            await broker.stop()
            await db.dispose()


async def test_inbox_forgets_only_ids_older_than_the_retention(fresh_database):
    from datetime import UTC, datetime, timedelta

    db = Database(fresh_database("contacts"), pool_size=1, max_overflow=0)
    table = inbox_table(sa.MetaData())
    try:
        async with db.engine.begin() as conn:
            await conn.run_sync(table.metadata.create_all)
        old, recent = uuid.uuid4(), uuid.uuid4()
        async with db.unscoped() as session:
            await session.execute(
                sa.insert(table),
                [
                    {"consumer": "c", "message_id": str(old), "processed_at": datetime.now(UTC) - timedelta(days=31)},
                    {
                        "consumer": "c",
                        "message_id": str(recent),
                        "processed_at": datetime.now(UTC) - timedelta(days=29),
                    },
                ],
            )
        async with db.unscoped() as session:
            assert await prune(session, table, timedelta(days=30)) == 1
        async with db.unscoped() as session:
            assert (await session.execute(sa.select(table.c.message_id))).scalars().all() == [str(recent)]
    finally:
        await db.dispose()


async def test_a_new_group_told_to_start_at_the_end_skips_the_history_and_misses_nothing_after(stack, org_id):
    """`CONSUMER_NEW_GROUPS_START=end` (test processes on the shared broker): a new group reads
    only what is published once the runtime has started, and after a restart it resumes where it
    stopped (its committed offsets), not at the end again."""
    from byte_platform.runtime import Runtime
    from byte_platform.settings import ServiceSettings

    topic = f"test.consumer.{uuid.uuid4().hex[:8]}"
    bootstrap = stack["kafka_bootstrap_servers"]
    await ensure_topics(bootstrap, [topic, topics.dead_letter(topic)])
    publisher = make_broker(bootstrap, client_id="test")
    await publisher.start()
    seen: list[uuid.UUID] = []

    async def handle(envelope: Envelope) -> None:
        seen.append(envelope.id)

    def runtime() -> Runtime:
        rt = Runtime(ServiceSettings(kafka_bootstrap_servers=bootstrap, consumer_new_groups_start="end"))
        broker = rt.broker([topic])
        subscribe(broker, topic, group_id=group, handler=handle)
        return rt

    async def send(e: Envelope) -> None:
        await publisher.publish(e.to_bytes(), topic=topic, key=e.subject.encode())

    group = f"test-end-{uuid.uuid4().hex[:6]}"
    try:
        history = [event(org_id) for _ in range(3)]
        for e in history:
            await send(e)
        async with runtime():
            fresh = event(org_id)
            await send(fresh)

            async def fresh_seen():
                return fresh.id in seen

            await eventually(fresh_seen, timeout=30)
        while_stopped = event(org_id)
        await send(while_stopped)
        async with runtime():

            async def resumed():
                return while_stopped.id in seen

            await eventually(resumed, timeout=30)
        assert not set(seen) & {e.id for e in history}
        assert seen.count(fresh.id) == 1
    finally:
        await publisher.stop()
