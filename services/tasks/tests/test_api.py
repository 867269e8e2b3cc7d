"""The tasks HTTP API against a real service process, PostgreSQL and Kafka: CRUD, filters,
pagination, `available`, bad input."""

import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from byte_platform.identity import HEADER, generate_key_pair, mint
from byte_testing.http import metric_value


def iso(dt: datetime) -> str:
    return dt.isoformat()


NOW = datetime.now(UTC)


async def test_create_get_update_delete(client, h):
    execution, contact = str(uuid.uuid4()), str(uuid.uuid4())
    async with client() as api:
        created = await api.post(
            "/v1/tasks",
            json={
                "title": "  Review application  ",
                "description": "Check references",
                "priority": "high",
                "workflow_execution_id": execution,
                "contact_id": contact,
                "due_date": iso(NOW + timedelta(days=2)),
                "metadata": {"form": "fs-1"},
            },
        )
        assert created.status_code == 201, created.text
        task = created.json()
        assert created.headers["location"] == f"/v1/tasks/{task['id']}"
        assert task["title"] == "Review application"
        assert (task["status"], task["task_type"], task["priority"]) == ("todo", "standard", "high")
        assert task["workflow_execution_id"] == execution and task["contact_id"] == contact
        assert task["created_by"] == "user_admin" and task["assigned_to"] is None and task["outcome"] is None
        assert task["created_by_step_id"] is None and task["metadata"] == {"form": "fs-1"}

        assert (await api.get(f"/v1/tasks/{task['id']}")).json() == task

        patched = await api.patch(
            f"/v1/tasks/{task['id']}",
            json={"title": "Review", "description": None, "due_date": None, "assigned_role": "hr"},
        )
        assert patched.status_code == 200, patched.text
        body = patched.json()
        assert (body["title"], body["description"], body["due_date"], body["assigned_role"]) == (
            "Review",
            None,
            None,
            "hr",
        )
        assert body["priority"] == "high" and body["updated_at"] >= task["updated_at"]
        same = await api.patch(f"/v1/tasks/{task['id']}", json={"title": "Review"})
        assert same.json() == body  # nothing changed: no write, no event

        assert (await api.delete(f"/v1/tasks/{task['id']}")).status_code == 204
        assert h.is_problem(await api.get(f"/v1/tasks/{task['id']}"), 404)
        assert h.is_problem(await api.delete(f"/v1/tasks/{task['id']}"), 404)


async def test_new_tasks_land_at_the_bottom_of_todo(client):
    async with client() as api:
        positions = [(await api.post("/v1/tasks", json={"title": f"T{i}"})).json()["position"] for i in range(4)]
    assert positions == sorted(positions) and len(set(positions)) == 4


async def test_list_filters(client):
    execution, contact = str(uuid.uuid4()), str(uuid.uuid4())
    async with client() as admin, client(user_id="user_ann", roles=["user"]) as ann:

        async def make(title, **fields):
            r = await admin.post("/v1/tasks", json={"title": title, **fields})
            assert r.status_code == 201, r.text
            return r.json()

        mine = (await ann.post("/v1/tasks", json={"title": "ann's own", "assigned_to": "user_ann"})).json()
        await make("admin's", assigned_to="user_admin", priority="high", task_type="approval")
        await make(
            "for reviewers",
            assigned_role="reviewer",
            workflow_execution_id=execution,
            due_date=iso(NOW - timedelta(days=1)),
        )
        await make("for hr", assigned_role="hr", contact_id=contact, due_date=iso(NOW + timedelta(days=3)))
        done = await make("done one", assigned_to="user_admin", due_date=iso(NOW - timedelta(days=2)))
        assert (await admin.patch(f"/v1/tasks/{done['id']}/status", json={"status": "done"})).status_code == 200
        started = await make("started", assigned_to="user_admin")
        await admin.patch(f"/v1/tasks/{started['id']}/status", json={"status": "in_progress"})

        async def titles(api=admin, **params):
            r = await api.get("/v1/tasks", params=params)
            assert r.status_code == 200, r.text
            return sorted(t["title"] for t in r.json()["items"])

        assert await titles(ann, assignee="me") == ["ann's own"]
        assert await titles(assignee="me") == ["admin's", "done one", "started"]
        assert await titles(assignee="user_ann") == ["ann's own"]
        assert await titles(assignee="none") == ["for hr", "for reviewers"]
        assert await titles(status="done") == ["done one"]
        assert await titles(status=["todo", "in_progress"], assignee="me") == ["admin's", "started"]
        assert await titles(role="reviewer") == ["for reviewers"]
        assert await titles(execution=execution) == ["for reviewers"]
        assert await titles(contact=contact) == ["for hr"]
        assert await titles(task_type="approval") == ["admin's"]
        assert await titles(priority="high") == ["admin's"]
        assert await titles(due_before=iso(NOW)) == ["done one", "for reviewers"]
        assert await titles(due_after=iso(NOW)) == ["for hr"]
        assert await titles(overdue="true") == ["for reviewers"]
        assert "for reviewers" not in await titles(overdue="false")
        assert len(await titles(overdue="false")) == 5
        assert mine["created_by"] == "user_ann"


