"""Claim, unclaim, status, approve, reject, move: every legal path and every illegal one. An
illegal request is a 4xx problem and leaves the task exactly as it was."""

import asyncio
import contextlib
import uuid

import pytest


@pytest.fixture
def people(client):
    """admin, two reviewers and a plain user of this test's org, as open clients."""

    @contextlib.asynccontextmanager
    async def _people():
        async with (
            client() as admin,
            client(user_id="user_ann", roles=["reviewer"]) as ann,
            client(user_id="user_ben", roles=["reviewer"]) as ben,
            client(user_id="user_cat", roles=["user"]) as cat,
        ):
            yield admin, ann, ben, cat

    return _people


async def unchanged(api, task, h, response, status):
    assert h.is_problem(response, status), response.text
    assert (await api.get(f"/v1/tasks/{task['id']}")).json() == task


async def test_standard_lifecycle_claim_work_complete(people, h):
    async with people() as (admin, ann, ben, _cat):
        task = (await admin.post("/v1/tasks", json={"title": "Review", "assigned_role": "reviewer"})).json()
        claimed = await ann.patch(f"/v1/tasks/{task['id']}/claim")
        assert claimed.status_code == 200 and claimed.json()["assigned_to"] == "user_ann"
        assert claimed.json()["status"] == "todo"
        started = await ann.patch(f"/v1/tasks/{task['id']}/status", json={"status": "in_progress"})
        assert started.status_code == 200 and started.json()["status"] == "in_progress"
        noop = await ann.patch(f"/v1/tasks/{task['id']}/status", json={"status": "in_progress"})
        assert noop.json() == started.json()
        done = await ann.patch(f"/v1/tasks/{task['id']}/status", json={"status": "done", "comment": "references ok"})
        assert done.status_code == 200, done.text
        body = done.json()
        assert (body["status"], body["outcome"], body["outcome_comment"]) == ("done", "completed", "references ok")
        assert body["completed_at"] is not None and body["assigned_to"] == "user_ann"

        # done is final: nothing more happens to it
        for api, path, payload, status in [
            (ann, "status", {"status": "done"}, 409),
            (ann, "status", {"status": "todo"}, 409),
            (admin, "status", {"status": "in_progress"}, 409),
            (ben, "claim", None, 409),
            (admin, "claim", None, 409),
            (ann, "unclaim", None, 409),
            (admin, "unclaim", None, 409),
            (ann, "approve", None, 409),
            (ann, "move", {"status": "todo"}, 409),
            (admin, "", {"title": "edited"}, 409),
        ]:
            r = await api.patch(f"/v1/tasks/{task['id']}/{path}".rstrip("/"), json=payload)
            await unchanged(admin, body, h, r, status)


async def test_approval_tasks_are_finished_only_by_approve_or_reject(people, h):
    async with people() as (admin, ann, ben, _cat):
        approval = (
            await admin.post(
                "/v1/tasks", json={"title": "Manager approval", "task_type": "approval", "assigned_role": "reviewer"}
            )
        ).json()
        standard = (await admin.post("/v1/tasks", json={"title": "Plain", "assigned_to": "user_admin"})).json()
        # approve / reject a standard task
        await unchanged(admin, standard, h, await admin.patch(f"/v1/tasks/{standard['id']}/approve"), 409)
        await unchanged(
            admin, standard, h, await admin.patch(f"/v1/tasks/{standard['id']}/reject", json={"comment": "no"}), 409
        )
        # only the assignee (or an admin) decides; a reviewer must claim first
        await unchanged(admin, approval, h, await ann.patch(f"/v1/tasks/{approval['id']}/approve"), 403)
        approval = (await ann.patch(f"/v1/tasks/{approval['id']}/claim")).json()
        await unchanged(admin, approval, h, await ben.patch(f"/v1/tasks/{approval['id']}/approve"), 403)
        await unchanged(
            admin, approval, h, await ben.patch(f"/v1/tasks/{approval['id']}/reject", json={"comment": "mine now"}), 403
        )
        # a status change cannot finish it; reject needs a comment
        await unchanged(
            admin, approval, h, await ann.patch(f"/v1/tasks/{approval['id']}/status", json={"status": "done"}), 409
        )
        await unchanged(
            admin, approval, h, await ann.patch(f"/v1/tasks/{approval['id']}/move", json={"status": "done"}), 409
        )
        for body in [None, {}, {"comment": ""}, {"comment": "   "}]:
            await unchanged(admin, approval, h, await ann.patch(f"/v1/tasks/{approval['id']}/reject", json=body), 422)
        rejected = await ann.patch(f"/v1/tasks/{approval['id']}/reject", json={"comment": "  failed background check "})
        assert rejected.status_code == 200, rejected.text
        r = rejected.json()
        assert (r["status"], r["outcome"], r["outcome_comment"]) == ("done", "rejected", "failed background check")
        await unchanged(admin, r, h, await ann.patch(f"/v1/tasks/{approval['id']}/approve"), 409)
        await unchanged(
            admin, r, h, await admin.patch(f"/v1/tasks/{approval['id']}/reject", json={"comment": "x"}), 409
        )

        # approve: comment optional, with or without a body; an admin needs no claim
        second = (await admin.post("/v1/tasks", json={"title": "A2", "task_type": "approval"})).json()
        approved = await admin.patch(f"/v1/tasks/{second['id']}/approve")
        assert approved.status_code == 200 and approved.json()["outcome"] == "approved"
        assert approved.json()["outcome_comment"] is None and approved.json()["assigned_to"] is None
        third = (
            await admin.post("/v1/tasks", json={"title": "A3", "task_type": "approval", "assigned_to": "user_admin"})
        ).json()
        with_comment = await admin.patch(f"/v1/tasks/{third['id']}/approve", json={"comment": "welcome"})
        assert (with_comment.json()["outcome"], with_comment.json()["outcome_comment"]) == ("approved", "welcome")


