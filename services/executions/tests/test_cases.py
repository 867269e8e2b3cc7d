"""Cases over the real service, PostgreSQL and Kafka: open, read, filter, board, update,
status changes and cancellation as requests the workflow confirms (its events produced here
on the broker), delete, and the refusals."""

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

from byte_contracts.contacts import ContactDeleted
from byte_contracts.definitions import applicant_review_document
from byte_contracts.workflow import (
    ExecutionStatusChanged,
    StepEntered,
    WorkflowCancelled,
    WorkflowCompleted,
)


def now() -> datetime:
    return datetime.now(UTC)


async def test_open_read_update_and_delete_a_case(client, people, open_case, event_tap):
    ann = await people.add("Ann", "Lee", "ann@example.com")
    async with client() as api, event_tap("executions") as tap:
        case = await open_case(api, ann, metadata={"badge": "12"})
        assert (case["status"], case["run_state"], case["source"]) == ("submitted", "running", "manual")
        assert case["definition_key"] == "applicant-review" and case["definition_version"] == 1
        assert case["contact"] == {
            "id": ann, "first_name": "Ann", "last_name": "Lee", "email": "ann@example.com", "phone": None,
            "deleted": False,
        }  # fmt: skip
        assert case["temporal_workflow_id"] == f"case-{case['id']}"
        assert case["created_by"] == "user_admin" and case["metadata"] == {"badge": "12"}

        got = (await api.get(f"/v1/executions/{case['id']}")).json()
        # and where it stands now, live from its workflow or, when that cannot answer, as last reported
        state = got.pop("state")
        assert got == {k: v for k, v in case.items() if k != "state"}
        assert state["source"] in ("workflow", "projection") and state["status"] == "submitted"
        assert [p["id"] for p in got["definition"]["phases"]] == ["intake", "review", "decision"]
        assert got["definition"]["steps"][0]["id"] == "start"
        assert got["standing"]["status_label"] == "Submitted" and got["standing"]["step_id"] is None

        patched = await api.patch(f"/v1/executions/{case['id']}", json={"metadata": {"badge": "13"}})
        assert patched.status_code == 200 and patched.json()["metadata"] == {"badge": "13"}
        assert (await api.patch(f"/v1/executions/{case['id']}", json={"metadata": {"badge": "13"}})).status_code == 200

        deleted = await api.delete(f"/v1/executions/{case['id']}")
        assert deleted.status_code == 200
        assert deleted.json() == {"execution_id": case["id"], "deleted": True, "workflow_cancelled": True}
        assert (await api.get(f"/v1/executions/{case['id']}")).status_code == 404
        assert (await api.delete(f"/v1/executions/{case['id']}")).status_code == 404

        events = await tap.collect(lambda e: e.subject == case["id"], count=4, timeout=30, settle=1)
        assert [e.type for e, _, _ in events] == [
            "execution.created", "execution.updated", "execution.cancel_requested", "execution.deleted",
        ]  # fmt: skip
        created = events[0][0].data
        assert created["execution"]["id"] == case["id"]
        assert created["definition"]["steps"] == got["definition"]["steps"]
        assert created["definition"]["statuses"] == got["definition"]["statuses"]
        assert events[1][0].data["changed_fields"] == ["metadata"]
        assert events[3][0].data["workflow_cancelled"] is True


async def test_a_source_id_opens_one_case_however_often_it_is_asked(client, people, open_case):
    bob = await people.add("Bob", "Ray")
    async with client() as api:
        first = await open_case(api, bob, source="formstack", source_id="sub-1")
        answers = await asyncio.gather(
            *(
                api.post(
                    "/v1/executions",
                    json={"contact_id": bob, "definition_id": "applicant-review", "source": "formstack",
                          "source_id": "sub-1"},
                )
                for _ in range(5)
            )
        )  # fmt: skip
        assert {r.status_code for r in answers} == {200}
        assert {r.json()["id"] for r in answers} == {first["id"]}
        assert len((await api.get("/v1/executions", params={"contact_id": bob})).json()["items"]) == 1