async def test_available_lists_unclaimed_open_tasks_of_my_roles(client):
    async with (
        client() as admin,
        client(user_id="user_rev", roles=["reviewer", "hr"]) as rev,
        client(user_id="user_plain", roles=["user"]) as plain,
    ):
        ids = {}
        for title, fields in [
            ("rev open", {"assigned_role": "reviewer"}),
            ("hr open", {"assigned_role": "hr"}),
            ("manager open", {"assigned_role": "manager"}),
            ("no role", {}),
            ("rev claimed", {"assigned_role": "reviewer"}),
            ("rev done", {"assigned_role": "reviewer"}),
        ]:
            ids[title] = (await admin.post("/v1/tasks", json={"title": title, **fields})).json()["id"]
        assert (await rev.patch(f"/v1/tasks/{ids['rev claimed']}/claim")).status_code == 200
        assert (await admin.patch(f"/v1/tasks/{ids['rev done']}/status", json={"status": "done"})).status_code == 200

        r = await rev.get("/v1/tasks/available")
        assert r.status_code == 200
        assert sorted(t["title"] for t in r.json()["items"]) == ["hr open", "rev open"]
        assert (await plain.get("/v1/tasks/available")).json()["items"] == []
        page = await rev.get("/v1/tasks/available", params={"limit": 1, "sort": "created_at"})
        assert [t["title"] for t in page.json()["items"]] == ["rev open"]
        rest = await rev.get(
            "/v1/tasks/available", params={"limit": 1, "sort": "created_at", "cursor": page.json()["next_cursor"]}
        )
        assert [t["title"] for t in rest.json()["items"]] == ["hr open"] and rest.json()["next_cursor"] is None


@pytest.mark.parametrize("sort", ["-created_at", "created_at", "due_date", "-due_date", "position", "-updated_at"])
async def test_keyset_pagination_walks_every_row_once_in_order(client, sort):
    async with client() as api:
        for i in range(15):
            due = iso(NOW + timedelta(hours=i * 7 % 11)) if i % 3 else None
            assert (await api.post("/v1/tasks", json={"title": f"P{i}", "due_date": due})).status_code == 201
        seen, cursor, pages = [], None, 0
        while True:
            params = {"limit": 4, "sort": sort, **({"cursor": cursor} if cursor else {})}
            r = await api.get("/v1/tasks", params=params)
            assert r.status_code == 200, r.text
            seen += r.json()["items"]
            pages += 1
            cursor = r.json()["next_cursor"]
            if not cursor:
                break
    assert len(seen) == 15 and len({t["id"] for t in seen}) == 15 and pages == 4
    field = sort.lstrip("-")
    far = "9999-12-31T00:00:00Z"
    keys = [
        (datetime.fromisoformat((t[field] or far).replace("Z", "+00:00")) if field != "position" else t[field], t["id"])
        for t in seen
    ]
    assert keys == sorted(keys, reverse=sort.startswith("-"))


