"""What tasks consumes: the worker's task requests (idempotent creation) and the gateway's
membership events (the `members` projection behind `assigned_to` checks)."""

import uuid
from datetime import UTC, datetime, timedelta

from byte_contracts import topics
from byte_contracts.identity import Member, MembershipCreated, MembershipDeleted, UserUpdated
from byte_contracts.workflow import TaskRequested, TaskUpdateRequested


def request(execution: uuid.UUID, step: str, **fields) -> TaskRequested:
    return TaskRequested(execution_id=execution, step_id=step, **{"title": "Review application", **fields})


async def test_a_redelivered_or_retried_request_creates_one_task(client, publish, event_tap, org_id, h):
    execution, contact = uuid.uuid4(), uuid.uuid4()
    asked_at = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    first = h.event(
        "workflow.task_requested",
        org_id,
        str(execution),
        request(
            execution,
            "review",
            contact_id=contact,
            description="Check the file",
            assigned_role="reviewer",
            priority="high",
            due_in_seconds=86400,
            metadata={"phase": "screening"},
        ),
        actor="system:worker",
        occurred_at=asked_at,
    )
    # the same step asked again under another envelope id (a retried activity without a fixed id)
    retried = h.event(
        "workflow.task_requested",
        org_id,
        str(execution),
        request(execution, "review", title="Other"),
        actor="system:worker",
    )
    sentinel = h.event(
        "workflow.task_requested",
        org_id,
        str(execution),
        request(execution, "approve", title="Manager approval", task_type="approval", assigned_role="manager"),
        actor="system:worker",
    )
    async with event_tap(topics.TASKS) as tap, client() as api:
        for envelope in (first, first, retried, first, sentinel):
            await publish(envelope)

        async def both_steps():
            items = (await api.get("/v1/tasks", params={"execution": str(execution), "sort": "created_at"})).json()[
                "items"
            ]
            return items if any(t["created_by_step_id"] == "approve" for t in items) else None

        items = await h.eventually(both_steps)  # same key, same partition: everything before it was handled
        # Only this process's tasks: other tasks processes on the shared broker (other sessions,
        # their own databases and consumer groups) take in the same requests and emit their own.
        ours = {t["id"] for t in items}
        created = await tap.collect(
            lambda e: e.org_id == org_id and e.type == "task.created" and e.subject in ours, count=2, settle=2
        )

    assert [t["created_by_step_id"] for t in items] == ["review", "approve"]
    review = items[0]
    assert review["title"] == "Review application" and review["description"] == "Check the file"
    assert (review["assigned_role"], review["assigned_to"], review["priority"]) == ("reviewer", None, "high")
    assert review["contact_id"] == str(contact) and review["workflow_execution_id"] == str(execution)
    assert datetime.fromisoformat(review["due_date"]) == asked_at + timedelta(days=1)
    assert review["metadata"] == {"phase": "screening"} and review["created_by"] == "system:worker"
    assert items[1]["task_type"] == "approval" and items[1]["status"] == "todo"
    assert len(created) == 2
    made = {e.data["task"]["created_by_step_id"]: e for e, _, _ in created}
    assert made["review"].causation_id == str(first.id) and made["review"].actor == "system:worker"


async def test_a_request_naming_a_stranger_leaves_the_task_unassigned(client, publish, org_id, h):
    execution = uuid.uuid4()
    await publish(
        h.event(
            "identity.membership.created",
            org_id,
            "user_known",
            MembershipCreated(member=Member(user_id="user_known", org_id=org_id, roles=["hr"])),
        )
    )
    async with client() as api:

        async def known_is_member():
            r = await api.post("/v1/tasks", json={"title": "probe", "assigned_to": "user_known"})
            return r.status_code == 201

        await h.eventually(known_is_member)
        for step, user in [("s1", "user_known"), ("s2", "user_stranger")]:
            await publish(
                h.event(
                    "workflow.task_requested",
                    org_id,
                    str(execution),
                    request(execution, step, assigned_to=user),
                    actor="system:worker",
                )
            )

        async def two():
            items = (await api.get("/v1/tasks", params={"execution": str(execution), "sort": "created_at"})).json()[
                "items"
            ]
            return items if len(items) == 2 else None

        known, stranger = await h.eventually(two)
    assert known["assigned_to"] == "user_known" and "unresolved_assignee" not in known["metadata"]
    assert stranger["assigned_to"] is None and stranger["metadata"] == {"unresolved_assignee": "user_stranger"}


