"""Fifty Applicant Review cases in flight while their processes crash: the worker is killed
(SIGKILL, no shutdown hooks) twice, the executions and the tasks services once each, and every
case still ends once.

The people's steps go through the gateway, in bursts so that each kill lands while something
is under way:

1. the fifty cases open; the worker dies while their workflows are asking for review tasks
   (some tasks exist, not all); once every case is open, the executions service dies while it
   consumes the cases' first events (not earlier: an open whose response was lost would be
   sent again, and open a second case);
2. the reviewers claim every review, then complete them all at once; the tasks service dies
   once some completions are in, while their events are relayed and the worker signals cases;
3. the managers claim every approval, then approve half and reject half at once; the worker
   dies as soon as the first of these cases' emails reaches the sink, while the rest go out.

Then every case has its final status and its workflow is closed in Temporal; the tasks
database holds exactly one task per (case, assign step); the mail sink holds every case's
email under exactly one Message-ID, its email step's (a resend after a kill shows as that same
id). Only this test's org and applicants are looked at (the stack is shared).

The people's views are read for all cases at once (one listing of tasks and one of cases a
second), so that the load is the cases' and not the test's polling. The processes are the
end-to-end module's (`system`: contacts, tasks, executions, worker and
gateway on the shared test stack); each one killed here is started again on the same port,
and all stop when the module ends.
"""

from __future__ import annotations

import asyncio
import email.parser
import email.policy
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import sqlalchemy as sa
from byte_testing import eventually
from byte_testing.processes import ServiceProcess
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowExecutionStatus

from tests.e2e import Org, consumed

CASES = 50
# A killed worker's activities are only given up on at their start-to-close timeout (an email
# has a minute, then waits its retry interval), so a step may stay still for over a minute.
PATIENCE = 240.0
REVIEWER, MANAGER = "user_rev", "user_mgr"


def outage(r: httpx.Response) -> bool:
    """The gateway's answer while a service behind it is down or restarting."""
    return r.status_code in (502, 503, 504)


async def through_outages(call: Callable[[], Awaitable[httpx.Response]]) -> httpx.Response:
    """The response of the first attempt that reached a running service."""

    async def attempt() -> httpx.Response | None:
        try:
            r = await call()
        except httpx.TransportError:
            return None
        return None if outage(r) else r

    return await eventually(attempt, timeout=PATIENCE, interval=0.5, what="a running service")


class Crashes:
    """Kills a process and starts it again, off the event loop (starting waits for /readyz)."""

    def __init__(self) -> None:
        self.log: list[str] = []

    async def kill_and_restart(self, process: ServiceProcess, when: str) -> None:
        await asyncio.to_thread(process.kill)
        self.log.append(f"{process.service} killed {when}")
        await asyncio.to_thread(process.start, 120)


