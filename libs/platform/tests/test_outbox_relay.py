"""The outbox relay on the real PostgreSQL and Kafka.

Only the relay holding the advisory lock publishes; per key, events reach the topic in commit
order even when the leader dies mid-stream; every message is one outbox row's envelope, word for
word (a re-sent row keeps its id); a commit wakes the relay even while it backs off after a
failure; stopping flushes; a broker outage delays events, it does not lose them.

Each test has a fresh database, topic and lock name, so it contends with nothing else.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from datetime import datetime

import asyncpg
import pytest
import sqlalchemy as sa
from byte_contracts import Envelope, new_event
from byte_contracts.contacts import ContactDeleted
from byte_platform.broker import ensure_topics, make_broker
from byte_platform.db import Database
from byte_platform.outbox import (
    APPLICATION_NAME,
    CHANNEL,
    OutboxRelay,
    advisory_key,
    outbox_table,
)
from byte_testing import eventually
from byte_testing.events import EventTap
from faststream.kafka import KafkaBroker
from prometheus_client import REGISTRY

TABLE = outbox_table(sa.MetaData())


class OutboxUnderTest:
    """A fresh outbox database, topic and lock name, the relays started on them, and ways to
    look at what they did."""

    def __init__(self, database_url: str, bootstrap: str) -> None:
        self.database_url = database_url
        self.dsn = sa.make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)
        self.bootstrap = bootstrap
        self.topic = f"test.relay.{uuid.uuid4().hex[:8]}"
        self.lock_name = f"test-relay-{uuid.uuid4().hex[:8]}"
        self.lock_key = advisory_key(self.lock_name)
        self.org_id = f"org_{uuid.uuid4().hex[:12]}"
        self.db = Database(database_url, pool_size=4, max_overflow=0)
        self._relays: list[OutboxRelay] = []
        self._brokers: list[KafkaBroker] = []
        self._dbs: list[Database] = [self.db]

    def event(self, key: str) -> Envelope:
        return new_event(
            "contact.deleted",
            org_id=self.org_id,
            subject=key,
            actor="system:test",
            data=ContactDeleted(contact_id=uuid.UUID(key)),
        )

    async def write(self, *events: Envelope, notify: bool = True) -> None:
        """Commits outbox rows for this test's topic, as `Outbox.add` does for a service's."""
        async with self.db.unscoped() as session:
            await session.execute(
                sa.insert(TABLE),
                [
                    {"id": e.id, "topic": self.topic, "key": e.subject, "envelope": e.model_dump(mode="json")}
                    for e in events
                ],
            )
            if notify:
                await session.execute(sa.text(f"NOTIFY {CHANNEL}"))

    async def relay(self, *, bootstrap: str | None = None, **options: float) -> OutboxRelay:
        """A started relay with a broker and a connection pool of its own, as another replica."""
        broker = make_broker(bootstrap or self.bootstrap, client_id="test-outbox-relay")
        await broker.start()
        self._brokers.append(broker)
        db = Database(self.database_url, pool_size=2, max_overflow=0)
        self._dbs.append(db)
        relay = OutboxRelay(db, TABLE, broker, self.database_url, lock_name=self.lock_name, **options)
        await relay.start()
        self._relays.append(relay)
        return relay

    async def rows(self) -> list[sa.Row]:
        async with self.db.unscoped() as session:
            return list((await session.execute(sa.select(TABLE).order_by(TABLE.c.seq))).all())

    async def pending(self) -> int:
        async with self.db.unscoped() as session:
            return await session.scalar(
                sa.select(sa.func.count()).select_from(TABLE).where(TABLE.c.published_at.is_(None))
            )

    async def drained(self) -> bool:
        return await self.pending() == 0

    async def published(self, bootstrap: str | None = None) -> list:
        """Every record on the topic: call it once the producers are done."""
        async with EventTap(bootstrap or self.bootstrap, self.topic, from_beginning=True) as tap:
            return await tap.everything()

    @contextlib.asynccontextmanager
    async def sql(self) -> AsyncIterator[asyncpg.Connection]:
        """A connection of the test's own, as the service's role (it sees and may end the
        relays' backends)."""
        conn = await asyncpg.connect(self.dsn)
        try:
            yield conn
        finally:
            conn.terminate()

    async def now(self, conn: asyncpg.Connection) -> datetime:
        return await conn.fetchval("SELECT clock_timestamp()")

    async def relay_tried_the_lock_since(self, conn: asyncpg.Connection, since: datetime) -> bool:
        return await conn.fetchval(
            "SELECT count(*) > 0 FROM pg_stat_activity WHERE datname = current_database()"
            " AND application_name = $1 AND query LIKE '%pg_try_advisory_lock%' AND query_start > $2",
            APPLICATION_NAME,
            since,
        )

    async def cut_the_leaders_lock_connection(self, conn: asyncpg.Connection) -> None:
        """Ends the backend holding the lock, as when the leader's socket dies."""
        ended = await conn.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_locks"
            " WHERE locktype = 'advisory' AND granted AND objid::bigint = $1",
            self.lock_key,
        )
        assert ended == 1

    async def close(self) -> None:
        for relay in self._relays:
            await relay.stop(timeout=5)
        for broker in self._brokers:
            await broker.stop()
        for db in self._dbs:
            await db.dispose()


