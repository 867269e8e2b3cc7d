"""Transactional outbox: an event is a row written in the same transaction as the change it
describes, and a relay publishes pending rows to Kafka afterwards.

Delivery is at least once. The relay marks a row sent only after the broker acknowledged it
(acks=all, idempotent producer), so a crash between the two republishes the row with the same
envelope id, and consumers drop what they have seen (see docs/adr/0003-outbox.md).

Leadership: one relay per database publishes, which keeps each entity's events in commit order
however many replicas run.

- The leader is the relay whose dedicated asyncpg connection holds the session advisory lock
  `lock_name` (`pg_try_advisory_lock`). Only the leader publishes; `publish_pending` refuses
  (`NotLeader`) anywhere else.
- Each batch checks, with its rows already locked, that the lock is still held by the leader's
  connection (`pg_locks`), so a relay whose lock connection died without it noticing publishes
  nothing more. A relay that finds its lock lost stops publishing, closes that connection and
  competes for the lock again like any follower.
- Rows are locked `FOR UPDATE` without SKIP LOCKED: a new leader waits for whatever batch the
  old one may still hold instead of publishing later rows past it.
- Followers try the lock every `poll_seconds`. A follower asked to stop simply exits: it has
  nothing to flush. A stopping leader publishes what is pending (within `stop`'s timeout), then
  closes its connection, which releases the lock.

Wake-ups: the leader LISTENs on the lock connection for the NOTIFY that `Outbox.add` issues at
commit, and polls every `poll_seconds` as a fallback. It clears its wake flag before reading a
batch, so a commit during a publish triggers another pass. After a failure it backs off
(`backoff_seconds`, doubling up to `max_backoff_seconds`, a few seconds) waiting on that same
flag: a commit wakes it at once, and an outage that ends silently (no NOTIFY reaches a relay
whose database was down) costs at most the capped backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import zlib
from datetime import timedelta

import asyncpg
import sqlalchemy as sa
from byte_contracts import Envelope, topic_for
from faststream.kafka import KafkaBroker
from prometheus_client import Counter, Gauge
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.ext.asyncio import AsyncSession

from byte_platform.db import Database

log = logging.getLogger(__name__)

CHANNEL = "byte_outbox"
RETENTION = timedelta(days=7)
CLEANUP_EVERY_SECONDS = 600
# The pending count is a gauge for dashboards: counted after every pass, it was a transaction of
# its own between one pass and the next, on the path of every event under load.
COUNT_PENDING_EVERY_SECONDS = 5.0

PUBLISHED = Counter("byte_outbox_published_total", "Outbox events published to Kafka", ["topic"])
PENDING = Gauge("byte_outbox_pending", "Outbox events not yet published")
FAILURES = Counter("byte_outbox_publish_failures_total", "Relay batches that failed to publish")
LEADER = Gauge("byte_outbox_leader", "1 while this process's relay holds the outbox lock and publishes")
APPLICATION_NAME = "byte-outbox-relay"
"""The lock connection's name in pg_stat_activity: who leads is `pg_locks` joined with it."""