class Run:
    """The fifty cases of one org, driven as its people would, and what the test counts."""

    def __init__(self, org: Org, stack: dict[str, Any], tasks_dsn: str) -> None:
        self.org = org
        self.stack = stack
        self.tasks_dsn = tasks_dsn
        self.cases: list[dict[str, Any]] = []
        self.applicants: dict[str, dict[str, Any]] = {}  # by case id
        self.reviews_claimed = 0
        self.reviews_done = 0
        self.approvals_claimed = 0
        self.all_reviews_claimed = asyncio.Event()
        self.all_approvals_claimed = asyncio.Event()
        self.some_reviews_done = asyncio.Event()
        self.tasks: dict[tuple[str, str], dict[str, Any]] = {}  # by (case id, title)
        self.standing: dict[str, tuple[str, str]] = {}  # case id -> (status, run state)

    # ----- what the databases and the sink hold ---------------------------------------------

    def tasks_per_step(self) -> Counter[tuple[str, str]]:
        with psycopg.connect(self.tasks_dsn, autocommit=True) as conn:
            conn.execute("SELECT set_config('app.org_id', %s, false)", (self.org.id,))
            rows = conn.execute(
                "SELECT workflow_execution_id, created_by_step_id, count(*) FROM tasks WHERE org_id = %s GROUP BY 1, 2",
                (self.org.id,),
            ).fetchall()
        return Counter({(str(case), step): n for case, step, n in rows})

    def our_mail(self) -> list[dict[str, str]]:
        """Envelope recipient and Message-ID of every message in the sink to our applicants."""
        ours = {a["email"].lower() for a in self.applicants.values()}
        parser = email.parser.BytesHeaderParser(policy=email.policy.default)
        found = []
        for path in sorted(Path(self.stack["mail_dir"]).glob("*.eml")):
            try:
                headers = parser.parsebytes(path.read_bytes())
            except FileNotFoundError:  # another test deleted it meanwhile
                continue
            to = str(headers.get("X-Envelope-To", "")).strip().lower()
            if to in ours:
                found.append({"to": to, "message_id": str(headers.get("Message-ID", ""))})
        return found

    # ----- the people's steps ---------------------------------------------------------------

    async def watch(self) -> None:
        """What the people see, read for all fifty at once: one listing of the org's tasks and
        one of its cases a second, instead of a hundred clients polling on a two-core box."""
        while True:
            tasks = await through_outages(lambda: self.org.admin.get("/v1/tasks", params={"limit": 200}))
            if tasks.is_success:
                self.tasks = {(t["workflow_execution_id"], t["title"]): t for t in tasks.json()["items"]}
            cases = await through_outages(lambda: self.org.admin.get("/v1/executions", params={"limit": 200}))
            if cases.is_success:
                self.standing = {c["id"]: (c["status"], c["run_state"]) for c in cases.json()["items"]}
            await asyncio.sleep(1)

    async def task_of(self, case: dict[str, Any], title: str) -> dict[str, Any]:
        return await eventually(
            lambda: self.tasks.get((case["id"], title)),
            timeout=PATIENCE,
            interval=0.2,
            what=f"{title} of {case['id']}",
        )

    async def act(
        self, who: httpx.AsyncClient, task: dict[str, Any], path: str, body: Any, done: Callable[[dict], bool]
    ) -> None:
        """One change to a task, once: when the service died after committing it, the retry is
        refused, and the task shows the change was made."""
        r = await through_outages(lambda: who.patch(f"/v1/tasks/{task['id']}/{path}", json=body))
        if r.status_code == 200:
            return
        now = (await through_outages(lambda: who.get(f"/v1/tasks/{task['id']}"))).json()
        assert done(now), (path, r.status_code, r.text, now)

    async def open_one(self, number: int) -> None:
        applicant = await self.org.applicant("Ada", f"Case{number}")
        case = await self.org.open_case(applicant)
        self.cases.append(case)
        self.applicants[case["id"]] = applicant

    async def review(self, case: dict[str, Any]) -> None:
        reviewer = self.org.reviewer
        task = await self.task_of(case, "Review Application")
        await self.act(reviewer, task, "claim", None, lambda t: t["assigned_to"] == REVIEWER)
        self.reviews_claimed += 1
        if self.reviews_claimed == CASES:
            self.all_reviews_claimed.set()
        await self.all_reviews_claimed.wait()
        body = {"status": "done", "comment": "References check out."}
        await self.act(reviewer, task, "status", body, lambda t: t["status"] == "done")
        self.reviews_done += 1
        if self.reviews_done >= CASES // 4:
            self.some_reviews_done.set()

    async def decide(self, case: dict[str, Any], verb: str) -> None:
        manager = self.org.manager
        task = await self.task_of(case, "Manager Approval")
        await self.act(manager, task, "claim", None, lambda t: t["assigned_to"] == MANAGER)
        self.approvals_claimed += 1
        if self.approvals_claimed == CASES:
            self.all_approvals_claimed.set()
        await self.all_approvals_claimed.wait()
        await self.act(manager, task, verb, {"comment": f"{verb}d"}, lambda t: t["outcome"] is not None)

    async def finished(self, case: dict[str, Any], outcome: str) -> None:
        await eventually(
            lambda: self.standing.get(case["id"]) == (outcome, "completed"),
            timeout=PATIENCE,
            interval=0.5,
            what=f"case {case['id']} {outcome}",
        )


async def where_they_stand(temporal: Client, run: Run) -> str:
    """What the unfinished cases look like from Temporal's side, grouped by shape: the workflow
    task waiting for a worker, the activities pending (and their last failure), the signals
    received, the last event. What a stuck case needs to tell whoever reads the failure."""
    shapes: Counter[str] = Counter()
    examples: dict[str, str] = {}
    for case in run.cases:
        if run.standing.get(case["id"], ("", ""))[1] == "completed":
            continue
        handle = temporal.get_workflow_handle(f"case-{case['id']}")
        try:
            raw = (await handle.describe()).raw_description
            events = (await handle.fetch_history()).events
        except Exception as exc:  # a diagnosis must not hide the failure it explains
            shapes[f"not readable: {exc}"] += 1
            continue
        pending_task = raw.pending_workflow_task
        signals = Counter(
            e.workflow_execution_signaled_event_attributes.signal_name
            for e in events
            if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED
        )
        shape = "; ".join(
            [
                f"status {raw.workflow_execution_info.status}",
                f"workflow task {'state ' + str(pending_task.state) if pending_task.ByteSize() else 'none'}",
                "activities " + str([(a.activity_type.name, a.attempt) for a in raw.pending_activities]),
                f"signals {dict(signals)}",
                f"last event {EventType.Name(events[-1].event_type) if events else None}",
            ]
        )
        shapes[shape] += 1
        failures = [a.last_failure.message for a in raw.pending_activities if a.last_failure.message]
        examples.setdefault(shape, f"case-{case['id']} {failures[:1]}")
    return "\n".join(f"{n} x {shape} (e.g. {examples.get(shape, '')})" for shape, n in shapes.most_common())


