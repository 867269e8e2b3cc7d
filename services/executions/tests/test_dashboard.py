"""The dashboard, where cases wait, and the exports, against known cases of a fresh org.

The cases are seeded straight into the database, with their known dates and statuses (and the
first status span and counts that opening writes): a case opened through the API would emit
`execution.created`, which a worker of another test could start a workflow on, whose reports
would then move this test's cases. The workflow's reports here are published by the test: one
out of order, one redelivered under its own envelope id, one under a new id."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, date, datetime, time, timedelta

import pytest
import sqlalchemy as sa
from byte_contracts.workflow import ExecutionStatusChanged, StepEntered, WorkflowCompleted
from byte_platform.db import Database
from pypdf import PdfReader

DAY = timedelta(days=1)
HOUR = timedelta(hours=1)


def at(base: date, days: int, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(base + timedelta(days=days), time(hour, minute), UTC)


def week_of(d: date) -> date:
    return d - timedelta(days=d.weekday())


async def seed(db: Database, org: str, definition: dict, people: list[dict], cases: list[dict]) -> None:
    async with db.scoped(org) as session:
        for person in people:
            await session.execute(
                sa.text(
                    "INSERT INTO contact_summaries (org_id, contact_id, first_name, last_name, email, as_of) "
                    "VALUES (:org, :id, :first, :last, :email, now())"
                ),
                {"org": org, **person},
            )
        for case in cases:
            values = {
                "org": org,
                "definition_id": definition["id"],
                "key": definition["definition_key"],
                "version": definition["version"],
                "workflow_id": f"execution-{case['id']}",
                **case,
            }
            await session.execute(
                sa.text(
                    "INSERT INTO workflow_executions (id, org_id, definition_id, definition_key, definition_version,"
                    " contact_id, status, run_state, temporal_workflow_id, started_at, completed_at, created_at)"
                    " VALUES (:id, :org, :definition_id, :key, :version, :contact_id, :status, :run_state,"
                    " :workflow_id, :started_at, :completed_at, :started_at)"
                ),
                values,
            )
            # what opening writes: the case's first status span
            await session.execute(
                sa.text(
                    "INSERT INTO case_status_spans (org_id, execution_id, entered_at, status, definition_key,"
                    " definition_version, left_at) VALUES (:org, :id, :started_at, :status, :key, :version,"
                    " :completed_at)"
                ),
                values,
            )
        # the board's counts, as the handlers would have kept them
        await session.execute(
            sa.text(
                "INSERT INTO case_counts (org_id, definition_key, status, count) SELECT org_id, definition_key,"
                " status, count(*) FROM workflow_executions WHERE org_id = :org GROUP BY 1, 2, 3"
            ),
            {"org": org},
        )


def read_csv(text: str) -> tuple[list[dict[str, str]], str]:
    """The rows, and the trailer line (checked against the row count)."""
    body, trailer = text.rstrip("\r\n").rsplit("\r\n", 1)
    rows = list(csv.DictReader(io.StringIO(body + "\r\n", newline="")))
    assert trailer == f"# rows={len(rows)} complete"
    return rows, trailer


@pytest.fixture
async def db(executions_db):
    database = Database(executions_db, pool_size=1, max_overflow=0)
    yield database
    await database.dispose()


async def test_dashboard_waits_and_exports_of_known_cases(client, db, publish, h, org_id):
    base = datetime.now(UTC).date() - 10 * DAY
    people = [
        {"id": uuid.uuid4(), "first": '=HYPERLINK("http://evil.example")', "last": "Smith, Jr.", "email": "a@x.io"},
        {"id": uuid.uuid4(), "first": 'Ann "The Hammer"', "last": "Line1\nLine2", "email": "b@x.io"},
        {"id": uuid.uuid4(), "first": "+cmd", "last": "-minus", "email": "c@x.io"},
        {"id": uuid.uuid4(), "first": "@SUM(A1)", "last": "Plain", "email": "d@x.io"},
    ]
    ids = {name: uuid.uuid4() for name in ("c1", "d", "a", "b", "c5")}
    cases = [
        # name, contact, started, status, completed
        ("c1", 0, at(base, 0, 9), "approved", at(base, 2, 10)),
        ("d", 1, at(base, 0, 15), "rejected", at(base, 7, 15)),
        ("a", 2, at(base, 2, 8), "submitted", None),
        ("b", 3, at(base, 7, 9), "submitted", None),
        ("c5", 0, at(base, 7, 12), "approved", at(base, 7, 18)),
    ]
    async with client() as api, client(roles=("guest",), user_id="user_guest") as guest:
        definition = (await api.get("/v1/definitions/applicant-review")).json()
        await seed(db, org_id, definition, people, [
            {"id": ids[name], "contact_id": people[who]["id"], "started_at": started, "status": status,
             "completed_at": completed, "run_state": "completed" if completed else "running"}
            for name, who, started, status, completed in cases
        ])  # fmt: skip

        # --- the pipeline: counts by status, per day, the recent cases (guests read it) ---
        by_status = (await guest.get("/v1/dashboard/cases-by-status")).json()
        assert {s["status"]: s["count"] for s in by_status["statuses"] if s["count"]} == {
            "approved": 2, "rejected": 1, "submitted": 2,
        }  # fmt: skip
        assert by_status["total"] == 5 and by_status["statuses"][0]["label"] == "Submitted"
        period = {"from": base.isoformat(), "to": (base + 9 * DAY).isoformat()}
        per_day = (await guest.get("/v1/dashboard/cases-per-day", params=period)).json()
        assert len(per_day["days"]) == 10
        assert {d["day"]: (d["opened"], d["closed"]) for d in per_day["days"] if d["opened"] or d["closed"]} == {
            base.isoformat(): (2, 0),
            (base + 2 * DAY).isoformat(): (1, 1),
            (base + 7 * DAY).isoformat(): (2, 2),
        }
        assert (per_day["opened"], per_day["closed"]) == (5, 3)
        recent = (await guest.get("/v1/dashboard/recent-cases", params={"limit": 3})).json()["items"]
        assert [c["id"] for c in recent] == [str(ids["c5"]), str(ids["b"]), str(ids["a"])]
        assert recent[1]["contact"]["first_name"] == "@SUM(A1)"
        backwards = await guest.get("/v1/dashboard/cases-per-day", params={"from": "2026-02-01", "to": "2026-01-01"})
        assert backwards.json() == {"days": [], "opened": 0, "closed": 0}

        # --- the workflow reports: A waits six days in review; D one day --------------------
        def step(case, step_id, entered_at, waiting_for):
            return h.event("workflow.step_entered", org_id, str(ids[case]), StepEntered(
                execution_id=ids[case], step_id=step_id, phase_id="review" if step_id == "review" else "decision",
                step_type="wait_for_task", entered_at=entered_at, waiting_for=waiting_for))  # fmt: skip

        def status(case, key, changed_at):
            return h.event("execution.status_changed", org_id, str(ids[case]), ExecutionStatusChanged(
                execution_id=ids[case], status=key, step_id="mark", changed_at=changed_at))  # fmt: skip

        a_review = step("a", "review", at(base, 2, 9), "task")
        for envelope in [
            step("a", "approval", at(base, 8, 9), "approval"),  # before the step it follows
            a_review,
            a_review,  # redelivered
            step("a", "review", at(base, 2, 9), "task"),  # the same report again, under a new id
            status("a", "in_review", at(base, 2, 9)),
            status("a", "approved", at(base, 8, 11)),
            h.event(
                "workflow.completed",
                org_id,
                str(ids["a"]),
                WorkflowCompleted(execution_id=ids["a"], final_status="approved", completed_at=at(base, 8, 11)),
            ),
            step("d", "review", at(base, 0, 16), "task"),
            step("d", "approval", at(base, 1, 16), "approval"),
            step("b", "review", at(base, 7, 9, 30), "task"),
        ]:
            await publish(envelope)

        hours = 3600.0
        expected_steps = {
            # A: 6 days; D: 1 day; B is there now
            "review": {"cases": 2, "p50_seconds": 24 * hours, "p90_seconds": 144 * hours,
                       "max_seconds": 144 * hours, "waiting_now": 1},
            # A: 2 hours until it ended; D: from day 1 16:00 until it ended on day 7 15:00
            "approval": {"cases": 2, "p50_seconds": 2 * hours, "p90_seconds": 143 * hours,
                         "max_seconds": 143 * hours, "waiting_now": 0},
        }  # fmt: skip
        expected_statuses = {
            "submitted": {"cases": 1, "p50_seconds": 1 * hours, "max_seconds": 1 * hours, "waiting_now": 1},
            "in_review": {"cases": 1, "p50_seconds": 146 * hours, "max_seconds": 146 * hours, "waiting_now": 0},
            # A: 0 (approved as it ended), c5: 6 hours, c1: 2 days 1 hour
            "approved": {"cases": 3, "p50_seconds": 6 * hours, "p90_seconds": 49 * hours, "max_seconds": 49 * hours},
            "rejected": {"cases": 1, "p50_seconds": 168 * hours, "waiting_now": 0},
        }

        def picked(rows, key, expected):
            return {r[key]: {k: r[k] for k in expected[r[key]]} for r in rows if r[key] in expected}

        async def settled():
            waits = (await guest.get("/v1/dashboard/waits", params={"definition_id": "applicant-review"})).json()
            assert picked(waits["steps"], "step_id", expected_steps) == expected_steps
            assert picked(waits["statuses"], "status", expected_statuses) == expected_statuses
            return waits

        waits = await h.eventually(settled)
        assert [s["step_id"] for s in waits["steps"]] == ["review", "approval"]  # the definition's order
        assert waits["steps"][1]["step_name"] == "Wait for the decision"
        [longest] = waits["waiting_longest"]
        assert (longest["execution_id"], longest["step_id"], longest["contact_name"]) == (
            str(ids["b"]),
            "review",
            "@SUM(A1) Plain",
        )
        assert datetime.fromisoformat(longest["since"]) == at(base, 7, 9, 30)
        # A closed on day 8, through its workflow's end
        per_day = (await guest.get("/v1/dashboard/cases-per-day", params=period)).json()
        assert per_day["days"][8] == {"day": (base + 8 * DAY).isoformat(), "opened": 0, "closed": 1}

        throughput = (
            await guest.get("/v1/dashboard/throughput", params={"from": base.isoformat(), "to": period["to"]})
        ).json()
        approvals = [at(base, 0, 9), at(base, 7, 12), at(base, 8, 11)]  # c1, c5 (as seeded), A
        weeks = {w["week"]: w for w in throughput["weeks"]}
        assert sum(w["opened"] for w in weeks.values()) == 5
        for when in approvals:
            assert weeks[week_of(when.date()).isoformat()]["approved"] >= 1
        assert sum(w["approved"] for w in weeks.values()) == 3
        assert weeks[week_of(base).isoformat()]["rejected"] == 1
        assert (throughput["approved"], throughput["rejected"], throughput["approve_ratio"]) == (3, 1, 0.75)

        # --- CSV: every case, quoting and neutralised formulas, the trailer -------------------
        assert h.is_problem(await guest.get("/v1/exports/cases.csv"), 403)
        r = await api.get("/v1/exports/cases.csv", params={"sort": "started_at"})
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
        assert r.headers["x-export-format"] == "rows-trailer"
        rows, _ = read_csv(r.text)
        assert [row["id"] for row in rows] == [str(ids[name]) for name, *_ in cases]
        first = {row["id"]: row for row in rows}
        assert first[str(ids["c1"])]["contact_first_name"] == "'" + people[0]["first"]
        assert first[str(ids["c1"])]["contact_last_name"] == "Smith, Jr."
        assert first[str(ids["d"])]["contact_first_name"] == 'Ann "The Hammer"'
        assert first[str(ids["d"])]["contact_last_name"] == "Line1\nLine2"
        assert (first[str(ids["a"])]["contact_first_name"], first[str(ids["a"])]["contact_last_name"]) == (
            "'+cmd",
            "'-minus",
        )
        assert first[str(ids["b"])]["contact_first_name"] == "'@SUM(A1)"
        assert first[str(ids["a"])]["status"] == "approved" and first[str(ids["a"])]["definition_name"] == (
            "Applicant Review"
        )
        assert datetime.fromisoformat(first[str(ids["d"])]["completed_at"]) == at(base, 7, 15)
        approved, _ = read_csv((await api.get("/v1/exports/cases.csv", params={"status": "approved"})).text)
        assert {row["id"] for row in approved} == {str(ids["c1"]), str(ids["c5"]), str(ids["a"])}
        theirs, _ = read_csv((await api.get(f"/v1/exports/contacts/{people[0]['id']}/cases.csv")).text)
        assert [row["id"] for row in theirs] == [str(ids["c5"]), str(ids["c1"])]  # newest first
        none, trailer = read_csv((await api.get("/v1/exports/cases.csv", params={"q": "nobody-here"})).text)
        assert none == [] and trailer == "# rows=0 complete"
        assert h.is_problem(await api.get(f"/v1/exports/contacts/{uuid.uuid4()}/cases.csv"), 404)

        # --- the PDF report -------------------------------------------------------------------
        assert h.is_problem(await guest.get("/v1/exports/report.pdf"), 403)
        r = await api.get("/v1/exports/report.pdf", params={"days": 11})
        assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
        text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(r.content)).pages)
        lines = set(text.splitlines())
        assert "Cases by status (5 in all)" in lines, text
        assert {"Approved 3", "Rejected 1", "Submitted 1", "In Review 0"} <= lines, text
        assert "Opened (blue): 5 Closed (green): 4 peak 2 a day" in text.replace("   ", " "), text
        assert "Where cases wait: Applicant Review v1" in lines, text
        assert any(line.startswith("Wait for the review 2 1d 0h 6d 0h 6d 0h 1") for line in lines), text
        assert any(line.startswith("Wait for the decision 2 2h 0m 5d 23h 5d 23h 0") for line in lines), text
        assert any("?SUM(A1) Plain" in line or "@SUM(A1) Plain" in line for line in lines), text
