"""Org isolation: through the API (another org's contact is exactly a missing one) and in the
database itself (row-level security hides rows from a query that forgets its org filter)."""

import uuid

import asyncpg
import sqlalchemy as sa
from byte_platform.db import Database


async def test_another_orgs_contact_is_a_404_on_every_endpoint_and_nothing_changes(client, org_id):
    other_org = f"org_{uuid.uuid4().hex[:12]}"
    async with client() as mine, client(other_org) as theirs:
        contact = (
            await mine.post(
                "/v1/contacts", json={"first_name": "Secret", "email": "secret@example.com", "tags": ["classified"]}
            )
        ).json()
        cid = contact["id"]
        assert (await theirs.get(f"/v1/contacts/{cid}")).status_code == 404
        assert (await theirs.patch(f"/v1/contacts/{cid}", json={"first_name": "Pwned"})).status_code == 404
        assert (await theirs.delete(f"/v1/contacts/{cid}")).status_code == 404
        missing = await theirs.get(f"/v1/contacts/{uuid.uuid4()}")
        leaked = await theirs.get(f"/v1/contacts/{cid}")
        assert leaked.json() | {"instance": ""} == missing.json() | {"instance": ""}
        assert (await theirs.get("/v1/contacts")).json()["items"] == []
        assert (await theirs.get("/v1/contacts", params={"q": "secret"})).json()["items"] == []
        assert (await theirs.get("/v1/contacts", params={"tag": "classified"})).json()["items"] == []
        export = await theirs.get("/v1/contacts/export")
        assert "Secret" not in export.text
        # The same email in another org is another person: upsert there creates, never matches ours.
        upserted = await theirs.post("/v1/contacts/upsert", json={"first_name": "Other", "email": "secret@example.com"})
        assert upserted.status_code == 201 and upserted.json()["contact"]["id"] != cid
        # A cursor crafted from our contact's id walks nothing of ours.
        cursor_page = await theirs.get("/v1/contacts", params={"limit": 1})
        assert [c["first_name"] for c in cursor_page.json()["items"]] == ["Other"]
        assert (await mine.get(f"/v1/contacts/{cid}")).json() == contact


async def test_org_id_cannot_be_smuggled_through_body_query_or_headers(client, org_id):
    other_org = f"org_{uuid.uuid4().hex[:12]}"
    async with client() as api:
        r = await api.post("/v1/contacts", json={"first_name": "A", "org_id": other_org})
        assert r.status_code == 422
        r = await api.post(
            "/v1/contacts", params={"org_id": other_org}, headers={"X-Org-Id": other_org}, json={"first_name": "A"}
        )
        assert r.status_code == 201
    async with client(other_org) as theirs:
        assert (await theirs.get("/v1/contacts")).json()["items"] == []


async def test_row_level_security_hides_other_orgs_rows_from_unfiltered_queries(client, contacts_db):
    org_a, org_b = f"org_{uuid.uuid4().hex[:12]}", f"org_{uuid.uuid4().hex[:12]}"
    async with client(org_a) as a, client(org_b) as b:
        await a.post("/v1/contacts", json={"first_name": "OfA"})
        await b.post("/v1/contacts", json={"first_name": "OfB"})

    db = Database(contacts_db, pool_size=1, max_overflow=0)
    try:
        everyone = sa.text("SELECT first_name, org_id FROM contacts WHERE org_id IN (:a, :b)")
        async with db.scoped(org_a) as session:
            rows = (await session.execute(everyone, {"a": org_a, "b": org_b})).all()
        assert [tuple(r) for r in rows] == [("OfA", org_a)]
        async with db.unscoped() as session:
            assert (await session.execute(everyone, {"a": org_a, "b": org_b})).all() == []
        # Writing a row for another org is refused by the policy's WITH CHECK.
        async with db.scoped(org_a) as session:
            try:
                await session.execute(
                    sa.text("INSERT INTO contacts (id, org_id, first_name) VALUES (gen_random_uuid(), :b, 'Sneaky')"),
                    {"b": org_b},
                )
                raise AssertionError("insert into another org was allowed")
            except sa.exc.DBAPIError as exc:
                assert "row-level security" in str(exc)
    finally:
        await db.dispose()

    # The service's role is the table owner, not a superuser: FORCE binds it.
    conn = await asyncpg.connect(sa.make_url(contacts_db).set(drivername="postgresql").render_as_string(False))
    try:
        assert (
            await conn.fetchval("SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user") is False
        )
        assert await conn.fetchval("SELECT relforcerowsecurity FROM pg_class WHERE relname = 'contacts'") is True
    finally:
        await conn.close()