@pytest.fixture
async def outbox(stack, fresh_database) -> AsyncIterator[OutboxUnderTest]:
    under_test = OutboxUnderTest(fresh_database("contacts"), stack["kafka_bootstrap_servers"])
    await ensure_topics(under_test.bootstrap, [under_test.topic])
    try:
        yield under_test
    finally:
        await under_test.close()


def published_total(topic: str) -> float:
    return REGISTRY.get_sample_value("byte_outbox_published_total", {"topic": topic}) or 0.0


def failures_total() -> float:
    return REGISTRY.get_sample_value("byte_outbox_publish_failures_total") or 0.0


def first_deliveries(records: list, rows: list[sa.Row]) -> dict[str, list[uuid.UUID]]:
    """Checks that every record is one outbox row's envelope, byte for byte, under the row's
    key (so a row sent twice is the same message twice, never a new id), and that every row was
    published; returns, per key, the envelope ids in the order they first arrived."""
    by_id = {row.id: row for row in rows}
    firsts: dict[str, list[uuid.UUID]] = {}
    seen: set[uuid.UUID] = set()
    for record in records:
        envelope = Envelope.from_bytes(record.value)
        row = by_id.get(envelope.id)
        assert row is not None, f"{envelope.id} is no outbox row's id"
        assert record.value == Envelope.model_validate(row.envelope).to_bytes()
        assert record.key == row.key.encode()
        if envelope.id not in seen:
            seen.add(envelope.id)
            firsts.setdefault(row.key, []).append(envelope.id)
    assert seen == set(by_id), f"never published: {set(by_id) - seen}"
    return firsts


def in_seq_order(rows: list[sa.Row]) -> dict[str, list[uuid.UUID]]:
    order: dict[str, list[uuid.UUID]] = {}
    for row in sorted(rows, key=lambda r: r.seq):
        order.setdefault(row.key, []).append(row.id)
    return order


