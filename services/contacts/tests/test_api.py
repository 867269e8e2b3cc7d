"""The contacts HTTP API against a real service process, PostgreSQL and Kafka."""

import asyncio
import csv
import io
import uuid

import pytest
from byte_testing import eventually
from byte_testing.http import metric_value


def ann(**over):
    return {"first_name": "Ann", "last_name": "Lee", "email": f"ann.{uuid.uuid4().hex[:6]}@example.com", **over}


async def test_create_get_update_delete(client):
    async with client() as api:
        created = await api.post(
            "/v1/contacts",
            json=ann(phone="555-0100", tags=["Applicant", "applicant"], metadata={"badge": "12"}, zip="30214"),
        )
        assert created.status_code == 201, created.text
        body = created.json()
        assert body["tags"] == ["Applicant"]
        assert body["status"] == "active"
        assert created.headers["location"] == f"/v1/contacts/{body['id']}"

        got = await api.get(f"/v1/contacts/{body['id']}")
        assert got.status_code == 200 and got.json() == body

        patched = await api.patch(f"/v1/contacts/{body['id']}", json={"city": "Fayetteville", "phone": None})
        assert patched.status_code == 200, patched.text
        assert patched.json()["city"] == "Fayetteville" and patched.json()["phone"] is None
        assert patched.json()["first_name"] == "Ann"
        assert patched.json()["updated_at"] >= body["updated_at"]

        assert (await api.delete(f"/v1/contacts/{body['id']}")).status_code == 204
        assert (await api.get(f"/v1/contacts/{body['id']}")).status_code == 404
        assert (await api.delete(f"/v1/contacts/{body['id']}")).status_code == 404


async def test_duplicate_email_is_a_conflict(client):
    async with client() as api:
        first = await api.post("/v1/contacts", json=ann(email="dup@example.com"))
        assert first.status_code == 201
        again = await api.post("/v1/contacts", json=ann(email="DUP@example.com"))
        assert again.status_code == 409
        assert again.headers["content-type"].startswith("application/problem+json")
        other = await api.post("/v1/contacts", json=ann())
        moved = await api.patch(f"/v1/contacts/{other.json()['id']}", json={"email": "dup@EXAMPLE.com"})
        assert moved.status_code == 409
        assert (await api.get(f"/v1/contacts/{other.json()['id']}")).json()["email"] == other.json()["email"]


async def test_search_is_case_insensitive_substring_of_name_email_phone(client):
    async with client() as api:
        for first, last, email, phone in [
            ("Maria", "Gonzalez", "mg@sheriff.example", "770-555-0101"),
            ("Mario", "Rossi", "rossi@example.com", "404-555-0199"),
            ("Zed", "Percent_50%", "z@example.com", None),
        ]:
            assert (
                await api.post(
                    "/v1/contacts", json={"first_name": first, "last_name": last, "email": email, "phone": phone}
                )
            ).status_code == 201

        async def names(**params):
            r = await api.get("/v1/contacts", params=params)
            assert r.status_code == 200, r.text
            return sorted(c["first_name"] for c in r.json()["items"])

        assert await names(q="MARI") == ["Maria", "Mario"]
        assert await names(q="gonz") == ["Maria"]
        assert await names(q="SHERIFF.example") == ["Maria"]
        assert await names(q="555-0199") == ["Mario"]
        assert await names(q="maria gonzalez") == ["Maria"]
        assert await names(q="_50%") == ["Zed"]
        assert await names(q="%") == ["Zed"]
        assert await names(q="nobody") == []


