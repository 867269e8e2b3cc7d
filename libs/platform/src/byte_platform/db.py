"""Database access with the caller's org bound to every transaction.

`Database.scoped(org_id)` opens a transaction and sets `app.org_id` for it (SET LOCAL), which
the row-level-security policies of every tenant table compare against. A query that forgets its
own org filter still sees only the caller's rows; a session without an org sees none.

`Database.read(org_id, stmt)` is the read path's fast lane for the same thing: one read-only
transaction with the org set, the Core statement run on the pool's asyncpg connection itself
(no ORM session, no result processing), its SQL compiled once per statement shape.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import sqlalchemy as sa
from byte_contracts.errors import NotFound
from sqlalchemy import event, exc, text
from sqlalchemy.engine.interfaces import Dialect
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.util import LRUCache

from byte_platform.connections import closed_by_peer

ORG_SETTING = "app.org_id"
SET_ORG_SQL = f"SELECT set_config('{ORG_SETTING}', $1, true)"


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


def _refuse_closed(dbapi_connection: Any, record: Any, proxy: Any) -> None:
    """Pool checkout: a connection the server has closed (a restart, an idle timeout, a
    terminated backend) is swapped for a fresh one before anyone uses it.

    What `pool_pre_ping` is for, without its price: with asyncpg a ping is BEGIN, `;`, ROLLBACK,
    three round trips before every transaction (more than the rest of a page read). A close the
    driver has seen, or one still waiting unread in the socket, is known without asking the
    server. A close that races with the checkout fails that one request as transient (503 with
    Retry-After), and SQLAlchemy then recycles every connection older than the failure."""
    driver = dbapi_connection.driver_connection
    # asyncpg keeps its transport private; the socket is what tells a close apart
    if driver.is_closed() or closed_by_peer(getattr(driver, "_transport", None)):
        raise exc.DisconnectionError("the server closed this pooled connection")


_WHOLE: Any = object()


class CompiledStatements:
    """SQL text and positional parameters of Core statements for asyncpg, each statement shape
    compiled once: the same cache key, compiled form and bind processing SQLAlchemy's own
    execution uses (compiling a page's SELECT costs more than running it)."""

    def __init__(self, dialect: Dialect, size: int = 500) -> None:
        assert dialect.paramstyle == "numeric_dollar", "asyncpg takes $n parameters"
        self._dialect = dialect
        self._compiled: LRUCache[Any, Any] = LRUCache(size)

    def sql(self, stmt: sa.Executable) -> tuple[str, list[Any]]:
        key = stmt._generate_cache_key()  # type: ignore[attr-defined]
        if key is None:
            return self._whole(stmt)
        compiled = self._compiled.get(key.key)
        if compiled is None:
            compiled = stmt.compile(dialect=self._dialect, cache_key=key)  # type: ignore[attr-defined]
            # an expanding IN and the like: the SQL text depends on the values
            self._compiled[key.key] = compiled = (
                _WHOLE if compiled.post_compile_params or compiled.literal_execute_params else compiled
            )
        if compiled is _WHOLE:
            return self._whole(stmt)
        params = compiled.construct_params(
            extracted_parameters=key.bindparams, escape_names=False, _collected_params=key.params
        )
        return compiled.string, self._positional(compiled, params)

    def _whole(self, stmt: sa.Executable) -> tuple[str, list[Any]]:
        """Compiled for these values only, every parameter rendered (no caching)."""
        compiled = stmt.compile(dialect=self._dialect, compile_kwargs={"render_postcompile": True})  # type: ignore[attr-defined]
        return compiled.string, self._positional(compiled, compiled.construct_params(escape_names=False))

    @staticmethod
    def _positional(compiled: Any, params: dict[str, Any]) -> list[Any]:
        processors = compiled._bind_processors
        return [
            processors[name](params[name]) if name in processors else params[name]
            for name in compiled.positiontup or ()
        ]


class Database:
    def __init__(self, url: str, *, pool_size: int = 20, max_overflow: int = 20) -> None:
        self.engine: AsyncEngine = create_async_engine(url, pool_size=pool_size, max_overflow=max_overflow)
        event.listen(self.engine.sync_engine, "checkout", _refuse_closed)
        self._sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self._statements = CompiledStatements(self.engine.dialect)

    async def read(self, org_id: str, stmt: sa.Executable) -> list[asyncpg.Record]:
        """The rows of `stmt`, read in one read-only transaction for one org (row-level security
        applies as in `scoped`), as asyncpg records: a list page's fast lane.

        Values come as the pool's asyncpg connections decode them: JSON as Python values,
        arrays as lists, UUIDs as asyncpg's UUID (a `uuid.UUID`)."""
        sql, params = self._statements.sql(stmt)
        async with self.engine.connect() as conn:
            raw = (await conn.get_raw_connection()).driver_connection
            assert raw is not None
            try:
                async with raw.transaction(readonly=True):
                    await raw.execute(SET_ORG_SQL, org_id)
                    return await raw.fetch(sql, *params)
            except BaseException:
                # SQLAlchemy did not see this transaction: a connection left inside one (a
                # cancelled fetch) or broken must not go back to the pool.
                if raw.is_closed() or raw.is_in_transaction():
                    await conn.invalidate()
                raise

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