def outbox_table(metadata: sa.MetaData) -> sa.Table:
    return sa.Table(
        "outbox",
        metadata,
        sa.Column("seq", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("id", UUID(as_uuid=True), nullable=False, unique=True),
        sa.Column("topic", sa.Text, nullable=False),
        sa.Column("key", sa.Text, nullable=False),
        sa.Column("envelope", JSONB, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("published_at", sa.DateTime(timezone=True)),
        sa.Index("outbox_pending", "seq", postgresql_where=sa.text("published_at IS NULL")),
    )


class Outbox:
    """What handlers use: `await outbox.add(session, event)` inside their unit of work."""

    def __init__(self, table: sa.Table) -> None:
        self.table = table

    async def add(self, session: AsyncSession, *events: Envelope) -> None:
        if not events:
            return
        await session.execute(
            sa.insert(self.table),
            [
                {"id": e.id, "topic": topic_for(e.type), "key": e.subject, "envelope": e.model_dump(mode="json")}
                for e in events
            ],
        )
        # Delivered at commit, so the relay wakes exactly when there is something to send.
        await session.execute(sa.text(f"NOTIFY {CHANNEL}"))


def _plain_dsn(url: str) -> str:
    return sa.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


class NotLeader(RuntimeError):
    """This relay does not hold the outbox lock, so it must not publish."""


def advisory_key(lock_name: str) -> int:
    return zlib.crc32(lock_name.encode())


# Who holds a bigint advisory lock: pg_locks splits the key into two oids.
_LOCK_HELD = sa.text(
    "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted AND pid = :pid"
    " AND classid = CAST(:high AS oid) AND objid = CAST(:low AS oid) AND objsubid = 1)"
)


class OutboxRelay:
    """Publishes the outbox of one database while it holds that database's relay lock (see the
    module docstring for the rules)."""

    def __init__(
        self,
        db: Database,
        table: sa.Table,
        broker: KafkaBroker,
        database_url: str,
        *,
        batch_size: int = 200,
        poll_seconds: float = 1.0,
        backoff_seconds: float = 0.25,
        max_backoff_seconds: float = 2.0,
        lock_name: str = "byte-outbox-relay",
    ) -> None:
        self._db = db
        self._table = table
        self._broker = broker
        self._dsn = _plain_dsn(database_url)
        self._batch_size = batch_size
        self._poll_seconds = poll_seconds
        self._backoff_seconds = backoff_seconds
        self._max_backoff_seconds = max_backoff_seconds
        self.lock_key = advisory_key(lock_name)
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._conn: asyncpg.Connection | None = None
        """The lock connection: holds the advisory lock while leading, and hears NOTIFYs."""
        self._leading = False
        self._last_cleanup = 0.0
        self._last_count = 0.0

    @property
    def is_leader(self) -> bool:
        """True while this relay holds the lock on a connection it believes open."""
        return self._leading and self._conn is not None and not self._conn.is_closed()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="outbox-relay")

    async def stop(self, timeout: float = 10.0) -> None:
        """As leader, publishes what is pending (within `timeout`); then stops and lets go of
        the lock. A follower just stops."""
        self._stopping = True
        self._wake.set()
        if self._task:
            try:
                await asyncio.wait_for(self._task, timeout)
            except (TimeoutError, asyncio.CancelledError):
                self._task.cancel()
                with contextlib.suppress(BaseException):
                    await self._task
        await self._close_connection()

    async def publish_pending(self) -> int:
        """Publishes one batch, in commit order; returns how many rows it sent. Only the leader
        may: elsewhere, and as soon as the lock turns out lost, it raises NotLeader."""
        conn = self._conn
        if not self.is_leader or conn is None:
            raise NotLeader("this relay does not hold the outbox lock")
        t = self._table
        async with self._db.unscoped() as session:
            rows = (
                await session.execute(
                    sa.select(t.c.seq, t.c.topic, t.c.key, t.c.envelope)
                    .where(t.c.published_at.is_(None))
                    .order_by(t.c.seq)
                    .limit(self._batch_size)
                    # No SKIP LOCKED: a batch an old leader still holds is waited for, never
                    # overtaken by the rows after it.
                    .with_for_update()
                )
            ).all()
            if not rows:
                return 0
            # Checked with the rows locked: if the lock is ours now, no other relay can publish
            # these rows, or any after them, before this transaction ends.
            held = await session.scalar(
                _LOCK_HELD,
                {"pid": conn.get_server_pid(), "high": self.lock_key >> 32, "low": self.lock_key & 0xFFFFFFFF},
            )
            if not held:
                raise NotLeader("the outbox lock was lost")
            confirmations = []
            for row in rows:
                envelope = Envelope.model_validate(row.envelope)
                confirmations.append(
                    await self._broker.publish(
                        envelope.to_bytes(),
                        topic=row.topic,
                        key=row.key.encode(),
                        headers={
                            "content-type": "application/json",
                            "event_type": envelope.type,
                            "event_id": str(envelope.id),
                            "org_id": envelope.org_id,
                        },
                        correlation_id=envelope.correlation_id or str(envelope.id),
                        no_confirm=True,
                    )
                )
            await asyncio.gather(*confirmations)
            await session.execute(
                sa.update(t).where(t.c.seq.in_([r.seq for r in rows])).values(published_at=sa.func.now())
            )
        for row in rows:
            PUBLISHED.labels(row.topic).inc()
        return len(rows)

    async def _run(self) -> None:
        failures = 0
        while True:
            try:
                if not self.is_leader:
                    if self._leading:
                        self._lost_lock("its lock connection closed")
                    # Cleared before trying, so a stop() from here on ends the wait below.
                    self._wake.clear()
                    if self._stopping:
                        return  # a follower has nothing to flush
                    leads = await self._try_to_lead()
                    failures = 0
                    if not leads:
                        await self._wait(self._poll_seconds)
                        continue
                # Cleared before reading, so a commit during this pass triggers the next one.
                self._wake.clear()
                # Only a pass that began after stop() was asked sees everything committed before.
                flushing = self._stopping
                sent = await self.publish_pending()
                if failures:
                    log.info("outbox relay publishes again after %d failed attempts", failures)
                    failures = 0
                if sent == self._batch_size:
                    continue
                if flushing:
                    return
                if self._stopping:
                    continue
                await self._housekeeping()
                await self._wait(self._poll_seconds)
            except asyncio.CancelledError:
                raise
            except NotLeader as exc:
                self._lost_lock(str(exc))
            except Exception as exc:
                FAILURES.inc()
                failures += 1
                if self._stopping:
                    # What is left stays in the outbox for the next leader.
                    log.exception("outbox relay failed while stopping; leaving the rest pending")
                    return
                backoff = min(self._backoff_seconds * 2 ** (failures - 1), self._max_backoff_seconds)
                if failures == 1:
                    log.exception("outbox relay failed; retrying in %.2fs or at the next commit", backoff)
                else:  # one traceback per outage is enough
                    log.warning("outbox relay failed again (%d): %r; retrying in %.2fs", failures, exc, backoff)
                await self._wait(backoff)

    async def _try_to_lead(self) -> bool:
        if self._conn is None or self._conn.is_closed():
            self._conn = await asyncpg.connect(self._dsn, server_settings={"application_name": APPLICATION_NAME})
            # A dead lock connection wakes the relay at once: it no longer leads.
            self._conn.add_termination_listener(lambda _: self._wake.set())
        if not await self._conn.fetchval("SELECT pg_try_advisory_lock($1)", self.lock_key):
            return False
        # Listening before the first batch is read: nothing committed from now on goes unheard.
        await self._conn.add_listener(CHANNEL, lambda *_: self._wake.set())
        self._leading = True
        LEADER.set(1)
        log.info("outbox relay leads (advisory lock %d)", self.lock_key)
        return True

    def _lost_lock(self, why: str) -> None:
        log.warning("outbox relay no longer leads (%s); it publishes again once it holds the lock", why)
        self._leading = False
        LEADER.set(0)
        conn, self._conn = self._conn, None
        if conn is not None and not conn.is_closed():
            conn.terminate()  # whatever it still holds on the server goes with it

    async def _close_connection(self) -> None:
        conn, self._conn = self._conn, None
        if self._leading:
            self._leading = False
            LEADER.set(0)
        if conn is not None and not conn.is_closed():
            try:
                await conn.close(timeout=5)  # releases the lock at once
            except Exception:
                log.warning("closing the outbox lock connection failed; cutting it", exc_info=True)
                conn.terminate()

    async def _wait(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), seconds)

    async def _housekeeping(self) -> None:
        if time.monotonic() - self._last_count < COUNT_PENDING_EVERY_SECONDS:
            return
        self._last_count = time.monotonic()
        t = self._table
        async with self._db.unscoped() as session:
            PENDING.set(
                await session.scalar(sa.select(sa.func.count()).select_from(t).where(t.c.published_at.is_(None))) or 0
            )
            # Sent rows are kept a while for inspection, then dropped so the table stays small.
            if time.monotonic() - self._last_cleanup > CLEANUP_EVERY_SECONDS:
                self._last_cleanup = time.monotonic()
                await session.execute(sa.delete(t).where(t.c.published_at < sa.func.now() - RETENTION))
