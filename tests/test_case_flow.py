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
import json
import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from byte_contracts import topics
from byte_contracts.definitions import applicant_review_document
from byte_stack.devclerk import DEV_ORIGIN
from byte_testing import eventually
from byte_testing.kafka import groups_start_at_the_end
from svix.webhooks import Webhook

# How long one hop through the system (an event, a consumer, a workflow step) may take on a
# shared, busy test machine: a bound on waiting, not a performance target.
PATIENCE = 120.0

WEBHOOK_SECRET = "whsec_" + "ZTJlLWNhc2UtZmxvdy13ZWJob29rLXNlY3JldA=="

# Every consumer group of the processes below, by topic: they start at the topics' ends, so
# they act on this module's events only, not on the shared topics' history.
GROUPS = {
    "contacts": {"intake": topics.INGEST, "update_requests": topics.WORKFLOW},
    "tasks": {"workflow": topics.WORKFLOW, "identity": topics.IDENTITY},
    "executions": {"identity": topics.IDENTITY, "contacts": topics.CONTACTS, "workflow": topics.WORKFLOW},
    "worker": {"executions": topics.EXECUTIONS, "tasks": topics.TASKS},
}


@pytest.fixture(scope="module")
def orgs() -> list[str]:
    return [f"org_{uuid.uuid4().hex[:12]}" for _ in range(3)]


@pytest.fixture(scope="module")
async def system(stack, start_service, fresh_database, clerk_issuer, orgs) -> AsyncIterator[dict[str, Any]]:
    """The whole system; its processes stop when the module ends (the worker must not go on
    acting on later tests' cases)."""
    run = uuid.uuid4().hex[:8]
    await asyncio.gather(
        *(
            groups_start_at_the_end(stack["kafka_bootstrap_servers"], f"e2e-{service}-{run}", groups)
            for service, groups in GROUPS.items()
        )
    )

    def start(service: str) -> Any:
        extra: dict[str, str] = {"consumer_group": f"e2e-{service}-{run}"}
        if service == "worker":
            extra["temporal_task_queue"] = f"cases-e2e-{run}"
            # the shared topics carry other sessions' completions of tasks whose cases never
            # started here: waiting a few seconds for those is enough (ours always exist)
            extra["signal_start_patience_seconds"] = "15"
            # and only this module's orgs: other sessions' cases are not its to run or wait behind
            extra["org_ids"] = ",".join(orgs)
        else:
            extra["database_url"] = fresh_database(service)
        return start_service(service, **extra)

    # side by side: each mostly waits (migrations, Kafka group joins)
    *processes, gateway_db = await asyncio.gather(
        *(asyncio.to_thread(start, service) for service in GROUPS), asyncio.to_thread(fresh_database, "gateway")
    )
    started = dict(zip(GROUPS, processes, strict=True))
    started["gateway"] = start_service(
        "gateway",
        database_url=gateway_db,
        IDENTITY_PRIVATE_KEY_FILE=stack["identity_private_key_file"],
        SERVICE_URLS_JSON=json.dumps({n: started[n].url for n in ("contacts", "tasks", "executions")}),
        CLERK_JWT_KEY=clerk_issuer.public_pem,
        CLERK_ISSUER=clerk_issuer.issuer,
        CLERK_AUTHORIZED_PARTIES=DEV_ORIGIN,
        CLERK_WEBHOOK_SECRET=WEBHOOK_SECRET,
        RATE_LIMIT_PER_USER="100000/minute",
        RATE_LIMIT_PER_ORG="100000/minute",
        LOG_LEVEL="WARNING",
    )
    yield started
    for process in started.values():
        process.stop()