async def test_bad_cursors_are_a_400(client, h):
    async with client() as api:
        for _ in range(3):
            await api.post("/v1/tasks", json={"title": "c"})
        cursor = (await api.get("/v1/tasks", params={"limit": 1})).json()["next_cursor"]
        assert cursor
        wrong = await api.get("/v1/tasks", params={"limit": 1, "cursor": cursor, "sort": "position"})
        assert h.is_problem(wrong, 400) and wrong.json()["errors"][0]["field"] == "cursor"
        import base64
        import json

        def forge(values, sort="-created_at"):
            return base64.urlsafe_b64encode(json.dumps({"s": sort, "v": values}).encode()).decode().rstrip("=")

        for garbage in [
            "!!!",
            "e30",
            forge([1, 2]),
            forge(["2026-01-01T00:00:00", str(uuid.uuid4())]),
            forge(["yesterday", str(uuid.uuid4())]),
            forge(["2026-01-01T00:00:00+00:00", "nope"]),
            forge(["x", str(uuid.uuid4())], "position"),
            forge([True, str(uuid.uuid4())], "position"),
            forge([1e400, str(uuid.uuid4())], "position"),
            "x" * 2000,
        ]:
            r = await api.get(
                "/v1/tasks", params={"cursor": garbage, "sort": "position" if "cG9z" in garbage else "-created_at"}
            )
            assert r.status_code in (400, 422), (garbage, r.text)
            assert r.headers["content-type"].startswith("application/problem+json")
        r = await api.get("/v1/tasks/available", params={"cursor": "!!!"})
        assert h.is_problem(r, 400)


BAD_BODIES = [
    ({"title": "A", "shoe_size": 9}, "shoe_size"),
    ({"title": ""}, "title"),
    ({"title": "   "}, "title"),
    ({"title": "A" * 501}, "title"),
    ({"title": 12}, "title"),
    ({"description": "no title"}, "title"),
    ({"title": "A", "status": "done"}, "status"),
    ({"title": "A", "outcome": "approved"}, "outcome"),
    ({"title": "A", "org_id": "org_other"}, "org_id"),
    ({"title": "A", "task_type": "chore"}, "task_type"),
    ({"title": "A", "priority": "urgent"}, "priority"),
    ({"title": "A", "assigned_role": "has spaces"}, "assigned_role"),
    ({"title": "A", "workflow_execution_id": "not-a-uuid"}, "workflow_execution_id"),
    ({"title": "A", "contact_id": 5}, "contact_id"),
    ({"title": "A", "due_date": "tomorrow"}, "due_date"),
    ({"title": "A", "due_date": "2026-01-01T00:00:00"}, "due_date"),
    ({"title": "A", "metadata": {"blob": "x" * 20000}}, "metadata"),
    ({"title": "A", "metadata": []}, "metadata"),
    ({"title": "A", "assigned_to": "user_stranger"}, "assigned_to"),
]


@pytest.mark.parametrize("body,field", BAD_BODIES)
async def test_bad_input_is_a_4xx_naming_the_field_and_writes_nothing(client, body, field, h):
    async with client() as api:
        r = await api.post("/v1/tasks", json=body)
        assert h.is_problem(r, 422), r.text
        assert field in [e["field"] for e in r.json()["errors"]], r.json()
        assert (await api.get("/v1/tasks")).json()["items"] == []


async def test_assigning_to_yourself_needs_no_membership_event(client, h):
    async with client(user_id="user_first_request", roles=["user"]) as api:
        r = await api.post("/v1/tasks", json={"title": "mine", "assigned_to": "user_first_request"})
        assert r.status_code == 201 and r.json()["assigned_to"] == "user_first_request"
        r = await api.patch(f"/v1/tasks/{r.json()['id']}", json={"assigned_to": "user_nobody_knows"})
        assert h.is_problem(r, 422) and r.json()["errors"][0]["field"] == "assigned_to"


