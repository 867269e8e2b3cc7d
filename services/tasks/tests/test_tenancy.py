"""Org isolation: through the API (another org's task is exactly a missing one, on every
endpoint, and nothing changes) and in the database (row-level security on tasks and members)."""

import uuid

import asyncpg
import sqlalchemy as sa
from byte_platform.db import Database

ENDPOINTS = [
    ("GET", "", None),
    ("PATCH", "", {"title": "Pwned"}),
    ("DELETE", "", None),
    ("PATCH", "/status", {"status": "done"}),
    ("PATCH", "/claim", None),
    ("PATCH", "/unclaim", None),
    ("PATCH", "/approve", None),
    ("PATCH", "/reject", {"comment": "no"}),
    ("PATCH", "/move", {"status": "in_progress"}),
]


async def test_another_orgs_task_is_a_404_on_every_endpoint_and_nothing_changes(client, org_id, h):
    other_org = f"org_{uuid.uuid4().hex[:12]}"
    async with client() as mine, client(other_org) as theirs:
        task = (
            await mine.post("/v1/tasks", json={"title": "Secret", "task_type": "approval", "assigned_role": "admin"})
        ).json()
        claimed = (await mine.post("/v1/tasks", json={"title": "Held", "assigned_to": "user_admin"})).json()
        for target in (task, claimed):
            for method, path, body in ENDPOINTS:
                leaked = await theirs.request(method, f"/v1/tasks/{target['id']}{path}", json=body)
                missing = await theirs.request(method, f"/v1/tasks/{uuid.uuid4()}{path}", json=body)
                assert h.is_problem(leaked, 404), (method, path, leaked.text)
                assert leaked.json() | {"instance": ""} == missing.json() | {"instance": ""}
        assert (await theirs.get("/v1/tasks")).json()["items"] == []
        assert (await theirs.get("/v1/tasks", params={"assignee": "user_admin"})).json()["items"] == []
        assert (await theirs.get("/v1/tasks/available")).json()["items"] == []
        # our card cannot anchor a move in their board
        own = (await theirs.post("/v1/tasks", json={"title": "Theirs"})).json()
        r = await theirs.patch(f"/v1/tasks/{own['id']}/move", json={"status": "todo", "after_id": task["id"]})
        assert h.is_problem(r, 422)
        assert (await mine.get(f"/v1/tasks/{task['id']}")).json() == task
        assert (await mine.get(f"/v1/tasks/{claimed['id']}")).json() == claimed


async def test_row_level_security_hides_other_orgs_rows_from_unfiltered_queries(client, tasks_db):
    org_a, org_b = f"org_{uuid.uuid4().hex[:12]}", f"org_{uuid.uuid4().hex[:12]}"
    async with client(org_a) as a, client(org_b) as b:
        await a.post("/v1/tasks", json={"title": "OfA"})
        await b.post("/v1/tasks", json={"title": "OfB"})

    db = Database(tasks_db, pool_size=1, max_overflow=0)
    try:
        everyone = sa.text("SELECT title, org_id FROM tasks WHERE org_id IN (:a, :b)")
        async with db.scoped(org_a) as session:
            rows = (await session.execute(everyone, {"a": org_a, "b": org_b})).all()
            await session.execute(
                sa.text("INSERT INTO members (org_id, user_id, as_of) VALUES (:a, 'u', now())"), {"a": org_a}
            )
        assert [tuple(r) for r in rows] == [("OfA", org_a)]
        async with db.unscoped() as session:
            assert (await session.execute(everyone, {"a": org_a, "b": org_b})).all() == []
            assert (await session.execute(sa.text("SELECT * FROM members WHERE org_id = :a"), {"a": org_a})).all() == []
        async with db.scoped(org_b) as session:
            assert (await session.execute(sa.text("SELECT * FROM members WHERE org_id = :a"), {"a": org_a})).all() == []
        for table, insert in [
            ("tasks", "INSERT INTO tasks (id, org_id, title, position) VALUES (gen_random_uuid(), :b, 'Sneaky', 1)"),
            ("members", "INSERT INTO members (org_id, user_id, as_of) VALUES (:b, 'sneaky', now())"),
        ]:
            async with db.scoped(org_a) as session:
                try:
                    await session.execute(sa.text(insert), {"b": org_b})
                    raise AssertionError(f"insert into another org's {table} was allowed")
                except sa.exc.DBAPIError as exc:
                    assert "row-level security" in str(exc)
    finally:
        await db.dispose()

    conn = await asyncpg.connect(sa.make_url(tasks_db).set(drivername="postgresql").render_as_string(False))
    try:
        assert (
            await conn.fetchval("SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user") is False
        )
        forced = await conn.fetch("SELECT relname FROM pg_class WHERE relforcerowsecurity ORDER BY relname")
        assert [r["relname"] for r in forced] == ["members", "tasks"]
    finally:
        await conn.close()