class Org:
    """One org, its people (an admin, a reviewer, a manager) as gateway clients."""

    def __init__(self, org_id: str, system: dict[str, Any], clerk_issuer, mail_url: str) -> None:
        self.id = org_id
        self.name = f"Lakeside {self.id[-4:]}"
        self.system = system
        self.mail_url = mail_url
        gateway = system["gateway"].url

        def as_(user: str, role: str) -> httpx.AsyncClient:
            token = clerk_issuer.token(self.id, user, role)
            return httpx.AsyncClient(base_url=gateway, timeout=30, headers={"Authorization": f"Bearer {token}"})

        self.admin = as_("user_admin", "admin")
        self.reviewer = as_("user_rev", "org:reviewer")
        self.manager = as_("user_mgr", "org:manager")

    async def __aenter__(self) -> Org:
        return self

    async def __aexit__(self, *exc: object) -> None:
        for client in (self.admin, self.reviewer, self.manager):
            await client.aclose()

    async def created_in_clerk(self) -> None:
        """Clerk tells the gateway the org exists (a signed webhook); the executions service
        learns its name from the event, before any case of it opens."""
        at = datetime.now(UTC)
        data = {"id": self.id, "object": "organization", "name": self.name, "slug": self.id, "created_at": 1}
        raw = json.dumps({"type": "organization.created", "object": "event", "data": data})
        svix_id = f"msg_{uuid.uuid4().hex}"
        headers = {
            "svix-id": svix_id,
            "svix-timestamp": str(int(at.timestamp())),
            "svix-signature": Webhook(WEBHOOK_SECRET).sign(svix_id, at, raw),
            "content-type": "application/json",
        }
        async with httpx.AsyncClient(base_url=self.system["gateway"].url, timeout=30) as clerk:
            assert (await clerk.post("/webhooks/clerk", content=raw, headers=headers)).status_code < 300

    async def applicant(self, first: str, last: str) -> dict[str, Any]:
        email = f"{first.lower()}-{uuid.uuid4().hex[:8]}@example.com"
        r = await self.admin.post("/v1/contacts", json={"first_name": first, "last_name": last, "email": email})
        assert r.status_code == 201, r.text
        return r.json()

    async def open_case(self, contact: dict[str, Any], definition: str = "applicant-review") -> dict[str, Any]:
        async def attempt():
            r = await self.admin.post("/v1/executions", json={"contact_id": contact["id"], "definition_id": definition})
            # 422 on contact_id: the contact's event has not reached the executions service yet
            assert r.status_code == 201, r.text
            return r.json()

        return await eventually(attempt, timeout=PATIENCE, interval=0.5)

    async def available(
        self, who: httpx.AsyncClient, case: dict[str, Any], title: str, timeout: float = PATIENCE
    ) -> dict[str, Any]:
        async def listed():
            items = (await who.get("/v1/tasks/available")).json()["items"]
            found = [t for t in items if t["workflow_execution_id"] == case["id"] and t["title"] == title]
            return found[0] if found else None

        return await eventually(listed, timeout=timeout, interval=0.5)

    async def case_reaches(self, case: dict[str, Any], **expected: Any) -> dict[str, Any]:
        async def reached():
            got = (await self.admin.get(f"/v1/executions/{case['id']}")).json()
            return got if all(got[k] == v for k, v in expected.items()) else None

        return await eventually(reached, timeout=PATIENCE, interval=0.5)

    async def mail_to(self, address: str) -> dict[str, Any]:
        async with httpx.AsyncClient(base_url=self.mail_url, timeout=10) as sink:

            async def delivered():
                found = (await sink.get("/messages", params={"to": address})).json()
                return found[0] if found else None

            return await eventually(delivered, timeout=PATIENCE, interval=0.5)


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


async def consumed(service: Any, event_type: str) -> float:
    """How many events of this type the process has handled (its consumer metrics)."""
    async with httpx.AsyncClient(timeout=10) as http:
        metrics = (await http.get(f"{service.url}/metrics")).text
    pattern = rf'byte_events_consumed_total\{{[^}}]*type="{re.escape(event_type)}"[^}}]*\}} ([0-9.]+)'
    return sum(float(n) for n in re.findall(pattern, metrics))


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
