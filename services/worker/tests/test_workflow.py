"""The case workflow on Temporal's time-skipping test server: every step type and option, signals
(early, duplicate, deleted tasks, status changes, cancellation), failures and event ids."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from byte_testing import eventually
from byte_worker.messages import (
    APPROVAL_SUBMITTED,
    CANCEL,
    CHANGE_STATUS,
    TASK_COMPLETED,
    TASK_DELETED,
    CancelSignal,
    ChangeStatusSignal,
    case_workflow_id,
    event_id,
)
from temporalio.client import WorkflowFailureError
from temporalio.testing import WorkflowEnvironment

from .conftest import (
    Cases,
    Outside,
    case_input,
    completion,
    definition,
    deletion,
    running_cases,
    state_where,
    step,
    waiting_on,
)

REVIEW_TASK = {"title": "Review {{ contact.first_name }}", "assigned_role": "reviewer"}
APPROVAL_TASK = {"title": "Decide", "assigned_role": "manager", "task_type": "approval"}


def task_steps(wait: dict | None = None, *, approval: bool = False) -> list[dict]:
    """An assign_task and its wait, with the wait's extra config."""
    kind = "wait_for_approval" if approval else "wait_for_task"
    return [
        step("task", "assign_task", APPROVAL_TASK if approval else REVIEW_TASK),
        step("wait", kind, {"task_step": "task", **(wait or {})}),
    ]


async def test_every_other_step_type_does_what_it_says(cases: Cases, time_skipping: WorkflowEnvironment):
    document = definition(
        step("move", "update_contact", {"fields": {"city": "{{ contact.city }} North", "phone": "555-0100"}}),
        step(
            "task",
            "assign_task",
            {
                "title": "Call {{ contact.first_name }} in {{ contact.city }}",
                "description": "Score {{ execution.variables.score }}, case {{ execution.id }}",
                "assigned_to": "user_7",
                "priority": "low",
                "due_in": {"hours": 4},
            },
        ),
        step(
            "bump",
            "update_task",
            {
                "task_step": "task",
                "title": "Urgent: {{ contact.phone }}",
                "priority": "high",
                "due_in": {"minutes": 30},
            },
        ),
        step("wait", "wait_for_task", {"task_step": "task"}),
        step(
            "north",
            "condition",
            {"field": "contact.city", "operator": "contains", "value": "north", "then": "tell", "else": "end"},
        ),
        step(
            "tell",
            "send_email",
            {
                "to": "{{ contact.email }}, desk@example.com",
                "subject": "{{ org.name }}: {{ steps.wait.outcome }} by {{ steps.wait.completed_by }}",
                "body": "Now in {{ contact.city }}; notes: {{ steps.wait.comment | default('none') }}",
            },
        ),
        step("pause", "delay", {"days": 2}),
        step("done", "update_status", {"status": "interview_complete"}),
        variables=[{"name": "score", "type": "number", "default": 7}],
    )
    case = case_input(document)
    handle = await cases.start(case)
    await waiting_on(cases, handle, "task")
    await handle.signal(TASK_COMPLETED, completion("task", by="user_7"))
    delayed = await state_where(cases, handle, "the delay", lambda s: s.waiting_for == "delay")
    assert delayed.current_step_id == "pause"
    assert delayed.waiting_until == delayed.waiting_since + timedelta(days=2)
    final = await handle.result()

    out = cases.outside
    contact_id = case.contact["id"]
    [moved] = out.of_type("contact.update_requested")
    assert moved["data"] == {
        "contact_id": contact_id,
        "execution_id": str(case.execution_id),
        "step_id": "move",
        "fields": {"city": "Springfield North", "phone": "555-0100"},
    }
    [task] = out.of_type("workflow.task_requested")
    assert task["data"]["title"] == "Call Ada in Springfield North"  # the workflow's copy of the contact moved too
    assert task["data"]["description"] == f"Score 7, case {case.execution_id}"
    assert task["data"]["assigned_to"] == "user_7"
    assert task["data"]["assigned_role"] is None
    assert task["data"]["priority"] == "low"
    assert task["data"]["due_in_seconds"] == 4 * 3600
    assert task["data"]["contact_id"] == contact_id
    [bump] = out.of_type("workflow.task_update_requested")
    assert bump["data"]["reason"] == "update_task"
    assert bump["data"]["step_id"] == "task"
    assert bump["data"]["iteration"] == 1
    assert bump["data"]["title"] == "Urgent: 555-0100"
    assert bump["data"]["priority"] == "high"
    assert bump["data"]["due_in_seconds"] == 1800
    assert bump["data"]["assigned_role"] is None
    [email] = out.emails
    assert email.to == ["ada@example.com", "desk@example.com"]
    assert email.subject == "Lakeside Sheriff's Office: completed by user_7"
    assert email.text == "Now in Springfield North; notes: none"
    entered = {e["data"]["step_id"]: e["data"] for e in out.of_type("workflow.step_entered")}
    assert entered["pause"]["waiting_for"] == "delay"
    assert entered["wait"]["waiting_for"] == "task"
    assert entered["tell"]["waiting_for"] is None
    assert entered["pause"]["phase_id"] == "main"
    done = out.of_type("execution.status_changed")[0]["data"]
    assert (done["previous_status"], done["status"], done["step_id"]) == ("submitted", "interview_complete", "done")
    # The delay lasted two days of workflow time.
    [paused] = [r for r in final.history if r.step_id == "pause"]
    assert paused.left_at - paused.entered_at >= timedelta(days=2)
    assert final.finished == "completed"
    assert out.of_type("workflow.completed")[0]["data"]["final_status"] == "interview_complete"


