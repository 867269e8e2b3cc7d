"""The activity log's table: the service's own role cannot change or delete a row (nor grant
itself the right back to), and every read of the trail and of my tasks is an index scan at 100k
rows."""

import json
import uuid
from datetime import UTC, datetime

import asyncpg
import pytest
import sqlalchemy as sa
from byte_executions.models import notes
from byte_executions.queries.activity import (
    ACTIVITY_KEYSET,
    NOTE_COLUMNS,
    NOTES_KEYSET,
    ActivityFilter,
    my_task_counts,
    my_task_page,
)
from byte_platform.db import CompiledStatements
from sqlalchemy.dialects import postgresql


async def _connect(database_url: str) -> asyncpg.Connection:
    # the service's own role: the URL the service runs (and migrates) with
    return await asyncpg.connect(database_url.replace("postgresql+asyncpg", "postgresql"))


async def test_the_service_role_cannot_change_the_log(executions_db, org_id):
    conn = await _connect(executions_db)
    try:
        async with conn.transaction():
            await conn.execute("SELECT set_config('app.org_id', $1, true)", org_id)
            await conn.execute(
                "INSERT INTO activity_log (id, org_id, occurred_at, actor, actor_type, action, entity_type, entity_id)"
                " VALUES ($1, $2, now(), 'user_ann', 'user', 'contact.created', 'contact', 'c1')",
                uuid.uuid4(),
                org_id,
            )
        for statement in (
            "UPDATE activity_log SET action = 'forged'",
            "DELETE FROM activity_log",
            "TRUNCATE activity_log",
        ):
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                async with conn.transaction():
                    await conn.execute("SELECT set_config('app.org_id', $1, true)", org_id)
                    await conn.execute(statement)
        # the role owns the table and may grant itself the rights back: the trigger still refuses
        for statement in ("UPDATE activity_log SET action = 'forged'", "DELETE FROM activity_log"):
            with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
                async with conn.transaction():
                    await conn.execute("GRANT UPDATE, DELETE, TRUNCATE ON activity_log TO CURRENT_USER")
                    await conn.execute("SELECT set_config('app.org_id', $1, true)", org_id)
                    await conn.execute(statement)
        async with conn.transaction():
            await conn.execute("SELECT set_config('app.org_id', $1, true)", org_id)
            assert await conn.fetchval("SELECT action FROM activity_log") == "contact.created"
    finally:
        await conn.close()


def _nodes(plan: dict):
    yield plan
    for child in plan.get("Plans", ()):
        yield from _nodes(child)


async def test_each_read_is_an_index_scan_at_100k_rows(executions_db):
    org = f"org_bulk_{uuid.uuid4().hex[:8]}"
    conn = await _connect(executions_db)
    try:
        async with conn.transaction():
            await conn.execute("SELECT set_config('app.org_id', $1, true)", org)
            await conn.execute(
                """
                INSERT INTO activity_log (id, org_id, occurred_at, actor, actor_type, action, entity_type,
                                          entity_id, execution_id, contact_id, task_id, submission_id)
                SELECT gen_random_uuid(), $1, now() - make_interval(secs => g), 'user_' || (g % 50), 'user',
                       'task.' || (g % 10), 'task', g::text, md5('c' || (g % 20000))::uuid,
                       md5('p' || (g % 15000))::uuid, CASE WHEN g % 3 = 0 THEN md5('t' || (g % 30000))::uuid END,
                       CASE WHEN g % 7 = 0 THEN 's' || g END
                FROM generate_series(1, 100000) g
                """,
                org,
            )
            await conn.execute(
                """
                INSERT INTO task_summaries (org_id, task_id, execution_id, title, status, assigned_to, due_date)
                SELECT $1, gen_random_uuid(), md5('c' || (g % 20000))::uuid, 'task ' || g,
                       (ARRAY['todo', 'in_progress', 'done'])[g % 3 + 1], 'user_' || (g % 500),
                       now() + make_interval(days => g % 30 - 10)
                FROM generate_series(1, 100000) g
                """,
                org,
            )
            await conn.execute(
                """
                INSERT INTO notes (id, org_id, entity_type, entity_id, author_id, content)
                SELECT gen_random_uuid(), $1, 'case', md5('c' || (g % 20000))::uuid, 'user_1', 'n'
                FROM generate_series(1, 20000) g
                """,
                org,
            )
        await conn.execute("ANALYZE activity_log; ANALYZE task_summaries; ANALYZE notes")

        case, contact, task = (uuid.UUID(bytes=bytes.fromhex(h)) for h in await conn.fetchrow(
            "SELECT md5('c1'), md5('p1'), md5('t3')"))  # fmt: skip
        now = datetime.now(UTC)
        reads = {
            "feed": ACTIVITY_KEYSET.page(ActivityFilter().statement(org), None, 50),
            "feed by actor": ACTIVITY_KEYSET.page(ActivityFilter(actor="user_7").statement(org), None, 50),
            "feed by action and date": ACTIVITY_KEYSET.page(
                ActivityFilter(action="task.3", occurred_from=now.replace(hour=0)).statement(org), None, 50
            ),
            "case": ACTIVITY_KEYSET.page(ActivityFilter(("case", (case, contact, "s7"))).statement(org), None, 50),
            "contact": ACTIVITY_KEYSET.page(ActivityFilter(("contact_id", contact)).statement(org), None, 50),
            "task": ACTIVITY_KEYSET.page(ActivityFilter(("task_id", task)).statement(org), None, 50),
            "my task counts": my_task_counts(org, "user_7", now),
            "my tasks": my_task_page(org, "user_7", 10),
            "notes": NOTES_KEYSET.page(
                sa.select(*NOTE_COLUMNS).where(
                    notes.c.org_id == org, notes.c.entity_type == "case", notes.c.entity_id == case
                ),
                None,
                50,
            ),
        }
        statements = CompiledStatements(postgresql.asyncpg.dialect())
        for name, stmt in reads.items():
            sql, params = statements.sql(stmt)
            async with conn.transaction():
                await conn.execute("SELECT set_config('app.org_id', $1, true)", org)
                plan = json.loads(await conn.fetchval(f"EXPLAIN (FORMAT JSON) {sql}", *params))[0]["Plan"]
            scans = [
                (n["Node Type"], n.get("Index Name")) for n in _nodes(plan) if "Relation Name" in n or "Index Name" in n
            ]
            print(name, scans)
            # an index scan, or a bitmap of index scans (a case's trail: its own, its contact's, its submission's)
            assert all(node != "Seq Scan" for node, _ in scans), (name, scans)
            assert any(index for _, index in scans), (name, scans)
    finally:
        await conn.close()
