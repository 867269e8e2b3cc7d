"""Org isolation: through the API (another org's definition or case is exactly a missing one)
and in the database itself (row-level security on every tenant table)."""

import uuid

import asyncpg
import sqlalchemy as sa
from byte_contracts.definitions import applicant_review_document
from byte_platform.db import Database

TENANT_TABLES = (
    "workflow_definitions",
    "provisioned_orgs",
    "workflow_executions",
    "contact_summaries",
    "case_counts",
)


async def test_another_orgs_definition_is_a_404_on_every_endpoint_and_nothing_changes(client):
    other_org = f"org_{uuid.uuid4().hex[:12]}"
    async with client() as mine, client(other_org) as theirs:
        doc = {**applicant_review_document(), "name": "Secret Flow", "key": "secret-flow"}
        ours = (await mine.post("/v1/definitions", json=doc)).json()
        did = ours["id"]
        body = {k: v for k, v in doc.items() if k != "key"}
        for ref in (did, "secret-flow"):
            assert (await theirs.get(f"/v1/definitions/{ref}")).status_code == 404
            assert (await theirs.get(f"/v1/definitions/{ref}", params={"version": 1})).status_code == 404
            assert (await theirs.get(f"/v1/definitions/{ref}/versions")).status_code == 404
            assert (await theirs.get(f"/v1/definitions/{ref}/variables", params={"step": "decide"})).status_code == 404
            assert (await theirs.put(f"/v1/definitions/{ref}", json=body, headers={"If-Match": "1"})).status_code == 404
            assert (await theirs.post(f"/v1/definitions/{ref}/deactivate")).status_code == 404
            assert (await theirs.post(f"/v1/definitions/{ref}/reactivate")).status_code == 404
        missing = await theirs.get(f"/v1/definitions/{uuid.uuid4()}")
        leaked = await theirs.get(f"/v1/definitions/{did}")
        assert leaked.json() | {"instance": ""} == missing.json() | {"instance": ""}
        assert [d["name"] for d in (await theirs.get("/v1/definitions")).json()["items"]] == ["Applicant Review"]
        # their Applicant Review is their own, under the same key
        their_default = (await theirs.get("/v1/definitions/applicant-review")).json()
        our_default = (await mine.get("/v1/definitions/applicant-review")).json()
        assert their_default["id"] != our_default["id"]
        # the same key in another org is another definition
        assert (await theirs.post("/v1/definitions", json=doc)).status_code == 201
        assert (await mine.get(f"/v1/definitions/{did}")).json() == ours


async def test_another_orgs_case_is_a_404_on_every_endpoint_and_nothing_changes(client, people, open_case):
    other_org = f"org_{uuid.uuid4().hex[:12]}"
    cid = await people.add("Secret", "Person", "secret@example.com")
    async with client() as mine, client(other_org) as theirs:
        case = await open_case(mine, cid)
        path = f"/v1/executions/{case['id']}"
        assert (await theirs.get(path)).status_code == 404
        assert (await theirs.patch(path, json={"metadata": {"x": 1}})).status_code == 404
        assert (await theirs.post(f"{path}/status", json={"status": "on_hold"})).status_code == 404
        assert (await theirs.post(f"{path}/cancel")).status_code == 404
        assert (await theirs.delete(path)).status_code == 404
        missing = await theirs.get(f"/v1/executions/{uuid.uuid4()}")
        assert (await theirs.get(path)).json() | {"instance": ""} == missing.json() | {"instance": ""}
        for params in ({}, {"q": "secret"}, {"contact_id": cid}, {"definition_id": case["definition_id"]}):
            assert (await theirs.get("/v1/executions", params=params)).json()["items"] == []
        board = (await theirs.get("/v1/executions/board")).json()
        assert sum(c["count"] for c in board["columns"]) == 0
        # our contact is not theirs to open a case for, nor our definition version
        r = await theirs.post("/v1/executions", json={"contact_id": cid, "definition_id": "applicant-review"})
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "contact_id"
        r = await theirs.post("/v1/executions", json={"contact_id": cid, "definition_id": case["definition_id"]})
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "definition_id"
        after = (await mine.get(path)).json()
        # `state` is the workflow's live answer (no worker runs here), not what the case stores
        assert {**after, "state": None} == case


async def test_row_level_security_hides_other_orgs_rows_from_unfiltered_queries(
    client, executions_db, people, open_case
):
    org_a, org_b = f"org_{uuid.uuid4().hex[:12]}", f"org_{uuid.uuid4().hex[:12]}"
    person_a, person_b = await people.add("OfA", org=org_a), await people.add("OfB", org=org_b)
    async with client(org_a) as a, client(org_b) as b:
        await open_case(a, person_a)
        await open_case(b, person_b)

    db = Database(executions_db, pool_size=1, max_overflow=0)
    try:
        for table in TENANT_TABLES:
            everyone = sa.text(f"SELECT org_id FROM {table} WHERE org_id IN (:a, :b)")
            async with db.scoped(org_a) as session:
                assert {r[0] for r in await session.execute(everyone, {"a": org_a, "b": org_b})} == {org_a}
            async with db.unscoped() as session:
                assert (await session.execute(everyone, {"a": org_a, "b": org_b})).all() == []
        async with db.scoped(org_a) as session:
            try:
                await session.execute(
                    sa.text("INSERT INTO provisioned_orgs (org_id, provisioned_by) VALUES (:b, 'sneaky')"), {"b": org_b}
                )
                raise AssertionError("insert into another org was allowed")
            except sa.exc.DBAPIError as exc:
                assert "row-level security" in str(exc)
    finally:
        await db.dispose()

    conn = await asyncpg.connect(sa.make_url(executions_db).set(drivername="postgresql").render_as_string(False))
    try:
        assert (
            await conn.fetchval("SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user") is False
        )
        for table in TENANT_TABLES:
            assert await conn.fetchval("SELECT relforcerowsecurity FROM pg_class WHERE relname = $1", table) is True
    finally:
        await conn.close()