async def test_filters_by_status_and_tag(client):
    async with client() as api:
        await api.post("/v1/contacts", json=ann(first_name="A", status="lead", tags=["deputy"]))
        await api.post("/v1/contacts", json=ann(first_name="B", status="active", tags=["deputy", "k9"]))
        await api.post("/v1/contacts", json=ann(first_name="C", status="inactive"))
        by_status = (await api.get("/v1/contacts", params={"status": "lead"})).json()["items"]
        assert [c["first_name"] for c in by_status] == ["A"]
        by_tag = (await api.get("/v1/contacts", params={"tag": "deputy", "sort": "first_name"})).json()["items"]
        assert [c["first_name"] for c in by_tag] == ["A", "B"]
        both = (await api.get("/v1/contacts", params={"tag": "deputy", "status": "active"})).json()["items"]
        assert [c["first_name"] for c in both] == ["B"]


@pytest.mark.parametrize("sort", ["-created_at", "created_at", "last_name", "-last_name", "first_name", "-updated_at"])
async def test_keyset_pagination_walks_every_row_once_in_order(client, sort):
    async with client() as api:
        names = [f"{c}{i}" for i, c in enumerate("dbeacfghij" * 3)]
        for n in names:
            assert (await api.post("/v1/contacts", json={"first_name": n.upper(), "last_name": n})).status_code == 201
        seen, cursor, pages = [], None, 0
        while True:
            params = {"limit": 4, "sort": sort}
            if cursor:
                params["cursor"] = cursor
            r = await api.get("/v1/contacts", params=params)
            assert r.status_code == 200, r.text
            page = r.json()
            assert len(page["items"]) <= 4
            seen += page["items"]
            pages += 1
            cursor = page["next_cursor"]
            if not cursor:
                break
        assert len(seen) == len(names) and len({c["id"] for c in seen}) == len(names)
        assert pages == 8
        field = sort.lstrip("-")
        keys = [(c[field].lower() if "name" in field else c[field], c["id"]) for c in seen]
        assert keys == sorted(keys, reverse=sort.startswith("-"))


async def test_cursor_from_another_sort_or_garbage_is_a_400(client):
    async with client() as api:
        for _ in range(3):
            await api.post("/v1/contacts", json=ann())
        cursor = (await api.get("/v1/contacts", params={"limit": 1})).json()["next_cursor"]
        assert cursor
        wrong_sort = await api.get("/v1/contacts", params={"limit": 1, "cursor": cursor, "sort": "last_name"})
        assert wrong_sort.status_code == 400
        assert wrong_sort.json()["errors"][0]["field"] == "cursor"
        for garbage in ["!!!", "e30", "eyJzIjoiLWNyZWF0ZWRfYXQiLCJ2IjpbMSwyXX0", "x" * 2000]:
            r = await api.get("/v1/contacts", params={"cursor": garbage})
            assert r.status_code in (400, 422), (garbage, r.text)
            assert r.headers["content-type"].startswith("application/problem+json")


async def test_export_streams_the_filtered_list_as_csv(client):
    async with client() as api:
        await asyncio.gather(
            *[
                api.post(
                    "/v1/contacts",
                    json={
                        "first_name": f"P{i}",
                        "last_name": "Exp",
                        "tags": ["x"] if i % 2 else [],
                        "metadata": {"n": i},
                    },
                )
                for i in range(60)
            ]
        )
        await api.post("/v1/contacts", json={"first_name": "=HYPERLINK(1)", "last_name": "Exp", "tags": ["x"]})
        async with api.stream("GET", "/v1/contacts/export", params={"tag": "x", "sort": "first_name"}) as r:
            assert r.status_code == 200
            assert r.headers["content-type"].startswith("text/csv")
            assert r.headers["x-export-format"] == "rows-trailer"
            assert "content-length" not in r.headers  # streamed, not built whole
            text = "".join([chunk async for chunk in r.aiter_text()])
        body, trailer = text.removesuffix("\r\n").rsplit("\r\n", 1)
        rows = list(csv.DictReader(io.StringIO(body)))
        assert trailer == f"# rows={len(rows)} complete"  # what a client checks before trusting the file
        assert len(rows) == 31
        assert rows[0]["first_name"] == "'=HYPERLINK(1)"
        assert all(r["tags"] == "x" for r in rows)
        empty = await api.get("/v1/contacts/export", params={"q": "no such person"})
        header, trailer = empty.text.strip().splitlines()
        assert header.split(",")[0] == "id" and trailer == "# rows=0 complete"