async def test_a_condition_that_does_not_hold_takes_else_and_end_ends(cases: Cases):
    document = definition(
        step(
            "north",
            "condition",
            {"field": "contact.city", "operator": "eq", "value": "Paris", "then": "x", "else": "end"},
        ),
        step("x", "update_status", {"status": "approved"}),
    )
    final = await (await cases.start(case_input(document))).result()
    assert [r.step_id for r in final.history] == ["start", "north"]
    assert final.history[-1].outcome == "else"
    assert final.status == "submitted"
    assert cases.outside.types()[-1] == "workflow.completed"


async def test_every_condition_operator_decides_at_run_time(cases: Cases):
    """A chain of conditions, each `then` to the next, `else` to a failing status: a case that
    passes every one reaches the end approved. Each operator's false side is in
    test_interpreter.py."""
    checks = [
        ("execution.variables.level", "eq", 3),
        ("contact.city", "ne", "Paris"),
        ("contact.city", "in", ["Springfield", "Shelbyville"]),
        ("contact.city", "not_in", ["Paris"]),
        ("contact.email", "exists", None),
        ("execution.variables.level", "gt", 2),
        ("execution.variables.start", "lt", "2030-01-01"),
        ("contact.email", "contains", "EXAMPLE"),
        ("contact.phone", "not_in", ["555"]),  # missing: true for not_in
        ("contact.phone", "ne", "555"),  # and for ne
    ]
    steps = []
    for i, (field, operator, value) in enumerate(checks):
        config = {"field": field, "operator": operator, "then": f"c{i + 1}" if i + 1 < len(checks) else "yes"}
        config["else"] = "no"
        if value is not None:
            config["value"] = value
        steps.append(step(f"c{i}", "condition", config))
    document = definition(
        *steps,
        step("yes", "update_status", {"status": "approved"}, next="end"),
        step("no", "update_status", {"status": "rejected"}),
        variables=[{"name": "level", "type": "number"}, {"name": "start", "type": "date"}],
    )
    case = case_input(document, variables={"level": 3, "start": "2026-11-23"})
    final = await (await cases.start(case)).result()
    assert final.status == "approved"
    assert [r.outcome for r in final.history if r.step_type == "condition"] == ["then"] * len(checks)


