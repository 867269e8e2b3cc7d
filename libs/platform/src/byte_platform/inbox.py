"""Idempotent consuming: a message's effect and its idempotency key commit together.

The key is whatever identifies one delivery for good: an envelope id, a Svix message id, a
Formstack `UniqueID`. A unit of work calls `await work.first_time(consumer, key)` first thing;
False means this consumer already applied that message (a redelivery, or a duplicate the
outbox relay sent after a crash), and the work returns without changing anything.
"""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

KEY_MAX = 255


def inbox_table(metadata: sa.MetaData) -> sa.Table:
    return sa.Table(
        "processed_messages",
        metadata,
        sa.Column("consumer", sa.Text, primary_key=True),
        sa.Column("message_id", sa.Text, primary_key=True),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Index("processed_messages_by_age", "processed_at"),
    )


async def first_time(session: AsyncSession, table: sa.Table, consumer: str, key: str) -> bool:
    if not key or len(key) > KEY_MAX:
        raise ValueError(f"an idempotency key is 1 to {KEY_MAX} characters")
    inserted = await session.scalar(
        insert(table).values(consumer=consumer, message_id=key).on_conflict_do_nothing().returning(table.c.message_id)
    )
    return inserted is not None


async def prune(session: AsyncSession, table: sa.Table, older_than: timedelta) -> int:
    """Forgets keys processed longer ago than any redelivery can come (Kafka keeps messages for
    days, Svix retries for about 32 hours), so the table stays small."""
    result = await session.execute(sa.delete(table).where(table.c.processed_at < sa.func.now() - older_than))
    return getattr(result, "rowcount", 0) or 0