async def test_variables_are_checked_against_the_definition(client, people, open_case):
    doc = applicant_review_document() | {
        "name": "With variables",
        "variables": [
            {"name": "start_date", "type": "date", "required": True, "label": "Start date"},
            {"name": "score", "type": "number", "default": 5, "label": "Score"},
        ],
    }
    cid = await people.add("Cy")
    async with client() as api:
        definition = (await api.post("/v1/definitions", json={**doc, "key": "with-variables"})).json()
        bad = [
            ({}, "variables.start_date"),
            ({"start_date": "soon"}, "variables.start_date"),
            ({"start_date": "2025-02-30"}, "variables.start_date"),
            ({"start_date": "2025-03-01", "score": "high"}, "variables.score"),
            ({"start_date": "2025-03-01", "nickname": "C"}, "variables.nickname"),
        ]
        await open_case(api, cid, expect=422, definition_id=definition["id"], variables=bad[0][0])
        for variables, field in bad:
            r = await api.post(
                "/v1/executions", json={"contact_id": cid, "definition_id": definition["id"], "variables": variables}
            )
            assert r.status_code == 422 and r.json()["errors"][0]["field"] == field, r.text
        case = await open_case(api, cid, definition_id="with-variables", variables={"start_date": "2025-03-01"})
        assert case["variables"] == {"start_date": "2025-03-01", "score": 5}
        patched = await api.patch(
            f"/v1/executions/{case['id']}", json={"variables": {"start_date": "2025-04-01", "score": 9}}
        )
        assert patched.json()["variables"] == {"start_date": "2025-04-01", "score": 9}
        refused = await api.patch(f"/v1/executions/{case['id']}", json={"variables": {"score": 1}})
        assert refused.status_code == 422
        assert (await api.get(f"/v1/executions/{case['id']}")).json()["variables"]["score"] == 9
        assert len((await api.get("/v1/executions")).json()["items"]) == 1


async def test_bad_input_is_a_clear_4xx_and_writes_nothing(client, people, open_case, publish, h, org_id):
    other_org = f"org_{uuid.uuid4().hex[:12]}"
    mine = await people.add("Dee")
    theirs = await people.add("Eve", org=other_org)
    gone = await people.add("Fay")
    async with client() as api, client(roles=("guest",), user_id="user_guest") as guest:
        await open_case(api, mine)  # the projection has caught up with this test's contacts

        async def refused(body, status, field=None):
            r = await api.post("/v1/executions", json={"contact_id": mine, "definition_id": "applicant-review", **body})
            assert r.status_code == status, r.text
            assert r.headers["content-type"].startswith("application/problem+json")
            if field:
                assert r.json()["errors"][0]["field"] == field, r.text

        await refused({"contact_id": str(uuid.uuid4())}, 422, "contact_id")
        await refused({"contact_id": theirs}, 422, "contact_id")
        await refused({"definition_id": str(uuid.uuid4())}, 422, "definition_id")
        await refused({"definition_id": "no such key!"}, 422, "definition_id")
        await refused({"source": "fax"}, 422)
        await refused({"org_id": other_org}, 422)
        await refused({"contact_id": "not-a-uuid"}, 422)

        before = await open_case(api, gone)
        await publish(h.event("contact.deleted", org_id, gone, ContactDeleted(contact_id=uuid.UUID(gone))))

        async def marked_deleted():
            contact = (await api.get(f"/v1/executions/{before['id']}")).json()["contact"]
            assert contact["deleted"] is True, contact
            return contact

        assert (await h.eventually(marked_deleted))["first_name"] == "Fay"
        r = await api.post("/v1/executions", json={"contact_id": gone, "definition_id": "applicant-review"})
        assert r.status_code == 422 and r.json()["errors"][0]["message"] == "this contact was deleted", r.text

        assert (await api.post("/v1/definitions/applicant-review/deactivate")).status_code == 200
        await refused({}, 422, "definition_id")
        assert (await api.post("/v1/definitions/applicant-review/reactivate")).status_code == 200

        forms_only = applicant_review_document() | {"name": "Forms only"}
        forms_only["steps"][0]["config"]["sources"] = ["form_submission"]
        assert (await api.post("/v1/definitions", json={**forms_only, "key": "forms-only"})).status_code == 201
        await refused({"definition_id": "forms-only"}, 422, "source")

        r = await guest.post("/v1/executions", json={"contact_id": mine, "definition_id": "applicant-review"})
        assert r.status_code == 403
        assert (await api.get("/v1/executions", params={"cursor": "nope"})).status_code == 400
        assert (await api.get("/v1/executions", params={"run_state": "sleeping"})).status_code == 422
        assert (await api.get(f"/v1/executions/{uuid.uuid4()}")).status_code == 404
        assert len((await api.get("/v1/executions")).json()["items"]) == 2


