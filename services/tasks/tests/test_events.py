"""Events on the real broker: one per change, with envelope and payload; delivery after a crash."""

import uuid

from byte_contracts import Envelope, topics
from byte_contracts.tasks import (
    TaskClaimed,
    TaskCompleted,
    TaskCreated,
    TaskDeleted,
    TaskStatusChanged,
    TaskUnclaimed,
    TaskUpdated,
)


def in_org(org_id):
    return lambda e: e.org_id == org_id


async def test_every_change_emits_its_event(client, event_tap, org_id):
    execution = uuid.uuid4()
    async with event_tap(topics.TASKS) as tap, client() as admin, client(user_id="user_ann", roles=["reviewer"]) as ann:
        task = (
            await admin.post(
                "/v1/tasks",
                json={"title": "Ev", "assigned_role": "reviewer", "workflow_execution_id": str(execution)},
                headers={"X-Request-ID": "corr-tasks-1"},
            )
        ).json()
        tid = task["id"]
        await admin.patch(f"/v1/tasks/{tid}", json={"priority": "high"})
        await admin.patch(f"/v1/tasks/{tid}", json={"priority": "high"})  # no change, no event
        await ann.patch(f"/v1/tasks/{tid}/claim")
        await ann.patch(f"/v1/tasks/{tid}/claim")  # refused, no event
        await ann.patch(f"/v1/tasks/{tid}/status", json={"status": "in_progress"})
        await ann.patch(f"/v1/tasks/{tid}/unclaim")
        await ann.patch(f"/v1/tasks/{tid}/claim")
        await ann.patch(f"/v1/tasks/{tid}/status", json={"status": "done", "comment": "all good"})
        await admin.delete(f"/v1/tasks/{tid}")
        events = await tap.collect(in_org(org_id), count=11, settle=2)

    types = [e.type for e, _, _ in events]
    assert types == [
        "task.created",
        "task.updated",
        "task.claimed",
        "task.status_changed",
        "task.status_changed",
        "task.unclaimed",
        "task.claimed",
        "task.status_changed",
        "task.completed",
        "task.deleted",
    ], types
    for envelope, headers, key in events:
        assert isinstance(envelope, Envelope)
        assert key == tid.encode() and envelope.subject == tid
        assert headers["event_type"] == envelope.type.encode()
    assert len({e.id for e, _, _ in events}) == len(events)
    assert events[0][0].correlation_id == "corr-tasks-1" and events[0][0].actor == "user_admin"
    assert events[2][0].actor == "user_ann"

    created = TaskCreated.model_validate(events[0][0].data)
    assert created.task.workflow_execution_id == execution and created.task.title == "Ev"
    assert TaskUpdated.model_validate(events[1][0].data).changed_fields == ["priority"]
    assert TaskClaimed.model_validate(events[2][0].data).claimed_by == "user_ann"
    started = TaskStatusChanged.model_validate(events[3][0].data)
    assert (started.previous_status, started.task.status) == ("todo", "in_progress")
    back = TaskStatusChanged.model_validate(events[4][0].data)
    assert (back.previous_status, back.task.status, back.task.assigned_to) == ("in_progress", "todo", None)
    unclaimed = TaskUnclaimed.model_validate(events[5][0].data)
    assert (unclaimed.previous_assignee, unclaimed.reason) == ("user_ann", "unclaimed")
    completed = TaskCompleted.model_validate(events[8][0].data)
    assert (completed.outcome, completed.comment, completed.completed_by) == ("completed", "all good", "user_ann")
    assert completed.workflow_execution_id == execution and completed.task.status == "done"
    deleted = TaskDeleted.model_validate(events[9][0].data)
    assert deleted.task_id == uuid.UUID(tid) and deleted.workflow_execution_id == execution


async def test_approval_outcomes_reach_the_worker_and_standalone_tasks_carry_no_execution(client, event_tap, org_id):
    execution = uuid.uuid4()
    async with event_tap(topics.TASKS) as tap, client() as admin:
        linked = (
            await admin.post(
                "/v1/tasks", json={"title": "Approve", "task_type": "approval", "workflow_execution_id": str(execution)}
            )
        ).json()
        alone = (await admin.post("/v1/tasks", json={"title": "Alone", "task_type": "approval"})).json()
        await admin.patch(f"/v1/tasks/{linked['id']}/reject", json={"comment": "not eligible"})
        await admin.patch(f"/v1/tasks/{alone['id']}/approve")
        events = await tap.collect(lambda e: e.org_id == org_id and e.type == "task.completed", count=2, settle=1)
    by_task = {e.subject: TaskCompleted.model_validate(e.data) for e, _, _ in events}
    assert len(events) == 2
    rejected, approved = by_task[linked["id"]], by_task[alone["id"]]
    assert (rejected.outcome, rejected.comment, rejected.workflow_execution_id) == (
        "rejected",
        "not eligible",
        execution,
    )
    assert (approved.outcome, approved.workflow_execution_id, approved.created_by_step_id) == ("approved", None, None)


async def test_events_committed_before_a_crash_are_published_after_restart(
    fresh_database, start_service, event_tap, client, org_id
):
    """Rows and outbox entries commit, the service is SIGKILLed before its relay runs; the
    restarted service publishes every one of them, once."""
    db = fresh_database("tasks")
    service = start_service("tasks", database_url=db, outbox_relay_enabled="false", consumers_enabled="false")
    async with event_tap(topics.TASKS) as tap:
        async with client(service=service) as api:
            ids = [(await api.post("/v1/tasks", json={"title": f"K{i}"})).json()["id"] for i in range(10)]
            claimed = (await api.patch(f"/v1/tasks/{ids[0]}/claim")).json()
            assert claimed["assigned_to"] == "user_admin"
        assert await tap.collect(in_org(org_id), timeout=2) == []
        service.kill()

        service.start(outbox_relay_enabled="true")
        events = await tap.collect(in_org(org_id), count=11, settle=3)
    assert sorted(e.subject for e, _, _ in events if e.type == "task.created") == sorted(ids)
    assert [e.subject for e, _, _ in events if e.type == "task.claimed"] == [ids[0]]
    assert len(events) == 11 and len({e.id for e, _, _ in events}) == 11