async def test_concurrent_upserts_of_one_email_end_in_one_contact(client):
    async with client() as api:
        email = f"race.{uuid.uuid4().hex[:6]}@example.com"
        answers = await asyncio.gather(
            *[
                api.post(
                    "/v1/contacts/upsert",
                    json={
                        "first_name": f"Racer{i}",
                        "email": email.upper() if i % 2 else email,
                        "tags": [f"t{i}"],
                        "metadata": {f"k{i}": i},
                    },
                )
                for i in range(20)
            ]
        )
        assert all(a.status_code in (200, 201) for a in answers), [a.text for a in answers]
        assert sum(a.json()["created"] for a in answers) == 1
        assert len({a.json()["contact"]["id"] for a in answers}) == 1
        listed = (await api.get("/v1/contacts", params={"q": email})).json()["items"]
        assert len(listed) == 1
        assert sorted(listed[0]["tags"]) == sorted(f"t{i}" for i in range(20))
        assert listed[0]["metadata"] == {f"k{i}": i for i in range(20)}


async def test_upsert_changes_only_what_was_sent(client):
    async with client() as api:
        email = f"keep.{uuid.uuid4().hex[:6]}@example.com"
        first = await api.post(
            "/v1/contacts/upsert", json={"first_name": "Kim", "email": email, "phone": "555", "city": "Tyrone"}
        )
        assert first.status_code == 201
        second = await api.post("/v1/contacts/upsert", json={"first_name": "Kimberly", "email": email})
        assert second.status_code == 200 and second.json()["created"] is False
        contact = second.json()["contact"]
        assert (contact["first_name"], contact["phone"], contact["city"]) == ("Kimberly", "555", "Tyrone")


BAD_BODIES = [
    ({"first_name": "A", "shoe_size": 9}, "shoe_size"),
    ({"first_name": ""}, "first_name"),
    ({"first_name": "A" * 101}, "first_name"),
    ({"first_name": 12}, "first_name"),
    ({"first_name": "A", "email": "not-an-email"}, "email"),
    ({"first_name": "A", "status": "deceased"}, "status"),
    ({"first_name": "A", "tags": "vip"}, "tags"),
    ({"first_name": "A", "tags": [""]}, "tags.0"),
    ({"first_name": "A", "tags": [f"t{i}" for i in range(51)]}, "tags"),
    ({"first_name": "A", "metadata": {"blob": "x" * 20000}}, "metadata"),
    ({"first_name": "A", "avatar_url": "javascript:alert(1)"}, "avatar_url"),
    ({"first_name": "A", "phone": "call me maybe"}, "phone"),
    ({"first_name": "A", "last_contacted_at": "yesterday"}, "last_contacted_at"),
    ({"last_name": "NoFirst"}, "first_name"),
]


@pytest.mark.parametrize("body,field", BAD_BODIES)
async def test_bad_input_is_a_4xx_naming_the_field_and_writes_nothing(client, body, field):
    async with client() as api:
        r = await api.post("/v1/contacts", json=body)
        assert r.status_code == 422, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        problem = r.json()
        assert problem["status"] == 422 and problem["title"]
        assert field in [e["field"] for e in problem["errors"]], problem
        assert (await api.get("/v1/contacts")).json()["items"] == []