@pytest.mark.parametrize(
    ("on_timeout", "outcome", "last_step"),
    [
        ({"action": "continue"}, "timed_out", "after"),
        ({"action": "go_to", "step": "elsewhere"}, "timed_out", "elsewhere"),
    ],
)
async def test_a_wait_that_times_out_goes_on(cases: Cases, on_timeout, outcome, last_step):
    document = definition(
        *task_steps({"timeout": {"hours": 2}, "on_timeout": on_timeout}),
        step("after", "send_email", {"to": "a@example.com", "subject": "{{ steps.wait.outcome }}", "body": "b"}),
        step("elsewhere", "update_status", {"status": "on_hold"}),
    )
    handle = await cases.start(case_input(document))
    final = await handle.result()
    [wait] = [r for r in final.history if r.step_id == "wait"]
    assert wait.outcome == outcome
    assert timedelta(hours=2) <= wait.left_at - wait.entered_at < timedelta(hours=3)
    assert final.history[-1].step_id == "elsewhere"
    if last_step == "after":
        assert cases.outside.emails[0].subject == "timed_out"
    else:
        assert cases.outside.emails == []


async def test_an_escalation_reassigns_raises_and_notifies_once(cases: Cases, time_skipping: WorkflowEnvironment):
    escalate = {
        "action": "escalate",
        "reassign_to_role": "manager",
        "notify": {
            "to": "boss@example.com",
            "subject": "Late: {{ contact.last_name }}",
            "body": "See {{ execution.id }}",
        },
    }
    case = case_input(definition(*task_steps({"timeout": {"days": 1}, "on_timeout": escalate}, approval=True)))
    handle = await cases.start(case)
    await waiting_on(cases, handle, "task")
    await time_skipping.sleep(timedelta(days=5))
    [notice] = await eventually(lambda: cases.outside.emails)
    assert notice.to == ["boss@example.com"]
    assert notice.subject == "Late: Lovelace"
    assert notice.message_id == f"<case-{case.execution_id}.wait.1.escalation@byte>"
    [update] = cases.outside.of_type("workflow.task_update_requested")
    assert (update["data"]["assigned_role"], update["data"]["priority"]) == ("manager", None)
    await handle.signal(APPROVAL_SUBMITTED, completion("task", "approved"))
    final = await handle.result()
    assert final.history[-1].outcome == "approved"
    assert len(cases.outside.emails) == 1


async def test_signals_that_arrive_early_wait_for_their_step_and_duplicates_count_once(
    cases: Cases, time_skipping: WorkflowEnvironment
):
    """A loop re-enters the assign step: its second task is iteration 2. A completion sent
    before the case even asked for the task is honoured; a redelivered one (same event id) is
    not taken for the next iteration's."""
    document = definition(
        step("pause", "delay", {"hours": 1}),
        *task_steps(),
        step(
            "again",
            "condition",
            {"field": "steps.wait.comment", "operator": "eq", "value": "done", "then": "end", "else": "task"},
        ),
    )
    handle = await cases.start(case_input(document))
    first = completion("task", comment="more", iteration=None)
    await handle.signal(TASK_COMPLETED, first)  # before the task was even requested
    await handle.signal(TASK_COMPLETED, first)
    await time_skipping.sleep(timedelta(hours=2))
    # The early completion ended round one; a duplicate of it does not end round two.
    await state_where(
        cases,
        handle,
        "the second round",
        lambda s: s.waiting_on_step_id == "task" and [r.step_id for r in s.history].count("task") == 2,
    )
    await handle.signal(TASK_COMPLETED, first)
    await handle.signal(TASK_COMPLETED, completion("task", iteration=1, comment="stale"))  # the old task: dropped
    await handle.signal(TASK_COMPLETED, completion("task", iteration=2, comment="done"))
    final = await handle.result()

    requests = cases.outside.of_type("workflow.task_requested")
    assert [r["data"]["iteration"] for r in requests] == [1, 2]
    assert len({r["id"] for r in requests}) == 2
    assert [r.outcome for r in final.history if r.step_id == "again"] == ["else", "then"]