async def test_bad_queries_and_bodies_are_4xx(client, h):
    async with client() as api:
        task = (await api.post("/v1/tasks", json={"title": "q"})).json()
        for params in [
            {"limit": 0},
            {"limit": 10_000},
            {"limit": "ten"},
            {"sort": "title"},
            {"status": "x"},
            {"execution": "nope"},
            {"contact": "nope"},
            {"due_before": "soon"},
            {"due_after": "2026-01-01"},
            {"overdue": "maybe"},
            {"assignee": ""},
            {"assignee": "x" * 300},
            {"task_type": "x"},
        ]:
            r = await api.get("/v1/tasks", params=params)
            assert h.is_problem(r, 422), (params, r.text)
        assert h.is_problem(await api.get("/v1/tasks/not-a-uuid"), 404)
        assert h.is_problem(await api.patch("/v1/tasks/not-a-uuid/claim"), 404)
        r = await api.post("/v1/tasks", content=b"{not json", headers={"content-type": "application/json"})
        assert h.is_problem(r, 422)
        for body in [
            {"title": None},
            {"priority": None},
            {"metadata": None},
            {"status": "done"},
            {"position": 3},
            {"org_id": "org_other"},
            {"created_by": "someone"},
            {"workflow_execution_id": str(uuid.uuid4())},
        ]:
            r = await api.patch(f"/v1/tasks/{task['id']}", json=body)
            assert h.is_problem(r, 422), (body, r.text)
        for path, body in [
            ("status", {"status": "archived"}),
            ("status", {}),
            ("move", {"status": "todo", "position": 1}),
            ("move", {}),
            ("reject", {"reason": "no"}),
            ("reject", {"comment": "  "}),
            ("approve", {"comment": ""}),
            ("approve", {"verdict": "yes"}),
        ]:
            r = await api.patch(f"/v1/tasks/{task['id']}/{path}", json=body)
            assert h.is_problem(r, 422), (path, body, r.text)
        r = await api.patch(
            f"/v1/tasks/{task['id']}/approve", content=b"{nope", headers={"content-type": "application/json"}
        )
        assert h.is_problem(r, 422)
        assert h.is_problem(await api.put(f"/v1/tasks/{task['id']}", json={"title": "x"}), 405)
        assert (await api.get(f"/v1/tasks/{task['id']}")).json() == task


async def test_requests_without_a_valid_identity_are_401(tasks_service, make_token, org_id, h):
    async with httpx.AsyncClient(base_url=tasks_service.url) as raw:
        assert h.is_problem(await raw.get("/v1/tasks"), 401)
        assert h.is_problem(await raw.patch(f"/v1/tasks/{uuid.uuid4()}/claim", headers={HEADER: "garbage"}), 401)
        forged = mint(generate_key_pair()[0], user_id="u", org_id=org_id, roles=["admin"])
        assert h.is_problem(await raw.post("/v1/tasks", json={"title": "x"}, headers={HEADER: forged}), 401)
        assert h.is_problem(await raw.get("/v1/tasks", headers={HEADER: make_token(org_id, ttl=-60)}), 401)


async def test_guests_read_but_change_nothing(client, h):
    async with client() as admin, client(user_id="user_guest", roles=["guest"]) as guest:
        task = (await admin.post("/v1/tasks", json={"title": "g"})).json()
        assert (await guest.get(f"/v1/tasks/{task['id']}")).status_code == 200
        assert (await guest.get("/v1/tasks")).status_code == 200
        assert h.is_problem(await guest.post("/v1/tasks", json={"title": "x"}), 403)
        for method, path, body in [
            ("PATCH", "", {"title": "x"}),
            ("DELETE", "", None),
            ("PATCH", "/claim", None),
            ("PATCH", "/unclaim", None),
            ("PATCH", "/status", {"status": "in_progress"}),
            ("PATCH", "/approve", None),
            ("PATCH", "/reject", {"comment": "no"}),
            ("PATCH", "/move", {"status": "todo"}),
        ]:
            r = await guest.request(method, f"/v1/tasks/{task['id']}{path}", json=body)
            assert h.is_problem(r, 403), (path, r.text)
        assert (await admin.get(f"/v1/tasks/{task['id']}")).json() == task


async def test_health_and_metrics(tasks_service, client, h):
    async with httpx.AsyncClient(base_url=tasks_service.url) as raw:
        assert (await raw.get("/healthz")).json() == {"status": "ok"}
        assert (await raw.get("/readyz")).json()["checks"] == {"database": "ok", "broker": "ok"}

        async def published() -> float:
            return metric_value((await raw.get("/metrics")).text, "byte_outbox_published_total", topic="tasks")

        before = await published()
        async with client() as api:
            assert (await api.post("/v1/tasks", json={"title": "counted"})).status_code == 201

        async def counted() -> float:
            after = await published()
            assert after > before, f"published {after}, was {before}"
            return after

        await h.eventually(counted)  # the relay publishes after the commit