async def test_bad_queries_and_bodies_are_4xx(client):
    async with client() as api:
        contact = (await api.post("/v1/contacts", json=ann())).json()
        for params in [
            {"limit": 0},
            {"limit": 10_000},
            {"limit": "ten"},
            {"sort": "password"},
            {"status": "x"},
            {"q": "x" * 500},
        ]:
            r = await api.get("/v1/contacts", params=params)
            assert r.status_code == 422, (params, r.text)
            assert r.headers["content-type"].startswith("application/problem+json")
        assert (await api.get("/v1/contacts/not-a-uuid")).status_code == 404  # no such resource: ids are UUIDs
        r = await api.post("/v1/contacts", content=b"{not json", headers={"content-type": "application/json"})
        assert r.status_code == 422
        r = await api.patch(f"/v1/contacts/{contact['id']}", json={"first_name": None})
        assert r.status_code == 422
        r = await api.patch(f"/v1/contacts/{contact['id']}", json={"org_id": "org_other"})
        assert r.status_code == 422
        assert (await api.get(f"/v1/contacts/{contact['id']}")).json() == contact


async def test_requests_without_a_valid_identity_are_401(contacts_service, make_token, org_id):
    import httpx
    from byte_platform.identity import HEADER, generate_key_pair, mint

    async with httpx.AsyncClient(base_url=contacts_service.url) as raw:
        assert (await raw.get("/v1/contacts")).status_code == 401
        assert (await raw.get("/v1/contacts", headers={HEADER: "garbage"})).status_code == 401
        forged = mint(generate_key_pair()[0], user_id="u", org_id=org_id, roles=["admin"])
        assert (await raw.get("/v1/contacts", headers={HEADER: forged})).status_code == 401
        expired = make_token(org_id, ttl=-60)
        r = await raw.get("/v1/contacts", headers={HEADER: expired})
        assert r.status_code == 401 and r.headers["content-type"].startswith("application/problem+json")


async def test_roles_guest_reads_user_writes_and_exports_admin_deletes(client):
    async with client() as admin, client(roles=["guest"]) as guest, client(roles=["user"]) as user:
        made = await user.post("/v1/contacts", json=ann())
        assert made.status_code == 201
        cid = made.json()["id"]
        assert (await guest.get(f"/v1/contacts/{cid}")).status_code == 200
        assert (await guest.post("/v1/contacts", json=ann())).status_code == 403
        assert (await guest.patch(f"/v1/contacts/{cid}", json={"city": "X"})).status_code == 403
        assert (await user.patch(f"/v1/contacts/{cid}", json={"city": "X"})).status_code == 200
        assert (await user.delete(f"/v1/contacts/{cid}")).status_code == 403
        # an export is the org's contacts in bulk: a guest looks record by record
        refused = await guest.get("/v1/contacts/export")
        assert refused.status_code == 403 and "exports are for members" in refused.json()["detail"]
        assert (await user.get("/v1/contacts/export")).status_code == 200
        assert (await admin.delete(f"/v1/contacts/{cid}")).status_code == 204


async def test_health_and_metrics(contacts_service, client):
    import httpx

    async with httpx.AsyncClient(base_url=contacts_service.url) as raw:
        assert (await raw.get("/healthz")).json() == {"status": "ok"}
        ready = (await raw.get("/readyz")).json()
        assert ready["checks"] == {"database": "ok", "broker": "ok"}

        async def counts() -> tuple[float, float]:
            page = (await raw.get("/metrics")).text
            return (
                metric_value(page, "byte_outbox_published_total", topic="contacts"),
                metric_value(page, "http_requests_total", handler="/v1/contacts", method="POST", status="2xx"),
            )

        published, created = await counts()
        async with client() as api:
            assert (await api.post("/v1/contacts", json=ann())).status_code == 201

        async def counted() -> bool:
            now_published, now_created = await counts()
            assert now_created > created, f"POST /v1/contacts counted {now_created}, was {created}"
            assert now_published > published, f"published {now_published}, was {published}"
            return True

        await eventually(counted)  # the relay publishes after the commit
        r = await raw.get("/healthz", headers={"X-Request-ID": "trace-me-1"})
        assert r.headers["x-request-id"] == "trace-me-1"
