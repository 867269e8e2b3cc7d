"""Alembic helpers shared by every service's migrations."""

from __future__ import annotations

import asyncio
from logging.config import fileConfig

import sqlalchemy as sa
from alembic import context, op
from sqlalchemy.ext.asyncio import create_async_engine

from byte_platform.db import rls_policy_sql
from byte_platform.inbox import inbox_table
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


def create_outbox() -> None:
    outbox_table(sa.MetaData()).create(op.get_bind())


def create_inbox() -> None:
    inbox_table(sa.MetaData()).create(op.get_bind())


def enable_row_level_security(table: str) -> None:
    for statement in rls_policy_sql(table):
        op.execute(statement)
