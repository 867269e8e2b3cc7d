"""A case from beginning to end on the running system, through the gateway only, as a client
would: contacts, tasks, executions, the worker and the gateway as processes on the shared test
stack (PostgreSQL, Kafka, Temporal, the SMTP sink).

Three cases run side by side (one org each): approved (the welcome email), rejected (the
rejection email), and one on a definition whose review times out after a minute, escalated to
the `manager` role at high priority, then cancelled.
"""

from __future__ import annotations

import asyncio
import copy

import pytest
from byte_contracts.definitions import applicant_review_document
from byte_testing import eventually

from tests.e2e import PATIENCE, Org, consumed


async def decide(org: Org, outcome: str, comment: str) -> None:
    ada = await org.applicant("Ada", "Lovelace")
    case = await org.open_case(ada)

    review = await org.available(org.reviewer, case, "Review Application")
    assert review["assigned_role"] == "reviewer" and review["task_type"] == "standard"
    assert "Ada Lovelace" in review["description"]
    assert (await org.reviewer.patch(f"/v1/tasks/{review['id']}/claim")).status_code == 200
    assert (await org.reviewer.patch(f"/v1/tasks/{review['id']}/status", json={"status": "in_progress"})).is_success
    done = await org.reviewer.patch(
        f"/v1/tasks/{review['id']}/status", json={"status": "done", "comment": "References check out."}
    )
    assert done.status_code == 200, done.text

    approval = await org.available(org.manager, case, "Manager Approval")
    assert approval["task_type"] == "approval" and "References check out." in approval["description"]
    assert (await org.manager.patch(f"/v1/tasks/{approval['id']}/claim")).status_code == 200
    verb = "approve" if outcome == "approved" else "reject"
    decided = await org.manager.patch(f"/v1/tasks/{approval['id']}/{verb}", json={"comment": comment})
    assert decided.status_code == 200, decided.text

    final = await org.case_reaches(case, status=outcome, run_state="completed")
    state = final["state"]
    assert state["source"] == "workflow" and state["finished"] == "completed", state
    visited = [visit["step_id"] for visit in state["history"]]
    assert visited[:6] == ["start", "assign_review", "review", "mark_in_review", "assign_approval", "approval"]
    email_step = "welcome_email" if outcome == "approved" else "rejection_email"
    assert visited[-3:] == ["decide", f"mark_{outcome}", email_step]
    review_visit = next(v for v in state["history"] if v["step_id"] == "review")
    assert review_visit["outcome"] == "completed" and review_visit["left_at"] is not None

    mail = await org.mail_to(ada["email"])
    assert mail["to"] == [ada["email"]]
    assert "Hi Ada," in mail["body"] and mail["html"] and "Hi Ada," in mail["html"]
    if outcome == "approved":
        assert mail["subject"] == f"Welcome to {org.name}, Ada!"
        assert "has been approved" in mail["body"]
    else:
        assert mail["subject"] == f"Your application to {org.name}"
        assert "not be moving forward" in mail["body"]


async def escalate(org: Org) -> None:
    document = copy.deepcopy(applicant_review_document())
    document["name"] = "Applicant Review (quick escalation)"
    review = next(step for step in document["steps"] if step["id"] == "review")
    review["config"]["timeout"] = {"minutes": 1}
    created = await org.admin.post("/v1/definitions", json={**document, "key": "quick-review"})
    assert created.status_code == 201, created.text
    grace = await org.applicant("Grace", "Hopper")
    case = await org.open_case(grace, "quick-review")

    task = await org.available(org.reviewer, case, "Review Application")
    assert task["priority"] == "medium"
    # nobody takes it: a minute later it is the managers', at high priority
    escalated = await org.available(org.manager, case, "Review Application", timeout=60 + PATIENCE)
    assert (escalated["id"], escalated["assigned_role"], escalated["priority"]) == (task["id"], "manager", "high")
    mine = (await org.reviewer.get("/v1/tasks/available")).json()["items"]
    assert task["id"] not in {t["id"] for t in mine}
    standing = (await org.admin.get(f"/v1/executions/{case['id']}")).json()["state"]
    assert standing["source"] == "workflow" and standing["waiting_for"] == "task"
    assert (standing["current_step_id"], standing["waiting_on_step_id"]) == ("review", "assign_review")

    # and the case can still be stopped
    assert (
        await org.admin.post(f"/v1/executions/{case['id']}/cancel", json={"reason": "test over"})
    ).status_code == 202
    await org.case_reaches(case, status="cancelled", run_state="cancelled")


# five processes to start on a shared machine, and a review that must time out after a minute
@pytest.mark.timeout(600)
async def test_cases_approved_rejected_and_escalated_through_the_gateway(system, orgs, clerk_issuer, stack):
    mail = stack["mail_http_url"]
    async with (
        Org(orgs[0], system, clerk_issuer, mail) as approving,
        Org(orgs[1], system, clerk_issuer, mail) as rejecting,
        Org(orgs[2], system, clerk_issuer, mail) as escalating,
    ):
        orgs = (approving, rejecting, escalating)
        for org in orgs:
            await org.created_in_clerk()

        # the executions service knows every org's name before any case opens (its consumer
        # groups started at the topics' ends: these are the only orgs it hears of)
        async def named():
            return await consumed(system["executions"], "identity.organization.created") >= len(orgs)

        await eventually(named, timeout=PATIENCE, interval=0.5)
        await asyncio.gather(
            decide(approving, "approved", "Welcome aboard."),
            decide(rejecting, "rejected", "Failed the background check."),
            escalate(escalating),
        )