async def test_a_deleted_task_can_be_continued_past(cases: Cases):
    document = definition(
        *task_steps({"on_task_deleted": {"action": "continue"}}),
        step("after", "send_email", {"to": "a@example.com", "subject": "{{ steps.wait.outcome }}", "body": "b"}),
    )
    handle = await cases.start(case_input(document))
    await waiting_on(cases, handle, "task")
    await handle.signal(TASK_DELETED, deletion("task", iteration=2))  # not this task: ignored
    await handle.signal(TASK_DELETED, deletion("task"))
    await handle.result()
    assert cases.outside.emails[0].subject == "task_deleted"


async def test_a_deleted_task_can_be_escalated_into_a_new_one(cases: Cases):
    escalate = {
        "action": "escalate",
        "reassign_to_role": "manager",
        "raise_priority_to": "high",
        "notify": {"to": "boss@example.com", "subject": "Task gone", "body": "Asked again"},
    }
    case = case_input(definition(*task_steps({"on_task_deleted": escalate})))
    handle = await cases.start(case)
    await waiting_on(cases, handle, "task")
    await handle.signal(TASK_DELETED, deletion("task"))
    again = await eventually(lambda: cases.outside.of_type("workflow.task_requested")[1:])
    assert again[0]["data"]["iteration"] == 2
    assert (again[0]["data"]["assigned_role"], again[0]["data"]["priority"]) == ("manager", "high")
    # the notice goes out after the new request
    [email] = await eventually(lambda: cases.outside.emails)
    assert email.message_id == f"<case-{case.execution_id}.wait.1.task-deleted-2@byte>"
    await handle.signal(TASK_COMPLETED, completion("task", iteration=1))  # the deleted one's: too late
    await handle.signal(TASK_COMPLETED, completion("task", iteration=2, by="user_mgr"))
    final = await handle.result()
    assert final.history[-1].outcome == "completed"


async def test_a_deleted_task_puts_the_case_on_hold_until_a_person_decides(cases: Cases):
    case = case_input(definition(*task_steps(), step("after", "update_status", {"status": "approved"})))
    handle = await cases.start(case)
    await waiting_on(cases, handle, "task")
    await handle.signal(TASK_DELETED, deletion("task"))
    held = await state_where(cases, handle, "on hold", lambda s: s.on_hold_reason is not None)
    assert held.status == "on_hold"
    assert held.on_hold_reason == "the task of step 'task' (iteration 1) was deleted"
    assert held.waiting_for is None
    [hold] = await eventually(lambda: cases.outside.of_type("execution.status_changed"))
    assert (hold["data"]["previous_status"], hold["data"]["status"], hold["data"]["step_id"]) == (
        "submitted",
        "on_hold",
        "wait",
    )

    request_id = uuid.uuid4()
    change = ChangeStatusSignal(event_id="evt-1", request_id=request_id, status="in_review", actor="user_admin")
    await handle.signal(CHANGE_STATUS, change)
    resumed = await state_where(cases, handle, "off hold", lambda s: s.on_hold_reason is None and s.waiting_for)
    assert resumed.status == "in_review"
    requests = await eventually(lambda: cases.outside.of_type("workflow.task_requested")[1:])
    assert requests[0]["data"]["iteration"] == 2  # asked for again
    await handle.signal(TASK_COMPLETED, completion("task", iteration=2))
    final = await handle.result()
    assert final.status == "approved"
    manual = [e for e in cases.outside.of_type("execution.status_changed") if e["data"]["request_id"]]
    assert [(e["data"]["previous_status"], e["data"]["status"]) for e in manual] == [("on_hold", "in_review")]