def outcome_of(number: int) -> str:
    return "approved" if number % 2 == 0 else "rejected"


async def crash_through(run: Run, processes: dict[str, ServiceProcess], crashes: Crashes) -> None:
    """Drives the fifty cases to their final status, killing processes on the way."""
    # ----- 1. fifty cases open; the worker dies while they ask for their review tasks --------
    opening = asyncio.gather(*(run.open_one(n) for n in range(CASES)))

    async def tasks_being_requested() -> None:
        await eventually(lambda: sum(run.tasks_per_step().values()) >= 5, timeout=PATIENCE, interval=0.2)
        await crashes.kill_and_restart(processes["worker"], f"with {sum(run.tasks_per_step().values())} tasks")

    await asyncio.gather(opening, tasks_being_requested())
    assert len(run.cases) == CASES
    # not while cases open: a POST that died after its commit would be sent again, a second case
    await crashes.kill_and_restart(processes["executions"], f"with {sum(run.tasks_per_step().values())} tasks")

    # ----- 2. reviews completed at once; the tasks service dies while they are relayed -------
    async def signals_being_relayed() -> None:
        await run.some_reviews_done.wait()
        await crashes.kill_and_restart(processes["tasks"], f"after {run.reviews_done} reviews completed")

    await asyncio.gather(*(run.review(case) for case in run.cases), signals_being_relayed())

    # ----- 3. decisions at once; the worker dies as the emails go out ------------------------
    async def emails_going_out() -> None:
        await eventually(run.our_mail, timeout=PATIENCE, interval=0.2)
        await crashes.kill_and_restart(processes["worker"], f"with {len(run.our_mail())} emails out")

    verbs = {"approved": "approve", "rejected": "reject"}
    await asyncio.gather(
        *(run.decide(case, verbs[outcome_of(n)]) for n, case in enumerate(run.cases)), emails_going_out()
    )
    await asyncio.gather(*(run.finished(case, outcome_of(n)) for n, case in enumerate(run.cases)))


# five processes on a shared two-core machine, four of them crashing, and a minute's wait for
# the emails a killed worker was sending
@pytest.mark.durability
@pytest.mark.timeout(900)
async def test_fifty_cases_survive_killed_processes(system, orgs, clerk_issuer, h, stack):
    temporal = await Client.connect(stack["temporal_address"], namespace="default")
    tasks_dsn = sa.make_url(system["tasks"].env["DATABASE_URL"]).set(drivername="postgresql")
    crashes = Crashes()
    async with Org(orgs[-1], system, clerk_issuer, stack["mail_http_url"]) as org:
        run = Run(org, stack, tasks_dsn.render_as_string(hide_password=False))
        named_before = await consumed(system["executions"], "identity.organization.created")
        await org.created_in_clerk()

        # the emails name the org: the executions service knows it before a case opens
        async def named() -> bool:
            return await consumed(system["executions"], "identity.organization.created") > named_before

        await h.eventually(named)
        watching = asyncio.create_task(run.watch())
        try:
            await crash_through(run, system, crashes)
        except AssertionError as exc:
            stuck = await where_they_stand(temporal, run)
            raise AssertionError(f"{exc}\ncrashes: {crashes.log}\nunfinished cases in Temporal:\n{stuck}") from exc
        finally:
            watching.cancel()

    # ----- every case ended, once ----------------------------------------------------------------
    closed = await asyncio.gather(
        *(temporal.get_workflow_handle(f"case-{case['id']}").describe() for case in run.cases)
    )
    assert {d.status for d in closed} == {WorkflowExecutionStatus.COMPLETED}

    tasks = run.tasks_per_step()
    expected = Counter({(case["id"], step): 1 for case in run.cases for step in ("assign_review", "assign_approval")})
    assert tasks == expected, tasks - expected

    async def every_email_delivered() -> list[dict[str, str]]:
        mail = run.our_mail()
        assert len({m["message_id"] for m in mail}) == CASES, len(mail)
        return mail

    mail = await eventually(every_email_delivered, timeout=30)
    for n, case in enumerate(run.cases):
        step = "welcome_email" if outcome_of(n) == "approved" else "rejection_email"
        message_id = f"<case-{case['id']}.{step}.1@byte>"
        to = run.applicants[case["id"]]["email"].lower()
        # one email per send step = one Message-ID: a worker killed between the server's "250 OK"
        # and Temporal recording the send resends it under the same id (SMTP cannot promise one
        # delivery; the id makes the duplicate detectable, as the issue asks)
        assert {m["message_id"] for m in mail if m["to"] == to} == {message_id}, crashes.log
    print("; ".join(crashes.log))