async def crash(relay: OutboxRelay, outbox: OutboxUnderTest, conn: asyncpg.Connection) -> None:
    """What a dead process leaves behind: its relay gone mid-whatever without a flush, and its
    lock connection cut."""
    task = relay._task
    assert task is not None
    task.cancel()
    await outbox.cut_the_leaders_lock_connection(conn)
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def test_per_key_order_holds_across_two_relays_and_the_leader_dying(outbox):
    first = await outbox.relay(batch_size=7, poll_seconds=0.2)
    await eventually(lambda: first.is_leader, what="the first relay leads")
    second = await outbox.relay(batch_size=7, poll_seconds=0.2)
    keys = [str(uuid.uuid4()) for _ in range(4)]
    committed: dict[str, list[uuid.UUID]] = {key: [] for key in keys}
    leader_dead = asyncio.Event()

    async def write_one_key(key: str) -> None:
        # One writer per key, one commit after the other: commit order is this list's order.
        for i in range(60):
            if i == 30:
                await leader_dead.wait()  # the second half is the new leader's to publish
            event = outbox.event(key)
            await outbox.write(event)
            committed[key].append(event.id)

    async def kill_the_leader_mid_stream() -> None:
        async def some_published() -> bool:
            async with outbox.db.unscoped() as session:
                return (
                    await session.scalar(
                        sa.select(sa.func.count()).select_from(TABLE).where(TABLE.c.published_at.is_not(None))
                    )
                    >= 20
                )

        await eventually(some_published, what="the first relay publishes")
        async with outbox.sql() as conn:
            await crash(first, outbox, conn)
        leader_dead.set()

    await asyncio.gather(*map(write_one_key, keys), kill_the_leader_mid_stream())
    await eventually(lambda: second.is_leader, what="the second relay takes over")
    assert not first.is_leader
    await eventually(outbox.drained, what="every row is marked sent")
    await second.stop()
    for broker in outbox._brokers:  # whatever the dead relay's producer still had goes out now
        await broker.stop()

    rows = await outbox.rows()
    firsts = first_deliveries(await outbox.published(), rows)
    assert firsts == committed
    assert firsts == in_seq_order(rows)


async def test_a_relay_that_never_gets_the_lock_publishes_nothing_even_when_stopped(outbox):
    events = [outbox.event(str(uuid.uuid4())) for _ in range(5)]
    async with outbox.sql() as holder:
        await holder.execute("SELECT pg_advisory_lock($1)", outbox.lock_key)  # a leader elsewhere
        await outbox.write(*events)
        since = await outbox.now(holder)
        follower = await outbox.relay(poll_seconds=0.1)
        await eventually(lambda: outbox.relay_tried_the_lock_since(holder, since), what="the relay tries the lock")
        assert not follower.is_leader

        await follower.stop()

        assert await outbox.pending() == len(events)
        assert published_total(outbox.topic) == 0
        for broker in outbox._brokers:
            await broker.stop()
        assert await outbox.published() == []

    # Once the lock is free, a relay publishes those very rows.
    await outbox.relay()
    await eventually(outbox.drained)
    first_deliveries(await outbox.published(), await outbox.rows())


async def test_a_leader_that_loses_its_lock_publishes_nothing_until_it_holds_it_again(outbox):
    relay = await outbox.relay(poll_seconds=0.1)
    await eventually(lambda: relay.is_leader)
    events = [outbox.event(str(uuid.uuid4())) for _ in range(5)]
    async with outbox.sql() as holder, outbox.sql() as admin:
        # Queued behind the relay, so the test, not the relay, gets the lock when it is freed.
        queued = asyncio.create_task(holder.execute("SELECT pg_advisory_lock($1)", outbox.lock_key))
        await eventually(
            lambda: admin.fetchval(
                "SELECT count(*) > 0 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND objid::bigint = $1",
                outbox.lock_key,
            ),
            what="the test waits for the lock",
        )
        await outbox.cut_the_leaders_lock_connection(admin)
        await queued

        await outbox.write(*events)
        since = await outbox.now(admin)
        await eventually(lambda: outbox.relay_tried_the_lock_since(admin, since), what="the relay competes again")
        assert not relay.is_leader
        assert await outbox.pending() == len(events)
        assert await outbox.published() == []

        released_at = await outbox.now(holder)
        await holder.execute("SELECT pg_advisory_unlock($1)", outbox.lock_key)
        await eventually(outbox.drained, what="the relay leads again and publishes")

    assert relay.is_leader
    rows = await outbox.rows()
    assert all(row.published_at >= released_at for row in rows)
    first_deliveries(await outbox.published(), rows)


async def test_stop_publishes_what_was_written_just_before(outbox):
    # Polling once in ten minutes and told of nothing: only the flush on stop can send these.
    relay = await outbox.relay(batch_size=10, poll_seconds=600)
    await eventually(lambda: relay.is_leader)
    events = [outbox.event(key) for key in [str(uuid.uuid4()) for _ in range(3)] for _ in range(12)]
    await outbox.write(*events, notify=False)

    await relay.stop()

    assert await outbox.pending() == 0
    rows = await outbox.rows()
    assert first_deliveries(await outbox.published(), rows) == in_seq_order(rows)


