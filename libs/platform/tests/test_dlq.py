"""`byte-dlq replay` against the real broker and database: a refused message is dead-lettered,
the cause is fixed, the replay applies it once, and replaying again changes nothing."""

import asyncio
import os
import sys
import uuid
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from aiokafka import AIOKafkaConsumer, TopicPartition
from byte_contracts import Envelope, new_event, topics
from byte_contracts.contacts import ContactDeleted
from byte_contracts.errors import Conflict
from byte_platform.broker import ensure_topics, make_broker
from byte_platform.consumers import subscribe
from byte_platform.db import Database
from byte_platform.dlq import replay
from byte_platform.inbox import first_time, inbox_table
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


async def wait_for(predicate, timeout=30.0):
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        if result := await predicate():
            return result
        await asyncio.sleep(0.1)
    raise TimeoutError


async def end_offsets(bootstrap: str, topic: str) -> dict[int, int]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        cluster = await consumer._client.fetch_all_metadata()
        parts = [TopicPartition(topic, p) for p in cluster.partitions_for_topic(topic)]
        return {tp.partition: offset for tp, offset in (await consumer.end_offsets(parts)).items()}
    finally:
        await consumer.stop()


async def test_replay_applies_a_fixed_dead_letter_once_and_a_second_replay_changes_nothing(
    stack, fresh_database, org_id
):
    topic = f"test.dlq.{uuid.uuid4().hex[:8]}"
    group = f"test-{uuid.uuid4().hex[:6]}"
    bootstrap = stack["kafka_bootstrap_servers"]
    await ensure_topics(bootstrap, [topic, topics.dead_letter(topic)])
    db = Database(fresh_database("contacts"), pool_size=2, max_overflow=0)
    metadata = sa.MetaData()
    processed = inbox_table(metadata)
    effects = sa.Table("effects", metadata, sa.Column("event_id", sa.Uuid))
    async with db.engine.begin() as conn:
        await conn.run_sync(metadata.create_all)

    # the member this event needs does not exist until the "fix"
    needs_member, fine, later = event(org_id), event(org_id), event(org_id)
    member_exists = False

    async def handle(envelope: Envelope) -> None:
        async with db.unscoped() as session:
            if not await first_time(session, processed, group, str(envelope.id)):
                return
            if envelope.id == needs_member.id and not member_exists:
                raise Conflict("no such member")
            await session.execute(sa.insert(effects).values(event_id=envelope.id))

    async def applied() -> list[uuid.UUID]:
        async with db.unscoped() as session:
            return sorted((await session.execute(sa.select(effects.c.event_id))).scalars().all())

    broker = make_broker(bootstrap, client_id="test")
    subscribe(broker, topic, group_id=group, handler=handle)
    async with EventTap(bootstrap, topics.dead_letter(topic)) as dlq:
        await broker.start()
        try:
            for e in (fine, needs_member, needs_member):  # dead-lettered twice: published twice
                await broker.publish(e.to_bytes(), topic=topic, key=e.subject.encode(), headers={"event_id": str(e.id)})
            # another group's dead letter on the same DLQ: not ours to replay
            await broker.publish(
                later.to_bytes(),
                topic=topics.dead_letter(topic),
                key=b"k",
                headers={"dlq_group": "someone.else", "dlq_reason": "refused"},
            )
            dead = await dlq.records(count=3)
            assert sorted(dict(r.headers)["dlq_group"].decode() for r in dead) == sorted([group, group, "someone.else"])
            assert await wait_for(applied) == [fine.id]

            before = await end_offsets(bootstrap, topic)
            preview = await replay(bootstrap, topic, group=group, dry_run=True)
            assert [d.event_id for d in preview.replayed] == [str(needs_member.id)]
            assert [d.event_id for d in preview.duplicates] == [str(needs_member.id)]
            assert not (await replay(bootstrap, topic, group=group, ids=[fine.id], dry_run=True)).replayed
            gone_by = datetime.now(UTC) - timedelta(hours=1)
            assert not (await replay(bootstrap, topic, group=group, until=gone_by, dry_run=True)).replayed
            assert await end_offsets(bootstrap, topic) == before  # a dry run publishes nothing

            member_exists = True  # the fix
            async with EventTap(bootstrap, topic) as original:
                report = await replay(bootstrap, f"{topic}.dlq", group=group, since=gone_by)
                assert [d.event_id for d in report.replayed] == [str(needs_member.id)]
                assert len(report.duplicates) == 1 and not report.already_replayed
                [republished] = await original.records(count=1)
            assert republished.value == needs_member.to_bytes()
            assert republished.key == needs_member.subject.encode()
            assert dict(republished.headers)["event_id"] == str(needs_member.id).encode()
            assert not [k for k, _ in republished.headers if k.startswith("dlq_")]
            assert await wait_for(lambda: _has(applied, needs_member.id)) == sorted([fine.id, needs_member.id])

            # again, as an operator would run it: nothing is published, nothing changes
            after_first = await end_offsets(bootstrap, topic)
            env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": bootstrap}
            cli = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "byte_platform.dlq",
                "replay",
                "--topic",
                topic,
                "--group",
                group,
                env=env,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
            out, err = (x.decode() for x in await asyncio.wait_for(cli.communicate(), 120))
            assert cli.returncode == 0, err
            assert "replayed 0, already replayed 2, duplicates 0" in err
            assert out.count("already replayed: ") == 2
            assert await end_offsets(bootstrap, topic) == after_first
            assert await applied() == sorted([fine.id, needs_member.id])
        finally:
            await broker.stop()
            await db.dispose()


async def _has(applied, event_id):
    rows = await applied()
    return rows if event_id in rows else None