async def test_a_manual_status_change_is_a_request_the_workflow_confirms(
    client, people, open_case, publish, h, org_id, event_tap
):
    cid = await people.add("Gus", "Hale")
    async with client() as api, client(roles=("member",), user_id="user_member") as member:
        case = await open_case(api, cid)
        assert (await api.post(f"/v1/executions/{case['id']}/status", json={"status": "hired"})).status_code == 422
        assert (await api.post(f"/v1/executions/{case['id']}/status", json={"status": "submitted"})).status_code == 409

        async with event_tap("executions") as tap:
            asked = await member.post(
                f"/v1/executions/{case['id']}/status", json={"status": "on_hold", "reason": "waiting"}
            )
            assert asked.status_code == 202, asked.text
            pending = asked.json()
            assert (pending["status"], pending["current_status"]) == ("on_hold", "submitted")
            (request, *_), = await tap.collect(
                lambda e: e.type == "execution.status_change_requested" and e.subject == case["id"], count=1
            )  # fmt: skip
        assert request.data["request_id"] == pending["request_id"]
        assert request.data["temporal_workflow_id"] == case["temporal_workflow_id"]
        assert request.actor == "user_member"

        # unchanged until the workflow says so
        waiting = (await api.get(f"/v1/executions/{case['id']}")).json()
        assert (waiting["status"], waiting["pending_status"], waiting["updated_by_temporal"]) == (
            "submitted",
            "on_hold",
            False,
        )

        confirmed = ExecutionStatusChanged(
            execution_id=uuid.UUID(case["id"]), status="on_hold", previous_status="submitted",
            request_id=uuid.UUID(pending["request_id"]), changed_at=now(),
        )  # fmt: skip
        async with event_tap("executions") as tap:
            await publish(h.event("execution.status_changed", org_id, case["id"], confirmed, actor="system:worker"))

            async def applied():
                got = (await api.get(f"/v1/executions/{case['id']}")).json()
                assert got["status"] == "on_hold", got
                return got

            got = await h.eventually(applied)
            updated = await tap.collect(lambda e: e.type == "execution.updated" and e.subject == case["id"], count=1)
        assert (got["pending_status"], got["updated_by_temporal"], got["standing"]["status_label"]) == (
            None,
            True,
            "On Hold",
        )
        assert updated[0][0].data["changed_fields"] == ["status"]


async def test_status_changes_the_case_cannot_take_are_dead_lettered(
    client, people, open_case, publish, h, org_id, event_tap, executions_service
):
    cid = await people.add("Hal")
    async with client() as api:
        case = await open_case(api, cid)
        unknown_case = h.event(
            "execution.status_changed", org_id, str(uuid.uuid4()),
            ExecutionStatusChanged(execution_id=uuid.uuid4(), status="approved", changed_at=now()),
        )  # fmt: skip
        unknown_status = h.event(
            "execution.status_changed", org_id, case["id"],
            ExecutionStatusChanged(execution_id=uuid.UUID(case["id"]), status="hired", changed_at=now()),
        )  # fmt: skip
        async with event_tap("workflow.dlq") as dlq:
            await publish(unknown_case)
            await publish(unknown_status)
            # every executions process on the shared broker dead-letters these its own way: read
            # this one's letters (its group's)
            group = f"{executions_service.env['CONSUMER_GROUP']}.workflow".encode()
            parked: list = []

            async def both_parked():
                found = await dlq.collect(lambda e: e.id in (unknown_case.id, unknown_status.id), count=1, timeout=5)
                parked.extend(letter for letter in found if letter[1].get("dlq_group") == group)
                return len({e.id for e, _, _ in parked}) == 2

            await h.eventually(both_parked)
        reasons = {e.id: headers for e, headers, _ in parked}
        assert reasons[unknown_case.id]["dlq_reason"] == b"refused"
        assert b"execution not found" in reasons[unknown_case.id]["dlq_error"]
        assert b"not a status of this case" in reasons[unknown_status.id]["dlq_error"]
        assert (await api.get(f"/v1/executions/{case['id']}")).json()["status"] == "submitted"