async def test_a_request_that_cannot_be_a_task_is_dead_lettered_and_creates_nothing(
    tasks_service, client, publish, event_tap, org_id, h
):
    execution = uuid.uuid4()
    poison = h.event(
        "workflow.task_requested", org_id, str(execution), request(execution, "bad", title="   "), actor="system:worker"
    )
    async with event_tap(topics.dead_letter(topics.WORKFLOW)) as dlq, client() as api:
        await publish(poison)
        await publish(
            h.event(
                "workflow.task_requested", org_id, str(execution), request(execution, "good"), actor="system:worker"
            )
        )

        # every tasks process of the session consumes `workflow` (each its own group): ours is
        # the letter our service's group wrote
        group = f"{tasks_service.env['CONSUMER_GROUP']}.workflow".encode()

        async def dead():
            records = await dlq.records(count=1, timeout=1)
            return [
                r for r in records if str(poison.id).encode() in r.value and dict(r.headers).get("dlq_group") == group
            ]

        [record] = await h.eventually(dead)
        assert "task title" in dict(record.headers)["dlq_error"].decode()

        async def good_one():
            return (await api.get("/v1/tasks", params={"execution": str(execution)})).json()["items"]

        items = await h.eventually(good_one)
    assert [t["created_by_step_id"] for t in items] == ["good"]


async def test_membership_events_drive_who_may_be_assigned(client, publish, event_tap, org_id, h):
    user = "user_dana"
    t0 = datetime.now(UTC)
    async with client() as api, event_tap(topics.TASKS) as tap:
        refused = await api.post("/v1/tasks", json={"title": "for dana", "assigned_to": user})
        assert h.is_problem(refused, 422) and refused.json()["errors"][0]["field"] == "assigned_to"

        await publish(
            h.event(
                "identity.membership.created",
                org_id,
                user,
                MembershipCreated(
                    member=Member(user_id=user, org_id=org_id, roles=["reviewer"], email="dana@example.com")
                ),
                occurred_at=t0,
            )
        )

        async def assignable():
            r = await api.post("/v1/tasks", json={"title": "for dana", "assigned_to": user})
            return r.json() if r.status_code == 201 else None

        todo = await h.eventually(assignable)
        working = (await api.post("/v1/tasks", json={"title": "dana working", "assigned_to": user})).json()
        await api.patch(f"/v1/tasks/{working['id']}/status", json={"status": "in_progress"})
        finished = (await api.post("/v1/tasks", json={"title": "dana done", "assigned_to": user})).json()
        finished = (await api.patch(f"/v1/tasks/{finished['id']}/status", json={"status": "done"})).json()

        # removed from the org: can no longer be assigned; open tasks go back to the pool
        await publish(
            h.event(
                "identity.membership.deleted",
                org_id,
                user,
                MembershipDeleted(user_id=user),
                occurred_at=t0 + timedelta(seconds=10),
            )
        )

        async def released():
            items = (await api.get("/v1/tasks", params={"assignee": user, "status": ["todo", "in_progress"]})).json()
            return not items["items"]

        await h.eventually(released)
        assert (await api.get(f"/v1/tasks/{todo['id']}")).json()["assigned_to"] is None
        after = (await api.get(f"/v1/tasks/{working['id']}")).json()
        assert (after["assigned_to"], after["status"]) == (None, "todo")
        assert (await api.get(f"/v1/tasks/{finished['id']}")).json() == finished
        unclaimed = await tap.collect(lambda e: e.org_id == org_id and e.type == "task.unclaimed", count=2, settle=1)
        assert sorted(e.subject for e, _, _ in unclaimed) == sorted([todo["id"], working["id"]])
        assert all(e.data["reason"] == "member_removed" and e.actor == "system:tasks" for e, _, _ in unclaimed)
        assert h.is_problem(await api.post("/v1/tasks", json={"title": "x", "assigned_to": user}), 422)

        # a late, older update does not bring them back; a sentinel on the same key shows it was handled
        await publish(
            h.event(
                "identity.user.updated",
                org_id,
                user,
                UserUpdated(member=Member(user_id=user, org_id=org_id, roles=["reviewer"])),
                occurred_at=t0 + timedelta(seconds=5),
            )
        )
        await publish(
            h.event(
                "identity.membership.created",
                org_id,
                user,
                MembershipCreated(member=Member(user_id="user_sentinel", org_id=org_id)),
                occurred_at=t0 + timedelta(seconds=20),
            )
        )

        async def sentinel_known():
            r = await api.post("/v1/tasks", json={"title": "s", "assigned_to": "user_sentinel"})
            return r.status_code == 201

        await h.eventually(sentinel_known)
        assert h.is_problem(await api.post("/v1/tasks", json={"title": "x", "assigned_to": user}), 422)

        # re-invited later: assignable again
        await publish(
            h.event(
                "identity.membership.created",
                org_id,
                user,
                MembershipCreated(member=Member(user_id=user, org_id=org_id, roles=["hr"])),
                occurred_at=t0 + timedelta(seconds=30),
            )
        )
        await h.eventually(assignable)


