"""Database access with the caller's org bound to every transaction.

`Database.scoped(org_id)` opens a transaction and sets `app.org_id` for it (SET LOCAL), which
the row-level-security policies of every tenant table compare against. A query that forgets its
own org filter still sees only the caller's rows; a session without an org sees none.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import sqlalchemy as sa
from byte_contracts.errors import NotFound
from sqlalchemy import text
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

ORG_SETTING = "app.org_id"


def rls_policy_sql(table: str) -> list[str]:
    """The statements a migration runs to put a tenant table behind row-level security.

    FORCE makes the policy bind the table's owner too, which is the role the service runs as.
    """
    return [
        f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY",
        f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY",
        f"CREATE POLICY {table}_org_isolation ON {table} "
        f"USING (org_id = current_setting('{ORG_SETTING}', true)) "
        f"WITH CHECK (org_id = current_setting('{ORG_SETTING}', true))",
    ]


async def set_org(session: AsyncSession, org_id: str) -> None:
    """Binds the rest of this transaction to `org_id` (what every RLS policy compares against)."""
    await session.execute(text("SELECT set_config(:name, :org, true)"), {"name": ORG_SETTING, "org": org_id})


class Database:
    def __init__(self, url: str, *, pool_size: int = 20, max_overflow: int = 20) -> None:
        self.engine: AsyncEngine = create_async_engine(
            url, pool_size=pool_size, max_overflow=max_overflow, pool_pre_ping=True
        )
        self._sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    @asynccontextmanager
    async def scoped(self, org_id: str) -> AsyncIterator[AsyncSession]:
        """One transaction for one org: commits on success, rolls back on error."""
        async with self._sessions() as session, session.begin():
            await set_org(session, org_id)
            yield session

    @asynccontextmanager
    async def unscoped(self) -> AsyncIterator[AsyncSession]:
        """For plumbing tables that belong to no org (outbox, inbox). Tenant tables show nothing here."""
        async with self._sessions() as session, session.begin():
            yield session

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        await self.engine.dispose()


async def row_in_org(
    session: AsyncSession,
    table: sa.Table,
    columns: Sequence[sa.ColumnElement],
    row_id: uuid.UUID,
    org_id: str,
    what: str,
    *,
    for_update: bool = False,
) -> Any:
    """The row `row_id` of `org_id`, or NotFound, which reads the same whether the row is
    missing or another org's."""
    stmt = sa.select(*columns).where(table.c.id == row_id, table.c.org_id == org_id)
    row = (await session.execute(stmt.with_for_update() if for_update else stmt)).one_or_none()
    if row is None:
        raise NotFound(what)
    return row