async def test_the_workflows_reports_show_where_the_case_stands(client, people, open_case, publish, h, org_id):
    cid = await people.add("Ida")
    other = await people.add("Jon")
    async with client() as api:
        case = await open_case(api, cid)
        entered = now()
        await publish(h.event("workflow.step_entered", org_id, case["id"], StepEntered(
            execution_id=uuid.UUID(case["id"]), step_id="review", phase_id="review", step_type="wait_for_task",
            entered_at=entered, waiting_for="task", temporal_run_id="run-1")))  # fmt: skip

        async def standing():
            got = (await api.get(f"/v1/executions/{case['id']}")).json()
            assert got["current_step_id"] == "review", got
            return got

        got = await h.eventually(standing)
        assert got["standing"] | {"since": None} == {
            "status": "submitted", "status_label": "Submitted", "run_state": "running", "phase_id": "review",
            "phase_name": "Review", "step_id": "review", "step_name": "Wait for the review",
            "step_type": "wait_for_task", "waiting_for": "task", "since": None,
        }  # fmt: skip
        assert datetime.fromisoformat(got["standing"]["since"]) == entered
        assert got["temporal_run_id"] == "run-1"

        await publish(h.event("workflow.completed", org_id, case["id"], WorkflowCompleted(
            execution_id=uuid.UUID(case["id"]), final_status="approved", completed_at=now())))  # fmt: skip

        async def completed():
            got = (await api.get(f"/v1/executions/{case['id']}")).json()
            assert got["run_state"] == "completed", got
            return got

        done = await h.eventually(completed)
        assert done["status"] == "approved" and done["completed_at"] is not None and done["waiting_for"] is None
        assert (await api.post(f"/v1/executions/{case['id']}/cancel")).status_code == 409
        assert (await api.post(f"/v1/executions/{case['id']}/status", json={"status": "on_hold"})).status_code == 409

        # cancellation: requested (the same request when asked twice), confirmed by the workflow
        second = await open_case(api, other)
        first_ask = await api.post(f"/v1/executions/{second['id']}/cancel", json={"reason": "withdrew"})
        again = await api.post(f"/v1/executions/{second['id']}/cancel")
        assert first_ask.status_code == again.status_code == 202
        assert first_ask.json()["request_id"] == again.json()["request_id"]
        assert (await api.get(f"/v1/executions/{second['id']}")).json()["run_state"] == "running"
        await publish(h.event("workflow.cancelled", org_id, second["id"], WorkflowCancelled(
            execution_id=uuid.UUID(second["id"]), request_id=uuid.UUID(first_ask.json()["request_id"]),
            cancelled_at=now())))  # fmt: skip

        async def cancelled():
            got = (await api.get(f"/v1/executions/{second['id']}")).json()
            assert (got["run_state"], got["status"]) == ("cancelled", "cancelled"), got
            return got

        await h.eventually(cancelled)
        deleted = await api.delete(f"/v1/executions/{second['id']}")
        assert deleted.json()["workflow_cancelled"] is False


async def test_filters_and_pages(client, people, open_case, publish, h, org_id):
    ana = await people.add("Ana", "Zamora", "ana.z@sheriff.example")
    ben = await people.add("Ben", "Young", "ben@example.com")
    cal = await people.add("Cal", "Xu", "cal@example.com")
    async with client() as api:
        a1 = await open_case(api, ana)
        a2 = await open_case(api, ana, source="api", source_id="crm-7")
        b1 = await open_case(api, ben)
        c1 = await open_case(api, cal, source="formstack", source_id="sub-9")
        await publish(h.event("execution.status_changed", org_id, b1["id"], ExecutionStatusChanged(
            execution_id=uuid.UUID(b1["id"]), status="in_review", changed_at=now())))  # fmt: skip
        await publish(h.event("workflow.completed", org_id, c1["id"], WorkflowCompleted(
            execution_id=uuid.UUID(c1["id"]), final_status="rejected", completed_at=now())))  # fmt: skip

        async def ids(**params):
            r = await api.get("/v1/executions", params=params)
            assert r.status_code == 200, r.text
            return {c["id"] for c in r.json()["items"]}

        async def settled():
            assert await ids(status="in_review") == {b1["id"]}
            assert await ids(run_state="completed") == {c1["id"]}
            return True

        await h.eventually(settled)
        assert await ids() == {a1["id"], a2["id"], b1["id"], c1["id"]}
        assert await ids(status=["in_review", "rejected"]) == {b1["id"], c1["id"]}
        assert await ids(status="submitted") == {a1["id"], a2["id"]}
        assert await ids(contact_id=ana) == {a1["id"], a2["id"]}
        assert await ids(source="api") == {a2["id"]}
        assert await ids(source="formstack") == {c1["id"]}
        assert await ids(definition_id="applicant-review") == {a1["id"], a2["id"], b1["id"], c1["id"]}
        assert await ids(definition_id=a1["definition_id"]) == {a1["id"], a2["id"], b1["id"], c1["id"]}
        assert await ids(q="ZAMORA") == {a1["id"], a2["id"]}
        assert await ids(q="sheriff.example") == {a1["id"], a2["id"]}
        assert await ids(q="ben you") == {b1["id"]}
        assert await ids(q="%") == set()
        assert await ids(opened_from=(now() + timedelta(hours=1)).isoformat()) == set()
        assert await ids(opened_to=(now() + timedelta(hours=1)).isoformat()) == {a1["id"], a2["id"], b1["id"], c1["id"]}
        assert await ids(closed_from=(now() - timedelta(hours=1)).isoformat()) == {c1["id"]}
        assert await ids(closed_to=(now() - timedelta(hours=1)).isoformat()) == set()

        for sort in ("-started_at", "started_at", "-updated_at", "updated_at"):
            seen, cursor = [], None
            while True:
                params = {"limit": 3, "sort": sort, **({"cursor": cursor} if cursor else {})}
                page = (await api.get("/v1/executions", params=params)).json()
                seen += [c["id"] for c in page["items"]]
                cursor = page["next_cursor"]
                if not cursor:
                    break
            assert sorted(seen) == sorted([a1["id"], a2["id"], b1["id"], c1["id"]])
        newest_first = [c["id"] for c in (await api.get("/v1/executions")).json()["items"]]
        assert newest_first == [c1["id"], b1["id"], a2["id"], a1["id"]]


