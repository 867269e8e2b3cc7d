"""The board's counts come from a projection (`case_counts`) that every case write shifts in
its own transaction. After a random mix of writes, some at the same time (opens racing for one
count row, a repeated source id, deletes racing the workflow's reports), the projection equals a
GROUP BY over the cases, and the board shows it."""

import asyncio
import random
import uuid
from collections import Counter
from datetime import UTC, datetime

import sqlalchemy as sa
from byte_contracts.definitions import applicant_review_document
from byte_contracts.enums import DEFAULT_EXECUTION_STATUSES
from byte_contracts.workflow import ExecutionStatusChanged, WorkflowCancelled, WorkflowCompleted
from byte_platform.db import Database

STATUSES = [s["key"] for s in DEFAULT_EXECUTION_STATUSES]


async def test_counts_equal_a_group_by_over_the_cases_after_a_random_mix_of_writes(
    client, people, open_case, publish, h, org_id, executions_db
):
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    contacts = [await people.add(f"Counted{i}") for i in range(3)]
    async with client() as api:
        other = {**applicant_review_document(), "name": "Second Flow", "key": "second-flow"}
        assert (await api.post("/v1/definitions", json=other)).status_code == 201
        for contact in contacts:  # each contact known to the service before the race
            await open_case(api, contact)

        async def opened(body):
            r = await api.post("/v1/executions", json=body)
            assert r.status_code in (200, 201), r.text
            return r.json()

        bodies = [
            {"contact_id": rng.choice(contacts), "definition_id": rng.choice(["applicant-review", "second-flow"])}
            for _ in range(14)
        ]
        once = {"contact_id": contacts[0], "definition_id": "second-flow", "source": "api", "source_id": "crm-1"}
        await asyncio.gather(*(opened(b) for b in bodies + [once] * 4))

        cases = (await api.get("/v1/executions", params={"limit": 100})).json()["items"]
        assert len(cases) == len(contacts) + len(bodies) + 1
        expected: dict[str, str] = {c["id"]: c["status"] for c in cases}
        reports, deletions = [], []
        for case in cases:
            cid, eid = case["id"], uuid.UUID(case["id"])
            for _ in range(rng.randrange(3)):
                status = rng.choice(STATUSES)
                reports.append((cid, ExecutionStatusChanged(execution_id=eid, status=status, changed_at=now())))
                expected[cid] = status
            end = rng.choice([None, None, "completed", "cancelled"])
            if end == "completed":
                final = rng.choice(STATUSES)
                reports.append((cid, WorkflowCompleted(execution_id=eid, final_status=final, completed_at=now())))
                expected[cid] = final
            elif end == "cancelled":
                reports.append((cid, WorkflowCancelled(execution_id=eid, cancelled_at=now())))
                expected[cid] = "cancelled"
            if rng.random() < 0.25:
                deletions.append(cid)
        types = {ExecutionStatusChanged: "execution.status_changed", WorkflowCompleted: "workflow.completed",
                 WorkflowCancelled: "workflow.cancelled"}  # fmt: skip

        async def report_all():
            for cid, data in reports:  # in order per case (one partition per case)
                await publish(h.event(types[type(data)], org_id, cid, data, actor="system:worker"))

        async def delete(cid):
            assert (await api.delete(f"/v1/executions/{cid}")).status_code == 200

        await asyncio.gather(report_all(), *(delete(cid) for cid in deletions))
        for cid in deletions:
            del expected[cid]

        async def settled():
            items = (await api.get("/v1/executions", params={"limit": 100})).json()["items"]
            got = {c["id"]: c["status"] for c in items}
            assert got == expected, f"seed {seed}"
            return True

        await h.eventually(settled)

        db = Database(executions_db, pool_size=1, max_overflow=0)
        try:
            async with db.scoped(org_id) as session:
                projected = (
                    await session.execute(
                        sa.text("SELECT definition_key, status, count FROM case_counts WHERE count > 0")
                    )
                ).all()
                grouped = (
                    await session.execute(
                        sa.text("SELECT definition_key, status, count(*) FROM workflow_executions GROUP BY 1, 2")
                    )
                ).all()
                negative = await session.scalar(sa.text("SELECT count(*) FROM case_counts WHERE count < 0"))
        finally:
            await db.dispose()
        assert sorted(map(tuple, projected)) == sorted(map(tuple, grouped)), f"seed {seed}"
        assert negative == 0

        def board_counts(board):
            return {c["status"]: c["count"] for c in board["columns"] if c["count"]}

        board = (await api.get("/v1/executions/board")).json()
        assert board_counts(board) == dict(Counter(expected.values())), f"seed {seed}"
        scoped = (await api.get("/v1/executions/board", params={"definition_id": "second-flow"})).json()
        second = {cid for cid, c in ((c["id"], c) for c in cases) if c["definition_key"] == "second-flow"}
        assert board_counts(scoped) == dict(Counter(s for cid, s in expected.items() if cid in second))
        # a narrowing filter counts over the cases it keeps: the same numbers for the same cases
        narrowed = (await api.get("/v1/executions/board", params={"source": "manual"})).json()
        manual = {c["id"] for c in cases if c["source"] == "manual"}
        assert board_counts(narrowed) == dict(Counter(s for cid, s in expected.items() if cid in manual))


def now() -> datetime:
    return datetime.now(UTC)
