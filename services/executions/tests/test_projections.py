"""The contact summaries projection, fed by `contact.*` events in and out of order: the newest
snapshot (by its `updated_at`) wins, a deletion is final and keeps the last known name."""

import uuid
from datetime import UTC, datetime, timedelta

from byte_contracts.contacts import ContactCreated, ContactDeleted, ContactUpdated, ContactUpserted
from byte_contracts.workflow import ExecutionStatusChanged, StepEntered


async def _contact_of_case(api, h, case_id, **expected):
    async def probe():
        contact = (await api.get(f"/v1/executions/{case_id}")).json()["contact"]
        assert contact is not None and {k: contact[k] for k in expected} == expected, contact
        return contact

    return await h.eventually(probe)


async def test_the_newest_snapshot_wins_whatever_the_order(client, people, open_case, publish, h, org_id):
    t0 = datetime.now(UTC)
    cid = uuid.uuid4()
    created = people.snapshot(cid, "Kim", "Old", "kim@example.com", updated_at=t0)
    renamed = people.snapshot(cid, "Kim", "New", "kim.new@example.com", updated_at=t0 + timedelta(minutes=1))
    upserted = people.snapshot(cid, "Kimberly", "New", "kim.new@example.com", updated_at=t0 + timedelta(minutes=2))
    async with client() as api:
        # the update arrives first, the creation (older) after it
        await publish(
            h.event("contact.updated", org_id, str(cid), ContactUpdated(contact=renamed, changed_fields=["last_name"]))
        )
        await publish(h.event("contact.created", org_id, str(cid), ContactCreated(contact=created)))
        case = await open_case(api, str(cid))
        # a sentinel event after both on the same key: once it shows, both were applied
        await publish(h.event("contact.upserted", org_id, str(cid), ContactUpserted(contact=upserted, created=False)))
        await _contact_of_case(api, h, case["id"], first_name="Kimberly")
        contact = (await api.get(f"/v1/executions/{case['id']}")).json()["contact"]
        assert (contact["last_name"], contact["email"], contact["deleted"]) == ("New", "kim.new@example.com", False)


async def test_a_deletion_is_final_and_keeps_the_last_known_name(client, people, open_case, publish, h, org_id):
    cid = uuid.uuid4()
    t0 = datetime.now(UTC)
    async with client() as api:
        await publish(h.event("contact.created", org_id, str(cid), ContactCreated(
            contact=people.snapshot(cid, "Lou", "Park", updated_at=t0))))  # fmt: skip
        case = await open_case(api, str(cid))
        await publish(h.event("contact.deleted", org_id, str(cid), ContactDeleted(contact_id=cid)))
        # a late update (delivered after the deletion) renames, but does not revive
        await publish(h.event("contact.updated", org_id, str(cid), ContactUpdated(
            contact=people.snapshot(cid, "Louis", "Park", updated_at=t0 + timedelta(seconds=5)),
            changed_fields=["first_name"])))  # fmt: skip
        contact = await _contact_of_case(api, h, case["id"], first_name="Louis", deleted=True)
        assert contact["last_name"] == "Park"
        listed = (await api.get("/v1/executions", params={"q": "louis"})).json()["items"]
        assert [c["contact"]["deleted"] for c in listed] == [True]

    # deleted before it was ever created (out of order): the creation names it, still deleted
    early = uuid.uuid4()
    await publish(h.event("contact.deleted", org_id, str(early), ContactDeleted(contact_id=early)))
    await publish(h.event("contact.created", org_id, str(early), ContactCreated(
        contact=people.snapshot(early, "Max", "Early"))))  # fmt: skip
    async with client() as api:

        async def refused():
            r = await api.post("/v1/executions", json={"contact_id": str(early), "definition_id": "applicant-review"})
            assert r.status_code == 422 and r.json()["errors"][0]["message"] == "this contact was deleted", r.text
            return True

        await h.eventually(refused)


async def test_redelivered_events_change_nothing(client, people, open_case, publish, h, org_id):
    cid = uuid.uuid4()
    t0 = datetime.now(UTC)
    first = h.event(
        "contact.created", org_id, str(cid), ContactCreated(contact=people.snapshot(cid, "Ned", updated_at=t0))
    )
    async with client() as api:
        await publish(first)
        case = await open_case(api, str(cid))
        entered = h.event("workflow.step_entered", org_id, case["id"], _step(case["id"], "review", t0))
        await publish(entered)
        await _step_is(api, h, case["id"], "review")
        later = h.event(
            "workflow.step_entered", org_id, case["id"], _step(case["id"], "mark_in_review", t0 + timedelta(seconds=1))
        )
        await publish(later)
        await _step_is(api, h, case["id"], "mark_in_review")
        # the older report, redelivered and re-sent under a new id, does not move the case back
        await publish(entered)
        await publish(h.event("workflow.step_entered", org_id, case["id"], _step(case["id"], "review", t0)))
        # a status change after them on the same key: once it shows, they were handled
        await publish(h.event("execution.status_changed", org_id, case["id"], ExecutionStatusChanged(
            execution_id=uuid.UUID(case["id"]), status="in_review", changed_at=t0)))  # fmt: skip

        async def sentinel_seen():
            got = (await api.get(f"/v1/executions/{case['id']}")).json()
            assert got["status"] == "in_review", got["status"]
            return got

        assert (await h.eventually(sentinel_seen))["current_step_id"] == "mark_in_review"


def _step(case_id, step_id, at):
    phases = {"review": "review", "mark_in_review": "review", "assign_approval": "decision"}
    return StepEntered(execution_id=uuid.UUID(case_id), step_id=step_id, phase_id=phases[step_id],
                       step_type="wait_for_task", entered_at=at)  # fmt: skip


async def _step_is(api, h, case_id, step_id):
    async def probe():
        got = (await api.get(f"/v1/executions/{case_id}")).json()
        assert got["current_step_id"] == step_id, got["current_step_id"]
        return got

    return await h.eventually(probe)