async def test_board_counts_and_first_pages(client, people, open_case, publish, h, org_id):
    contacts = [await people.add(f"P{i}") for i in range(5)]
    async with client() as api:
        cases = [await open_case(api, c) for c in contacts]
        for case in cases[:2]:
            await publish(h.event("execution.status_changed", org_id, case["id"], ExecutionStatusChanged(
                execution_id=uuid.UUID(case["id"]), status="in_review", changed_at=now())))  # fmt: skip

        async def board():
            got = (await api.get("/v1/executions/board", params={"limit": 2})).json()
            counts = {c["status"]: c["count"] for c in got["columns"]}
            assert counts["in_review"] == 2, counts
            return got

        got = await h.eventually(board)
        columns = {c["status"]: c for c in got["columns"]}
        assert [c["status"] for c in got["columns"]] == [
            "submitted", "in_review", "background_check", "interview_scheduled", "interview_complete", "approved",
            "rejected", "on_hold",
        ]  # fmt: skip
        assert {k: c["count"] for k, c in columns.items() if c["count"]} == {"submitted": 3, "in_review": 2}
        assert columns["submitted"]["label"] == "Submitted" and columns["submitted"]["color"] == "gray"
        assert len(columns["submitted"]["items"]) == 2 and columns["submitted"]["next_cursor"]
        rest = await api.get("/v1/executions", params={"status": "submitted", "limit": 2,
                                                       "cursor": columns["submitted"]["next_cursor"]})  # fmt: skip
        assert rest.status_code == 200 and len(rest.json()["items"]) == 1
        assert columns["in_review"]["next_cursor"] is None
        scoped = (await api.get("/v1/executions/board", params={"definition_id": "applicant-review"})).json()
        assert sum(c["count"] for c in scoped["columns"]) == 5


async def test_dates_are_iso_times_with_a_zone_and_ids_are_uuids(client, h):
    """The lenient-coercion class: an integer is never read as a date; a case id that is not a
    UUID names no case."""
    async with client() as api:
        for value in ("12", "2026-01-31", "2026-01-31T09:00:00"):
            r = await api.get("/v1/executions", params={"opened_from": value})
            assert h.is_problem(r, 422), (value, r.text)
            assert [e["field"] for e in r.json()["errors"]] == ["opened_from"]
        assert (await api.get("/v1/executions", params={"opened_from": "2026-01-31T09:00:00Z"})).status_code == 200
        assert h.is_problem(await api.get("/v1/executions/not-a-uuid"), 404)
        assert h.is_problem(await api.post("/v1/executions/%00/cancel", json={}), 404)


async def test_a_case_reads_from_its_last_report_when_temporal_cannot_answer(
    start_service, executions_db, client, people, open_case, make_token, org_id
):
    import httpx
    from byte_platform.identity import HEADER
    from byte_testing.processes import free_port

    ann = await people.add("Ann", "Lee", "ann@example.com")
    async with client() as api:
        case = await open_case(api, ann)
    # the same database, read by a process whose Temporal is nowhere
    blind = start_service(
        "executions", database_url=executions_db, consumers_enabled="false", temporal_address=f"127.0.0.1:{free_port()}"
    )
    async with httpx.AsyncClient(base_url=blind.url, headers={HEADER: make_token(org_id)}, timeout=30) as api:
        got = await api.get(f"/v1/executions/{case['id']}")
    assert got.status_code == 200, got.text
    state = got.json()["state"]
    assert state["source"] == "projection" and state["unavailable"]
    assert (state["status"], state["current_step_id"], state["history"]) == ("submitted", None, [])