async def test_a_definition_without_on_hold_still_holds_with_its_reason(cases: Cases):
    statuses = [{"key": "open", "label": "Open", "color": "blue"}, {"key": "closed", "label": "Closed", "color": "red"}]
    case = case_input(definition(*task_steps(), statuses=statuses), status="open")
    handle = await cases.start(case)
    await waiting_on(cases, handle, "task")
    await handle.signal(TASK_DELETED, deletion("task"))
    held = await state_where(cases, handle, "on hold", lambda s: s.on_hold_reason is not None)
    assert held.status == "open"
    change = ChangeStatusSignal(event_id="evt-2", request_id=uuid.uuid4(), status="closed", actor="user_admin")
    await handle.signal(CHANGE_STATUS, change)
    await waiting_on(cases, handle, "task")
    await handle.signal(TASK_COMPLETED, completion("task", iteration=2))
    final = await handle.result()
    assert final.status == "closed"
    assert [e["data"]["status"] for e in cases.outside.of_type("execution.status_changed")] == ["closed"]


async def test_a_status_change_is_applied_once_and_answered(cases: Cases):
    case = case_input(definition(*task_steps()))
    handle = await cases.start(case)
    await waiting_on(cases, handle, "task")
    request_id = uuid.uuid4()
    change = ChangeStatusSignal(event_id="evt-9", request_id=request_id, status="background_check", actor="user_a")
    await handle.signal(CHANGE_STATUS, change)
    await handle.signal(CHANGE_STATUS, change)
    unknown = ChangeStatusSignal(event_id="evt-10", request_id=uuid.uuid4(), status="teleported", actor="user_a")
    await handle.signal(CHANGE_STATUS, unknown)
    await state_where(cases, handle, "the change", lambda s: s.status == "background_check")
    await handle.signal(TASK_COMPLETED, completion("task"))
    final = await handle.result()

    [changed] = cases.outside.of_type("execution.status_changed")
    assert changed["data"]["request_id"] == str(request_id)
    assert (changed["data"]["previous_status"], changed["data"]["status"]) == ("submitted", "background_check")
    assert changed["id"] == str(
        event_id(case_workflow_id(case.execution_id), f"change_status/{request_id}", 1, "execution.status_changed")
    )
    [carrier] = [p for p in cases.outside.published if p.events[0].type == "execution.status_changed"]
    assert carrier.causation_id == "evt-9"
    assert final.status == "background_check"


async def test_a_cancel_signal_stops_the_case(cases: Cases):
    case = case_input(definition(*task_steps()))
    handle = await cases.start(case)
    await waiting_on(cases, handle, "task")
    request_id = uuid.uuid4()
    await handle.signal(CANCEL, CancelSignal(event_id="evt-c", request_id=request_id, actor="user_admin"))
    final = await handle.result()
    assert final.finished == "cancelled"
    assert final.history[-1].outcome == "cancelled"
    [cancelled] = cases.outside.of_type("workflow.cancelled")
    assert cancelled["data"]["request_id"] == str(request_id)
    assert cases.outside.types()[-1] == "workflow.cancelled"


async def test_a_cancel_signal_cuts_a_delay_short(cases: Cases):
    handle = await cases.start(case_input(definition(step("pause", "delay", {"days": 300}))))
    await state_where(cases, handle, "the delay", lambda s: s.waiting_for == "delay")
    await handle.signal(CANCEL, CancelSignal(event_id="evt-d", request_id=uuid.uuid4(), actor="user_admin"))
    final = await handle.result()
    assert final.finished == "cancelled"
    [paused] = [r for r in final.history if r.step_id == "pause"]
    assert paused.left_at - paused.entered_at < timedelta(days=300)


