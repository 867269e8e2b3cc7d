"""Alembic helpers shared by every service's migrations."""

from __future__ import annotations

import asyncio
from logging.config import fileConfig

import sqlalchemy as sa
from alembic import context, op
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.ext.asyncio import create_async_engine

from byte_platform.db import rls_policy_sql
from byte_platform.outbox import outbox_table


def run_env(target_metadata: sa.MetaData, database_url: str) -> None:
    """The body of a service's migrations/env.py: online, async, one transaction."""
    config = context.config
    if config.config_file_name is not None and config.attributes.get("configure_logger", True):
        fileConfig(config.config_file_name, disable_existing_loggers=False)

    def run(connection: sa.Connection) -> None:
        context.configure(connection=connection, target_metadata=target_metadata, transaction_per_migration=False)
        with context.begin_transaction():
            context.run_migrations()

    async def main() -> None:
        engine = create_async_engine(database_url, poolclass=sa.pool.NullPool)
        async with engine.connect() as conn:
            await conn.run_sync(run)
            await conn.commit()
        await engine.dispose()

    asyncio.run(main())


# A migration is frozen once released, so the helpers it calls are too: a change to a plumbing
# table is a new, numbered helper that a new migration calls, never an edit of an old one.
# tests/test_conventions.py fails when a service's models and migrations part.


def create_outbox() -> None:
    outbox_table(sa.MetaData()).create(op.get_bind())


def create_inbox_v1() -> None:
    """The first inbox: envelope ids only."""
    op.create_table(
        "processed_messages",
        sa.Column("consumer", sa.Text, primary_key=True),
        sa.Column("event_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )


def inbox_v2_any_key() -> None:
    """v1 -> v2: any idempotency key (Svix ids, Formstack UniqueIDs), and an index for pruning."""
    op.alter_column(
        "processed_messages", "event_id", new_column_name="message_id", type_=sa.Text, postgresql_using="event_id::text"
    )
    op.create_index("processed_messages_by_age", "processed_messages", ["processed_at"])


def create_inbox_v2() -> None:
    """The inbox as it is now, for a service that has none yet."""
    create_inbox_v1()
    inbox_v2_any_key()


def enable_row_level_security(table: str) -> None:
    for statement in rls_policy_sql(table):
        op.execute(statement)