async def test_a_commit_during_a_publish_gets_a_pass_of_its_own(outbox):
    # Polling every ten minutes: the second event goes out within the minute `eventually`
    # allows only if the notification heard during the first pass is not forgotten.
    relay = await outbox.relay(poll_seconds=600)
    await eventually(lambda: relay.is_leader)
    first, second = outbox.event(str(uuid.uuid4())), outbox.event(str(uuid.uuid4()))
    await outbox.write(first, notify=False)
    async with outbox.sql() as holder, outbox.sql() as conn:
        # Holding the first row keeps the relay's next pass waiting in the middle.
        async with holder.transaction():
            await holder.execute("SELECT 1 FROM outbox WHERE id = $1 FOR UPDATE", first.id)
            await conn.execute(f"NOTIFY {CHANNEL}")
            await eventually(
                lambda: conn.fetchval(
                    "SELECT count(*) > 0 FROM pg_stat_activity WHERE datname = current_database()"
                    " AND wait_event_type = 'Lock' AND query LIKE '%FOR UPDATE%'"
                ),
                what="the relay's pass waits",
            )
            await outbox.write(second)  # committed, and notified, during that pass
        await eventually(
            lambda: conn.fetchval("SELECT published_at IS NOT NULL FROM outbox WHERE id = $1", first.id),
            what="the first pass ends",
        )

    await eventually(outbox.drained, timeout=60, what="another pass sends the second event")
    first_deliveries(await outbox.published(), await outbox.rows())


async def test_a_commit_wakes_the_relay_while_it_backs_off_after_a_failure(outbox):
    # Backing off and polling every ten minutes: if the event below arrives within the minute
    # `eventually` allows, the commit's notification woke the relay. (The one time bound in
    # these tests, ten times below the backoff it must cut short.)
    relay = await outbox.relay(poll_seconds=600, backoff_seconds=600, max_backoff_seconds=600)
    await eventually(lambda: relay.is_leader)
    failed_before = failures_total()
    async with outbox.sql() as conn:
        await conn.execute("ALTER TABLE outbox RENAME TO outbox_away")  # the next pass fails
        await conn.execute(f"NOTIFY {CHANNEL}")
        await eventually(lambda: failures_total() > failed_before, what="the relay fails and backs off")
        await conn.execute("ALTER TABLE outbox_away RENAME TO outbox")

    await outbox.write(outbox.event(str(uuid.uuid4())))

    await eventually(outbox.drained, timeout=60, what="the relay wakes at the commit")
    first_deliveries(await outbox.published(), await outbox.rows())


async def test_events_written_while_the_broker_is_down_arrive_once_it_is_back(own_kafka, outbox):
    await ensure_topics(own_kafka.bootstrap, [outbox.topic])
    relay = await outbox.relay(bootstrap=own_kafka.bootstrap, poll_seconds=0.2)
    await eventually(lambda: relay.is_leader)
    keys = [str(uuid.uuid4()) for _ in range(3)]
    await outbox.write(outbox.event(keys[0]))
    await eventually(outbox.drained, what="events flow before the outage")

    await own_kafka.stop()
    for key in keys * 5:
        await outbox.write(outbox.event(key))
    async with outbox.sql() as conn:
        # The relay holds a batch open while its producer retries the absent broker.
        await eventually(
            lambda: conn.fetchval(
                "SELECT count(*) > 0 FROM pg_stat_activity WHERE datname = current_database()"
                " AND state = 'idle in transaction' AND backend_xid IS NOT NULL"
            ),
            what="the relay is publishing",
        )
    assert await outbox.pending() > 0

    await own_kafka.start()
    await eventually(outbox.drained, timeout=120, what="the events written during the outage go out")
    assert relay.is_leader
    await outbox.write(outbox.event(keys[1]))
    await eventually(outbox.drained, what="and so do later ones")

    await relay.stop()
    rows = await outbox.rows()
    assert first_deliveries(await outbox.published(own_kafka.bootstrap), rows) == in_seq_order(rows)