async def test_a_temporal_cancel_stops_the_case_too(cases: Cases):
    handle = await cases.start(case_input(definition(*task_steps())))
    await waiting_on(cases, handle, "task")
    await handle.cancel()
    final = await handle.result()
    assert final.finished == "cancelled"
    [cancelled] = cases.outside.of_type("workflow.cancelled")
    assert cancelled["data"]["request_id"] is None


async def test_a_template_reading_a_missing_value_fails_the_case_clearly(cases: Cases):
    document = definition(
        step("task", "assign_task", {"title": "Call {{ contact.phone }}", "assigned_role": "reviewer"}),
    )
    handle = await cases.start(case_input(document))
    with pytest.raises(WorkflowFailureError) as failed:
        await handle.result()
    reason = "step 'task' (assign_task): task.config.title: {{ contact.phone }} has no value in this case"
    assert failed.value.cause.message == reason
    [failure] = cases.outside.of_type("workflow.failed")
    assert failure["data"]["error"] == reason
    assert failure["data"]["step_id"] == "task"
    assert cases.outside.types() == ["workflow.step_entered", "workflow.step_entered", "workflow.failed"]
    state = await cases.state(handle)
    assert state.finished == "failed"
    assert state.history[-1].detail == reason


async def test_a_default_fills_a_missing_value(cases: Cases):
    document = definition(
        step("task", "assign_task", {"title": "Call {{ contact.phone | default('nobody') }}", "assigned_role": "r"}),
    )
    await (await cases.start(case_input(document))).result()
    assert cases.outside.of_type("workflow.task_requested")[0]["data"]["title"] == "Call nobody"


async def test_an_email_that_never_goes_out_fails_the_case(time_skipping: WorkflowEnvironment):
    async with running_cases(time_skipping.client, Outside(email_fails=True)) as cases:
        document = definition(step("tell", "send_email", {"to": "a@example.com", "subject": "s", "body": "b"}))
        handle = await cases.start(case_input(document))
        with pytest.raises(WorkflowFailureError) as failed:
            await handle.result()
    assert "step 'tell' (send_email): the email to a@example.com never went out" in str(failed.value.cause)
    assert "550 mailbox unavailable" in str(failed.value.cause)
    assert cases.outside.types()[-1] == "workflow.failed"


async def test_an_invalid_definition_fails_the_case_without_retrying(cases: Cases):
    document = definition(step("x", "update_status", {"status": "nope"}))
    handle = await cases.start(case_input(document))
    with pytest.raises(WorkflowFailureError) as failed:
        await handle.result()
    assert "the definition cannot run" in str(failed.value.cause)
    assert cases.outside.types() == ["workflow.failed"]


async def test_a_retried_publish_names_the_same_events(time_skipping: WorkflowEnvironment):
    """Kafka is down for the first attempts: the retries carry the very same event ids, and
    they are the deterministic ones (workflow id, step, iteration, type)."""
    async with running_cases(time_skipping.client, Outside(failing_publishes=3)) as cases:
        case = case_input(definition(step("done", "update_status", {"status": "approved"})))
        await (await cases.start(case)).result()
    attempts = cases.outside.publish_attempts
    first_ids = [e.event_id for e in attempts[0].events]
    assert [[e.event_id for e in a.events] for a in attempts[:4]] == [first_ids] * 4
    workflow_id = case_workflow_id(case.execution_id)
    # the trigger's entry goes out with the first effect, the status change
    assert first_ids == [
        event_id(workflow_id, "start", 1, "workflow.step_entered"),
        event_id(workflow_id, "done", 1, "workflow.step_entered"),
        event_id(workflow_id, "done", 1, "execution.status_changed"),
    ]
    done_ids = [e["id"] for e in cases.outside.events if e["data"].get("step_id") == "done"]
    assert done_ids == [
        str(event_id(workflow_id, "done", 1, "workflow.step_entered")),
        str(event_id(workflow_id, "done", 1, "execution.status_changed")),
    ]
    assert all(p.org_id == case.org_id and p.correlation_id == "corr-1" for p in cases.outside.published)