async def test_each_iteration_of_a_step_gets_its_task_and_an_escalation_returns_a_claimed_one_to_the_pool(
    client, publish, event_tap, org_id, h
):
    execution = uuid.uuid4()

    def asked(kind: str, data) -> object:
        return h.event(kind, org_id, str(execution), data, actor="system:worker")

    first, again = (
        asked("workflow.task_requested", request(execution, "review", assigned_role="reviewer", iteration=n))
        for n in (1, 2)
    )
    retried_first = asked("workflow.task_requested", request(execution, "review", title="Other", iteration=1))
    escalation = asked(
        "workflow.task_update_requested",
        TaskUpdateRequested(
            execution_id=execution,
            step_id="review",
            iteration=1,
            reason="escalation",
            assigned_role="manager",
            priority="high",
        ),
    )
    reviewer = client(user_id="user_rev", roles=["reviewer"])
    manager = client(user_id="user_mgr", roles=["manager"])
    async with client() as api, reviewer as rev, manager as mgr, event_tap(topics.TASKS) as tap:
        for envelope in (first, again, retried_first, first):
            await publish(envelope)

        async def two_tasks():
            items = (await api.get("/v1/tasks", params={"execution": str(execution), "sort": "created_at"})).json()
            return items["items"] if len(items["items"]) == 2 else None

        tasks = await h.eventually(two_tasks)
        assert [(t["created_by_step_id"], t["created_by_iteration"]) for t in tasks] == [("review", 1), ("review", 2)]
        review = tasks[0]
        claimed = await rev.patch(f"/v1/tasks/{review['id']}/claim")
        assert claimed.status_code == 200, claimed.text
        working = await rev.patch(f"/v1/tasks/{review['id']}/status", json={"status": "in_progress"})
        assert working.status_code == 200, working.text

        await publish(escalation)
        await publish(escalation)  # redelivered: changes nothing more

        async def escalated():
            task = (await api.get(f"/v1/tasks/{review['id']}")).json()
            return task if task["assigned_role"] == "manager" else None

        task = await h.eventually(escalated)
        assert (task["priority"], task["assigned_to"], task["status"]) == ("high", None, "todo")
        available = (await mgr.get("/v1/tasks/available")).json()["items"]
        assert review["id"] in {t["id"] for t in available}
        assert (await rev.patch(f"/v1/tasks/{review['id']}/claim")).status_code == 403

        # the manager completes it: task.completed names the step's iteration
        assert (await mgr.patch(f"/v1/tasks/{review['id']}/claim")).status_code == 200
        done = await mgr.patch(f"/v1/tasks/{review['id']}/status", json={"status": "done", "comment": "fine"})
        assert done.status_code == 200, done.text
        events = await tap.collect(lambda e: e.subject == review["id"], count=7, settle=1)

    kinds = [e.type for e, _, _ in events]
    assert kinds.count("task.updated") == 1, kinds  # one escalation, however often delivered
    unclaimed = next(e for e, _, _ in events if e.type == "task.unclaimed")
    assert (unclaimed.data["reason"], unclaimed.data["previous_assignee"]) == ("reassigned", "user_rev")
    completed = next(e for e, _, _ in events if e.type == "task.completed")
    assert (completed.data["created_by_step_id"], completed.data["iteration"]) == ("review", 1)
    assert completed.data["workflow_execution_id"] == str(execution)


async def test_a_case_step_says_whether_a_rejection_needs_a_comment(client, publish, org_id, h):
    execution = uuid.uuid4()
    for step, metadata in (("strict", {"comment_required_on_reject": True}), ("lenient", {})):
        await publish(
            h.event(
                "workflow.task_requested",
                org_id,
                str(execution),
                request(execution, step, task_type="approval", assigned_role="manager", metadata=metadata),
                actor="system:worker",
            )
        )
    async with client() as api:

        async def both():
            items = (await api.get("/v1/tasks", params={"execution": str(execution)})).json()["items"]
            return {t["created_by_step_id"]: t for t in items} if len(items) == 2 else None

        tasks = await h.eventually(both)
        strict, lenient = tasks["strict"], tasks["lenient"]
        refused = await api.patch(f"/v1/tasks/{strict['id']}/reject", json={})
        assert h.is_problem(refused, 422) and refused.json()["errors"][0]["field"] == "comment"
        assert (await api.get(f"/v1/tasks/{strict['id']}")).json()["status"] == "todo"
        rejected = await api.patch(f"/v1/tasks/{strict['id']}/reject", json={"comment": "incomplete file"})
        assert rejected.status_code == 200 and rejected.json()["outcome_comment"] == "incomplete file"
        waived = await api.patch(f"/v1/tasks/{lenient['id']}/reject", json={})
        assert waived.status_code == 200, waived.text
        assert (waived.json()["outcome"], waived.json()["outcome_comment"]) == ("rejected", None)
