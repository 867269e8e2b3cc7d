"""The read path's fast lane (`Database.read`) against SQLAlchemy's own execution, on a real
contacts database: the same rows for every statement shape the lists build, row-level security
as in `scoped`, no writes, and a pool that survives the server dropping its connections."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
import psycopg
import pytest
import sqlalchemy as sa
import sqlalchemy.dialects.postgresql
from byte_platform.db import Database
from byte_platform.pagination import Keyset, dump_time, parse_time
from byte_testing import eventually

ORG, OTHER = "org_read_a", "org_read_b"
# the contacts service's table (its migration makes it, behind row-level security), as much of it as used here
contacts = sa.Table(
    "contacts",
    sa.MetaData(),
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("org_id", sa.Text),
    sa.Column("first_name", sa.Text),
    sa.Column("email", sa.Text),
    sa.Column("status", sa.Text),
    sa.Column("tags", sa.dialects.postgresql.ARRAY(sa.Text)),
    sa.Column("metadata", sa.dialects.postgresql.JSONB),
    sa.Column("created_at", sa.DateTime(timezone=True)),
)
COLUMNS = [contacts.c.id, contacts.c.first_name, contacts.c.email, contacts.c.tags, contacts.c.metadata]


def _plain(url: str) -> str:
    return sa.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture(scope="module")
def database_url(fresh_database) -> str:
    url = fresh_database("contacts")
    with psycopg.connect(_plain(url), autocommit=True) as conn:
        for org, count in ((ORG, 30), (OTHER, 5)):
            conn.execute("SELECT set_config('app.org_id', %s, false)", (org,))
            conn.execute(
                """
                INSERT INTO contacts (id, org_id, first_name, last_name, email, status, tags, metadata,
                                      created_at, updated_at)
                SELECT gen_random_uuid(), %s, 'Fïrst_' || i, 'Last' || i, 'p' || i || '%%@example.com',
                       (ARRAY['active','lead'])[1 + i %% 2], ARRAY['t' || (i %% 3)],
                       jsonb_build_object('n', i, 'nested', jsonb_build_object('x', ARRAY[i, null])),
                       '2026-01-01T00:00:00Z'::timestamptz + (i || ' minutes')::interval, now()
                FROM generate_series(1, %s) AS i
                """,
                (org, count),
            )
    return url


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url, pool_size=2, max_overflow=0)
    yield database
    await database.dispose()


async def _both(db: Database, stmt: sa.Select) -> tuple[list[tuple], list[tuple]]:
    fast = [tuple(r) for r in await db.read(ORG, stmt)]
    async with db.scoped(ORG) as session:
        slow = [tuple(r) for r in (await session.execute(stmt)).all()]
    return fast, slow


def _shapes() -> list[sa.Select]:
    base = sa.select(*COLUMNS)
    by_time = Keyset(contacts.c.created_at, contacts.c.id, True, "-created_at", parse_time, dump_time)
    by_name = Keyset(sa.func.lower(contacts.c.first_name), contacts.c.id, False, "first_name")
    return [
        by_time.page(base.where(contacts.c.org_id == ORG), None, 10),
        by_name.page(base.where(contacts.c.status == "lead"), None, 5),
        base.where(contacts.c.tags.contains(["t1"])).order_by(contacts.c.email),
        base.where(contacts.c.first_name.like("%st\\_1%", escape="\\")).order_by(contacts.c.email),
        base.where(contacts.c.email.in_(["p1%@example.com", "p2%@example.com", "nobody"])).order_by(contacts.c.email),
        base.where(contacts.c.created_at > datetime(2026, 1, 1, 0, 10, tzinfo=UTC)).order_by(contacts.c.id),
    ]


async def test_every_list_shape_reads_the_rows_sqlalchemy_reads(db: Database):
    for stmt in _shapes():
        fast, slow = await _both(db, stmt)
        assert fast == slow and fast, stmt
    # and again from the compiled-statement cache, with other values in the same shapes
    for n in (3, 7):
        stmt = sa.select(*COLUMNS).where(contacts.c.tags.contains([f"t{n % 3}"])).order_by(contacts.c.email).limit(n)
        fast, slow = await _both(db, stmt)
        assert fast == slow and len(fast) == n


async def test_pages_walk_the_same_way_on_both_lanes(db: Database):
    keyset = Keyset(contacts.c.created_at, contacts.c.id, True, "-created_at", parse_time, dump_time)
    base = sa.select(*COLUMNS)
    seen: list[uuid.UUID] = []
    cursor = None
    while True:
        rows, cursor = await keyset.read(db, ORG, base, cursor, 7)
        async with db.scoped(ORG) as session:
            expected = keyset.split((await session.execute(keyset.page(base, None, 30))).all(), 30)[0]
        seen.extend(r["id"] for r in rows)
        if cursor is None:
            break
    assert seen == [r.id for r in expected]
    assert len(set(seen)) == 30


async def test_row_level_security_binds_the_fast_lane(db: Database):
    everyone = sa.select(contacts.c.org_id)  # no org filter of its own
    assert {r["org_id"] for r in await db.read(OTHER, everyone)} == {OTHER}
    assert len(await db.read(OTHER, everyone)) == 5
    assert await db.read("org_nobody", everyone) == []


async def test_the_fast_lane_cannot_write(db: Database):
    stmt = sa.update(contacts).values(first_name="changed").returning(contacts.c.id)
    with pytest.raises(asyncpg.ReadOnlySQLTransactionError):
        await db.read(ORG, stmt)
    async with db.scoped(ORG) as session:
        names = (await session.execute(sa.select(contacts.c.first_name))).scalars().all()
    assert "changed" not in names
    assert len(await db.read(ORG, sa.select(contacts.c.id))) == 30  # the connection went back clean


async def test_connections_the_server_closed_are_replaced_not_used(db: Database, stack):
    """No ping before every transaction: a pooled connection the server has closed is swapped
    for a fresh one at checkout, so the first request after (say) a restart still succeeds."""
    for _ in range(3):  # both pooled connections used at least once
        await db.read(ORG, sa.select(contacts.c.id))
        async with db.scoped(ORG) as session:
            await session.execute(sa.select(contacts.c.id))
    name = sa.make_url(str(db.engine.url)).database
    with psycopg.connect(stack["database_admin_url"], autocommit=True) as admin:
        terminated = admin.execute(
            "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = %s AND pid <> pg_backend_pid()) AS t",
            (name,),
        ).fetchone()
        assert terminated and terminated[0] >= 1

        def gone() -> bool:
            return admin.execute("SELECT count(*) = 0 FROM pg_stat_activity WHERE datname = %s", (name,)).fetchone()[0]

        await eventually(gone)
    assert len(await db.read(ORG, sa.select(contacts.c.id))) == 30
    async with db.scoped(ORG) as session:
        assert len((await session.execute(sa.select(contacts.c.id))).all()) == 30
