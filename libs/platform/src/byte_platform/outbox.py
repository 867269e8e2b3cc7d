"""Transactional outbox: an event is a row written in the same transaction as the change it
describes, and a relay publishes pending rows to Kafka afterwards.

Delivery is at least once. The relay marks a row sent only after the broker acknowledged it
(acks=all, idempotent producer), so a crash between the two republishes the row with the same
envelope id, and consumers drop what they have seen (see docs/adr/0003-outbox.md). One relay per
database publishes at a time (a PostgreSQL advisory lock), which keeps each entity's events in
commit order however many replicas run.
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

PUBLISHED = Counter("byte_outbox_published_total", "Outbox events published to Kafka", ["topic"])
PENDING = Gauge("byte_outbox_pending", "Outbox events not yet published")
FAILURES = Counter("byte_outbox_publish_failures_total", "Relay batches that failed to publish")


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


class OutboxRelay:
    def __init__(
        self,
        db: Database,
        table: sa.Table,
        broker: KafkaBroker,
        database_url: str,
        *,
        batch_size: int = 200,
        poll_seconds: float = 1.0,
        lock_name: str = "byte-outbox-relay",
    ) -> None:
        self._db = db
        self._table = table
        self._broker = broker
        self._dsn = _plain_dsn(database_url)
        self._batch_size = batch_size
        self._poll_seconds = poll_seconds
        self._lock_key = zlib.crc32(lock_name.encode())
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task | None = None
        self._conn: asyncpg.Connection | None = None
        self._last_cleanup = 0.0

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="outbox-relay")

    async def stop(self, timeout: float = 10.0) -> None:
        """Publishes what is pending (within `timeout`), then stops."""
        self._stopping = True
        self._wake.set()
        if self._task:
            try:
                await asyncio.wait_for(self._task, timeout)
            except (TimeoutError, asyncio.CancelledError):
                self._task.cancel()
                with contextlib.suppress(BaseException):
                    await self._task
        if self._conn is not None and not self._conn.is_closed():
            await self._conn.close()

    async def publish_pending(self) -> int:
        """Publishes one batch; returns how many rows it sent."""
        t = self._table
        async with self._db.unscoped() as session:
            rows = (
                await session.execute(
                    sa.select(t.c.seq, t.c.topic, t.c.key, t.c.envelope)
                    .where(t.c.published_at.is_(None))
                    .order_by(t.c.seq)
                    .limit(self._batch_size)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            if not rows:
                return 0
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

    async def _listen(self) -> asyncpg.Connection:
        """A dedicated connection that holds the leader lock and hears commit notifications."""
        conn = await asyncpg.connect(self._dsn)
        while not await conn.fetchval("SELECT pg_try_advisory_lock($1)", self._lock_key):
            if self._stopping:
                return conn
            await asyncio.sleep(self._poll_seconds)
        await conn.add_listener(CHANNEL, lambda *_: self._wake.set())
        return conn

    async def _run(self) -> None:
        backoff = self._poll_seconds
        while True:
            try:
                if self._conn is None or self._conn.is_closed():
                    self._conn = await self._listen()
                sent = await self.publish_pending()
                backoff = self._poll_seconds
                if sent == self._batch_size:
                    continue
                if self._stopping:
                    return
                await self._housekeeping()
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._poll_seconds)
            except asyncio.CancelledError:
                raise
            except Exception:
                FAILURES.inc()
                log.exception("outbox relay failed; retrying in %.1fs", backoff)
                if self._stopping:
                    return
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 30)

    async def _housekeeping(self) -> None:
        t = self._table
        async with self._db.unscoped() as session:
            PENDING.set(
                await session.scalar(sa.select(sa.func.count()).select_from(t).where(t.c.published_at.is_(None)))
            )
            # Sent rows are kept a while for inspection, then dropped so the table stays small.
            if time.monotonic() - self._last_cleanup > CLEANUP_EVERY_SECONDS:
                self._last_cleanup = time.monotonic()
                await session.execute(sa.delete(t).where(t.c.published_at < sa.func.now() - RETENTION))