async def test_role_rules_for_claiming(people, client, h):
    async with people() as (admin, ann, _ben, cat), client(user_id="user_hr", roles=["hr"]) as hr:
        task = (await admin.post("/v1/tasks", json={"title": "Reviewers only", "assigned_role": "reviewer"})).json()
        refused = await cat.patch(f"/v1/tasks/{task['id']}/claim")
        await unchanged(admin, task, h, refused, 403)
        assert "reviewer" in refused.json()["detail"]
        await unchanged(admin, task, h, await hr.patch(f"/v1/tasks/{task['id']}/claim"), 403)
        assert (await admin.patch(f"/v1/tasks/{task['id']}/claim")).json()["assigned_to"] == "user_admin"
        held = await ann.patch(f"/v1/tasks/{task['id']}/claim")
        assert h.is_problem(held, 409) and held.json()["assigned_to"] == "user_admin"
        assert "user_admin" in held.json()["detail"]
        again = await admin.patch(f"/v1/tasks/{task['id']}/claim")
        assert h.is_problem(again, 409) and "you" in again.json()["detail"]

        # a task with no role is anyone's to claim
        open_task = (await admin.post("/v1/tasks", json={"title": "Anyone"})).json()
        assert (await cat.patch(f"/v1/tasks/{open_task['id']}/claim")).json()["assigned_to"] == "user_cat"
        # directly assigned = claimed
        direct = (await admin.post("/v1/tasks", json={"title": "Ann's", "assigned_to": "user_admin"})).json()
        await unchanged(admin, direct, h, await cat.patch(f"/v1/tasks/{direct['id']}/claim"), 409)


async def test_only_the_assignee_or_an_admin_works_a_task(people, h):
    async with people() as (admin, ann, ben, cat):
        task = (await admin.post("/v1/tasks", json={"title": "Ann's", "assigned_role": "reviewer"})).json()
        # unclaimed: nobody but an admin may change its status
        await unchanged(admin, task, h, await ann.patch(f"/v1/tasks/{task['id']}/status", json={"status": "done"}), 403)
        task = (await ann.patch(f"/v1/tasks/{task['id']}/claim")).json()
        for api in (ben, cat):
            for status in ("in_progress", "done"):
                r = await api.patch(f"/v1/tasks/{task['id']}/status", json={"status": status})
                await unchanged(admin, task, h, r, 403)
                assert "user_ann" in r.json()["detail"]
            await unchanged(
                admin, task, h, await api.patch(f"/v1/tasks/{task['id']}/move", json={"status": "in_progress"}), 403
            )
        forced = await admin.patch(f"/v1/tasks/{task['id']}/status", json={"status": "done"})
        assert forced.status_code == 200 and forced.json()["outcome"] == "completed"
        assert h.is_problem(
            await admin.patch(f"/v1/tasks/{task['id']}/status", json={"status": "in_progress", "comment": "x"}), 422
        )


