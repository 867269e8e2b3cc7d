"""Notes on cases, contacts and tasks (authorship, roles, org isolation, their events) and the
caller's tasks on the dashboard, from the projection of `task.*` events."""

import uuid
from datetime import UTC, datetime, timedelta

from byte_contracts.tasks import TaskCreated, TaskSnapshot


def _task(case_id: str, contact_id: str, assignee: str | None, due: datetime | None, status="todo") -> TaskSnapshot:
    now = datetime.now(UTC)
    return TaskSnapshot(
        id=uuid.uuid4(), workflow_execution_id=uuid.UUID(case_id), contact_id=uuid.UUID(contact_id),
        assigned_to=assignee, title=f"review {status}", task_type="standard", status=status, priority="high",
        position=1.0, due_date=due, created_by_step_id="review", created_at=now, updated_at=now,
    )  # fmt: skip


async def test_notes_authorship_roles_and_org_isolation(client, people, open_case, publish, h, org_id):
    contact_id = await people.add("Nia", "Note", "nia@example.com")
    async with client() as admin:
        case = await open_case(admin, contact_id)
    now = datetime.now(UTC)
    overdue = _task(case["id"], contact_id, "user_mia", now - timedelta(days=1))
    soon = _task(case["id"], contact_id, "user_mia", now + timedelta(days=2))
    later = _task(case["id"], contact_id, "user_mia", None)
    done = _task(case["id"], contact_id, "user_mia", now - timedelta(days=3), status="done")
    others = _task(case["id"], contact_id, "user_bo", now - timedelta(days=1))
    for task in (overdue, soon, later, done, others):
        await publish(h.event("task.created", org_id, str(task.id), TaskCreated(task=task)))

    text = "  <b>not html</b>\n\tkept as given  "
    async with client(roles=("user",), user_id="user_mia") as mia, client(roles=("user",), user_id="user_bo") as bo:
        on_case = await mia.post("/v1/notes", json={"entity_type": "case", "entity_id": case["id"], "content": text})
        assert on_case.status_code == 201, on_case.text
        note = on_case.json()
        assert (note["content"], note["author_id"], note["is_internal"]) == (text, "user_mia", True)
        assert (note["execution_id"], note["contact_id"], note["task_id"]) == (case["id"], contact_id, None)
        on_contact = await mia.post(
            "/v1/notes",
            json={"entity_type": "contact", "entity_id": contact_id, "content": "called", "is_internal": False},
        )
        assert on_contact.status_code == 201, on_contact.text

        async def on_task():  # once the task's event reached the projection
            r = await bo.post("/v1/notes", json={"entity_type": "task", "entity_id": str(soon.id), "content": "done?"})
            assert r.status_code == 201, r.text
            return r.json()

        task_note = await h.eventually(on_task)
        assert (task_note["execution_id"], task_note["contact_id"]) == (case["id"], contact_id)

        # only the author or an admin changes a note
        assert (await bo.patch(f"/v1/notes/{note['id']}", json={"content": "mine now"})).status_code == 403
        assert (await bo.delete(f"/v1/notes/{note['id']}")).status_code == 403
        edited = await mia.patch(f"/v1/notes/{note['id']}", json={"content": "second thoughts"})
        assert edited.status_code == 200 and edited.json()["content"] == "second thoughts", edited.text
        async with client(user_id="user_admin") as admin:
            r = await admin.patch(f"/v1/notes/{task_note['id']}", json={"is_internal": False})
            assert r.status_code == 200 and r.json()["is_internal"] is False, r.text
        assert (await bo.delete(f"/v1/notes/{task_note['id']}")).status_code == 204
        assert (await bo.delete(f"/v1/notes/{task_note['id']}")).status_code == 404

        # plain text with a documented limit; unknown entities are 404
        too_long = {"entity_type": "case", "entity_id": case["id"], "content": "x" * 10_001}
        assert (await mia.post("/v1/notes", json=too_long)).status_code == 422
        for entity_type in ("case", "contact", "task"):
            r = await mia.post(
                "/v1/notes", json={"entity_type": entity_type, "entity_id": str(uuid.uuid4()), "content": "?"}
            )
            assert h.is_problem(r, 404), r.text

        # an entity's notes, newest first, by pages
        second = await mia.post("/v1/notes", json={"entity_type": "case", "entity_id": case["id"], "content": "2nd"})
        page = (await mia.get("/v1/notes", params={"entity_type": "case", "entity_id": case["id"], "limit": 1})).json()
        assert [n["id"] for n in page["items"]] == [second.json()["id"]] and page["next_cursor"]
        rest = await mia.get(
            "/v1/notes",
            params={"entity_type": "case", "entity_id": case["id"], "limit": 1, "cursor": page["next_cursor"]},
        )
        assert [n["id"] for n in rest.json()["items"]] == [note["id"]] and rest.json()["next_cursor"] is None

        # my tasks: open ones assigned to me, soonest due first, undated last
        async def mine():
            r = await mia.get("/v1/dashboard/my-tasks")
            assert r.status_code == 200, r.text
            assert r.json()["open"] == 3, r.json()
            return r.json()

        my = await h.eventually(mine)
        assert (my["overdue"], my["due_this_week"]) == (1, 1)
        assert [t["task_id"] for t in my["items"]] == [str(overdue.id), str(soon.id), str(later.id)]

    async with client(roles=("guest",), user_id="user_gus") as guest:
        r = await guest.post("/v1/notes", json={"entity_type": "case", "entity_id": case["id"], "content": "hi"})
        assert h.is_problem(r, 403), r.text
        listed = await guest.get("/v1/notes", params={"entity_type": "contact", "entity_id": contact_id})
        assert [n["content"] for n in listed.json()["items"]] == ["called"]

        # the notes' events reach the case's trail, with their authors
        async def noted():
            trail = (await guest.get(f"/v1/activity/cases/{case['id']}", params={"limit": 200})).json()["items"]
            notes = [(i["action"], i["actor"]) for i in trail if i["entity_type"] == "note"]
            assert ("note.deleted", "user_bo") in notes and ("note.updated", "user_admin") in notes, notes
            return notes

        notes = await h.eventually(noted)
        assert notes.count(("note.created", "user_mia")) == 3  # two on the case, one on its contact
        edit = next(
            i
            for i in (await guest.get(f"/v1/activity/cases/{case['id']}", params={"action": "note.updated"})).json()[
                "items"
            ]
            if i["actor"] == "user_mia"
        )
        assert edit["details"]["content"] == {"before": text, "after": "second thoughts"}

    # another org: no such case, no such note, nothing listed
    async with client(f"org_{uuid.uuid4().hex[:12]}") as stranger:
        r = await stranger.post("/v1/notes", json={"entity_type": "case", "entity_id": case["id"], "content": "x"})
        assert h.is_problem(r, 404), r.text
        assert h.is_problem(await stranger.patch(f"/v1/notes/{note['id']}", json={"content": "x"}), 404)
        assert h.is_problem(await stranger.delete(f"/v1/notes/{note['id']}"), 404)
        listed = await stranger.get("/v1/notes", params={"entity_type": "case", "entity_id": case["id"]})
        assert listed.json()["items"] == []
        assert (await stranger.get("/v1/dashboard/my-tasks")).json()["open"] == 0
