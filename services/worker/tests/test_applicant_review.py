"""The Applicant Review definition, end to end inside the workflow: approve, reject, and a
review that times out and escalates."""

from __future__ import annotations

from datetime import timedelta

from byte_testing import eventually
from byte_worker.messages import APPROVAL_SUBMITTED, TASK_COMPLETED
from temporalio.testing import WorkflowEnvironment

from .conftest import Cases, case_input, completion, waiting_on


async def test_an_approved_applicant_is_welcomed(cases: Cases):
    case = case_input()
    handle = await cases.start(case)
    state = await waiting_on(cases, handle, "assign_review")
    assert state.waiting_for == "task"
    await handle.signal(TASK_COMPLETED, completion("assign_review", "completed", comment="Solid references"))
    state = await waiting_on(cases, handle, "assign_approval")
    assert state.waiting_for == "approval"
    assert state.status == "in_review"
    await handle.signal(APPROVAL_SUBMITTED, completion("assign_approval", "approved", by="user_mgr"))
    final = await handle.result()

    assert final.finished == "completed"
    assert final.status == "approved"
    out = cases.outside
    assert out.types() == [
        "workflow.step_entered",  # start
        "workflow.step_entered",  # assign_review
        "workflow.task_requested",
        "workflow.step_entered",  # review (waits)
        "workflow.step_entered",  # mark_in_review
        "execution.status_changed",
        "workflow.step_entered",  # assign_approval
        "workflow.task_requested",
        "workflow.step_entered",  # approval
        "workflow.step_entered",  # decide
        "workflow.step_entered",  # mark_approved
        "execution.status_changed",
        "workflow.step_entered",  # welcome_email
        "workflow.completed",
    ]
    review, approval = (e["data"] for e in out.of_type("workflow.task_requested"))
    assert review["title"] == "Review Application"
    assert review["description"] == "Review the application of Ada Lovelace (ada@example.com)."
    assert review["assigned_role"] == "reviewer"
    assert review["due_in_seconds"] == 3 * 24 * 3600
    assert review["metadata"] == {}
    assert approval["task_type"] == "approval"
    assert approval["description"].endswith("Reviewer's notes: Solid references")
    assert approval["metadata"] == {"comment_required_on_reject": True}
    [email] = out.emails
    assert email.to == ["ada@example.com"]
    assert email.subject == "Welcome to Lakeside Sheriff's Office, Ada!"
    assert email.message_id == f"<case-{case.execution_id}.welcome_email.1@byte>"
    assert out.of_type("workflow.completed")[0]["data"]["final_status"] == "approved"
    assert [r.step_id for r in final.history] == [
        "start",
        "assign_review",
        "review",
        "mark_in_review",
        "assign_approval",
        "approval",
        "decide",
        "mark_approved",
        "welcome_email",
    ]


async def test_a_rejected_applicant_is_told(cases: Cases):
    case = case_input()
    handle = await cases.start(case)
    await waiting_on(cases, handle, "assign_review")
    await handle.signal(TASK_COMPLETED, completion("assign_review"))
    await waiting_on(cases, handle, "assign_approval")
    await handle.signal(
        APPROVAL_SUBMITTED, completion("assign_approval", "rejected", by="user_mgr", comment="No license")
    )
    final = await handle.result()

    assert final.finished == "completed"
    assert final.status == "rejected"
    [email] = cases.outside.emails
    assert email.subject == "Your application to Lakeside Sheriff's Office"
    assert email.text.startswith("Hi Ada,")
    assert email.message_id == f"<case-{case.execution_id}.rejection_email.1@byte>"
    [decide] = [r for r in final.history if r.step_id == "decide"]
    assert decide.outcome == "else"
    statuses = [e["data"] for e in cases.outside.of_type("execution.status_changed")]
    assert [(s["previous_status"], s["status"], s["step_id"]) for s in statuses] == [
        ("submitted", "in_review", "mark_in_review"),
        ("in_review", "rejected", "mark_rejected"),
    ]


async def test_a_review_left_too_long_is_escalated_to_a_manager(cases: Cases, time_skipping: WorkflowEnvironment):
    case = case_input()
    handle = await cases.start(case)
    waiting = await waiting_on(cases, handle, "assign_review")
    assert waiting.waiting_until == waiting.waiting_since + timedelta(days=3)

    await time_skipping.sleep(timedelta(days=3, minutes=1))
    [escalation] = await eventually(lambda: cases.outside.of_type("workflow.task_update_requested"))
    assert escalation["data"] == {
        "execution_id": str(case.execution_id),
        "step_id": "assign_review",
        "iteration": 1,
        "reason": "escalation",
        "title": None,
        "description": None,
        "assigned_role": "manager",
        "assigned_to": None,
        "priority": "high",
        "due_date": None,
        "due_in_seconds": None,
    }
    still = await cases.state(handle)
    assert still.waiting_on_step_id == "assign_review"
    assert still.waiting_until is None  # escalation happens once; then the wait has no end

    await time_skipping.sleep(timedelta(days=30))
    assert len(cases.outside.of_type("workflow.task_update_requested")) == 1
    await handle.signal(TASK_COMPLETED, completion("assign_review", by="user_mgr"))
    await waiting_on(cases, handle, "assign_approval")
    await handle.signal(APPROVAL_SUBMITTED, completion("assign_approval", "approved", by="user_mgr"))
    final = await handle.result()
    assert final.status == "approved"
    [review] = [r for r in final.history if r.step_id == "review"]
    assert review.outcome == "completed"