async def test_unclaim_returns_the_task_to_the_pool(people, h):
    async with people() as (admin, ann, ben, _cat):
        task = (await admin.post("/v1/tasks", json={"title": "Pool", "assigned_role": "reviewer"})).json()
        await unchanged(admin, task, h, await ann.patch(f"/v1/tasks/{task['id']}/unclaim"), 409)  # not claimed
        await ann.patch(f"/v1/tasks/{task['id']}/claim")
        task = (await ann.patch(f"/v1/tasks/{task['id']}/status", json={"status": "in_progress"})).json()
        await unchanged(admin, task, h, await ben.patch(f"/v1/tasks/{task['id']}/unclaim"), 403)
        released = await ann.patch(f"/v1/tasks/{task['id']}/unclaim")
        assert released.status_code == 200
        assert (released.json()["assigned_to"], released.json()["status"]) == (None, "todo")
        assert task["id"] in [t["id"] for t in (await ben.get("/v1/tasks/available")).json()["items"]]
        await ben.patch(f"/v1/tasks/{task['id']}/claim")
        by_admin = await admin.patch(f"/v1/tasks/{task['id']}/unclaim")
        assert by_admin.status_code == 200 and by_admin.json()["assigned_to"] is None


async def test_edit_and_delete_permissions(people, h):
    execution = str(uuid.uuid4())
    async with people() as (admin, ann, ben, cat):
        own = (await cat.post("/v1/tasks", json={"title": "Cat's note"})).json()
        linked = (
            await cat.post("/v1/tasks", json={"title": "Cat's case task", "workflow_execution_id": execution})
        ).json()
        assigned = (await admin.post("/v1/tasks", json={"title": "For Ann", "assigned_role": "reviewer"})).json()
        assigned = (await ann.patch(f"/v1/tasks/{assigned['id']}/claim")).json()

        # edit: the assignee, the creator, or an admin; reassigning: an admin or a standalone task's creator
        assert (await ann.patch(f"/v1/tasks/{assigned['id']}", json={"priority": "high"})).status_code == 200
        assigned = (await admin.get(f"/v1/tasks/{assigned['id']}")).json()
        await unchanged(
            admin, assigned, h, await ben.patch(f"/v1/tasks/{assigned['id']}", json={"priority": "low"}), 403
        )
        await unchanged(
            admin,
            assigned,
            h,
            await ann.patch(f"/v1/tasks/{assigned['id']}", json={"assigned_to": "user_ann", "assigned_role": "hr"}),
            403,
        )
        assert (await cat.patch(f"/v1/tasks/{own['id']}", json={"assigned_role": "reviewer"})).status_code == 200
        own = (await admin.get(f"/v1/tasks/{own['id']}")).json()
        await unchanged(
            admin, linked, h, await cat.patch(f"/v1/tasks/{linked['id']}", json={"assigned_role": "hr"}), 403
        )
        reassigned = await admin.patch(f"/v1/tasks/{assigned['id']}", json={"assigned_to": "user_admin"})
        assert reassigned.status_code == 200 and reassigned.json()["assigned_to"] == "user_admin"

        # delete: an admin, or the creator of a standalone task
        await unchanged(admin, own, h, await ann.delete(f"/v1/tasks/{own['id']}"), 403)
        await unchanged(admin, linked, h, await cat.delete(f"/v1/tasks/{linked['id']}"), 403)
        assert (await cat.delete(f"/v1/tasks/{own['id']}")).status_code == 204
        assert (await admin.delete(f"/v1/tasks/{linked['id']}")).status_code == 204


async def column(api, status):
    items = (await api.get("/v1/tasks", params={"status": status, "sort": "position", "limit": 200})).json()["items"]
    return [t["title"] for t in items]


