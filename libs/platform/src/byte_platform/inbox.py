"""Idempotent consuming: a message's effect and its envelope id commit together.

A handler calls `await inbox.claim(session, envelope)` first thing in its unit of work; False
means this consumer already applied that event (a redelivery, or a duplicate the outbox relay
sent after a crash), and the handler returns without doing anything.
"""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from byte_contracts import Envelope
from sqlalchemy.dialects.postgresql import UUID, insert
from sqlalchemy.ext.asyncio import AsyncSession


def inbox_table(metadata: sa.MetaData) -> sa.Table:
    return sa.Table(
        "processed_messages",
        metadata,
        sa.Column("consumer", sa.Text, primary_key=True),
        sa.Column("event_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )


class Inbox:
    def __init__(self, table: sa.Table, consumer: str) -> None:
        self.table = table
        self.consumer = consumer

    async def claim(self, session: AsyncSession, envelope: Envelope) -> bool:
        inserted = await session.scalar(
            insert(self.table)
            .values(consumer=self.consumer, event_id=envelope.id)
            .on_conflict_do_nothing()
            .returning(self.table.c.event_id)
        )
        return inserted is not None


async def prune(session: AsyncSession, table: sa.Table, older_than: timedelta) -> int:
    """Forgets ids processed longer ago than any redelivery can come (Kafka keeps messages for
    days, not months), so the table stays small."""
    result = await session.execute(sa.delete(table).where(table.c.processed_at < sa.func.now() - older_than))
    return result.rowcount or 0
