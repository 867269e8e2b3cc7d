"""The Applicant Review definition, end to end inside the workflow: approve, reject, and a
review that times out and escalates."""

from __future__ import annotations

import uuid

from byte_testing import eventually
from byte_worker.messages import APPROVAL_SUBMITTED, TASK_COMPLETED, CaseState, TaskCompletedSignal

from .conftest import Cases, case_input


def completion(step_id: str, outcome: str, *, by: str = "user_rev", comment: str | None = None, iteration=1):
    return TaskCompletedSignal(
        event_id=str(uuid.uuid4()),
        task_id=uuid.uuid4(),
        step_id=step_id,
        iteration=iteration,
        outcome=outcome,
        comment=comment,
        completed_by=by,
    )


async def waiting_on(cases: Cases, handle, step_id: str) -> CaseState:
    async def probe():
        state = await cases.state(handle)
        assert state.waiting_on_step_id == step_id, state
        return state

    return await eventually(probe, what=f"the case waits on {step_id}")


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