async def test_kanban_moves_reorder_and_change_columns(people, h):
    async with people() as (admin, _ann, _ben, cat):
        ids = {}
        for name in "ABCD":
            ids[name] = (await admin.post("/v1/tasks", json={"title": name, "assigned_to": "user_admin"})).json()["id"]
        assert await column(admin, "todo") == ["A", "B", "C", "D"]

        async def move(name, api=admin, **body):
            r = await api.patch(f"/v1/tasks/{ids[name]}/move", json=body)
            assert r.status_code == 200, r.text
            return r.json()

        await move("D", status="todo", after_id=ids["A"])
        assert await column(admin, "todo") == ["A", "D", "B", "C"]
        await move("A", status="todo", before_id=ids["C"])
        assert await column(admin, "todo") == ["D", "B", "A", "C"]
        await move("D", status="todo")  # no anchor: the bottom
        assert await column(admin, "todo") == ["B", "A", "C", "D"]
        await move("B", cat, status="todo", after_id=ids["D"])  # any writer may reorder a column
        assert await column(admin, "todo") == ["A", "C", "D", "B"]

        moved = await move("C", status="in_progress")
        assert moved["status"] == "in_progress"
        await move("A", status="in_progress", before_id=ids["C"])
        assert await column(admin, "in_progress") == ["A", "C"]
        assert await column(admin, "todo") == ["D", "B"]
        finished = await move("A", status="done")
        assert (finished["status"], finished["outcome"]) == ("done", "completed")

        # bad anchors: another column, itself, a stranger, both at once
        b = (await admin.get(f"/v1/tasks/{ids['B']}")).json()
        for body, field in [
            ({"status": "todo", "after_id": ids["C"]}, "after_id"),
            ({"status": "todo", "before_id": ids["B"]}, "before_id"),
            ({"status": "todo", "after_id": str(uuid.uuid4())}, "after_id"),
        ]:
            r = await admin.patch(f"/v1/tasks/{ids['B']}/move", json=body)
            await unchanged(admin, b, h, r, 422)
            assert r.json()["errors"][0]["field"] == field
        both = await admin.patch(
            f"/v1/tasks/{ids['B']}/move", json={"status": "todo", "after_id": ids["D"], "before_id": ids["D"]}
        )
        await unchanged(admin, b, h, both, 422)


async def test_positions_stay_ordered_when_the_gap_runs_out(client):
    async with client() as api:
        top = (await api.post("/v1/tasks", json={"title": "top"})).json()["id"]
        (await api.post("/v1/tasks", json={"title": "bottom"})).json()
        # Always drop the newest card right under `top`: halves the same gap until a renumber.
        expected = ["top", "bottom"]
        for i in range(40):
            card = (await api.post("/v1/tasks", json={"title": f"c{i}"})).json()["id"]
            r = await api.patch(f"/v1/tasks/{card}/move", json={"status": "todo", "after_id": top})
            assert r.status_code == 200, r.text
            expected.insert(1, f"c{i}")
        assert await column(api, "todo") == expected
        items = (await api.get("/v1/tasks", params={"status": "todo", "sort": "position", "limit": 200})).json()[
            "items"
        ]
        assert len({t["position"] for t in items}) == len(items)


async def test_concurrent_moves_into_one_column_keep_a_total_order(client):
    async with client() as api:
        anchor = (await api.post("/v1/tasks", json={"title": "anchor", "assigned_to": "user_admin"})).json()["id"]
        last = (await api.post("/v1/tasks", json={"title": "last", "assigned_to": "user_admin"})).json()["id"]
        cards = [
            (await api.post("/v1/tasks", json={"title": f"m{i}", "assigned_to": "user_admin"})).json()["id"]
            for i in range(30)
        ]
        await api.patch(f"/v1/tasks/{anchor}/move", json={"status": "in_progress"})
        await api.patch(f"/v1/tasks/{last}/move", json={"status": "in_progress"})
        answers = await asyncio.gather(
            *[api.patch(f"/v1/tasks/{card}/move", json={"status": "in_progress", "after_id": anchor}) for card in cards]
        )
        assert [a.status_code for a in answers] == [200] * 30, [a.text for a in answers if a.status_code != 200]
        order = await column(api, "in_progress")
        assert (
            order[0] == "anchor" and order[-1] == "last" and sorted(order[1:-1]) == sorted(f"m{i}" for i in range(30))
        )
        items = (await api.get("/v1/tasks", params={"status": "in_progress", "sort": "position"})).json()["items"]
        assert len({t["position"] for t in items}) == 32  # no two cards share a place

        # and 30 concurrent drops at the bottom of another column land in 30 distinct places below it
        answers = await asyncio.gather(
            *[api.patch(f"/v1/tasks/{card}/move", json={"status": "todo"}) for card in cards]
        )
        assert all(a.status_code == 200 for a in answers)
        todo = (await api.get("/v1/tasks", params={"status": "todo", "sort": "position"})).json()["items"]
        assert len(todo) == 30 and len({t["position"] for t in todo}) == 30
