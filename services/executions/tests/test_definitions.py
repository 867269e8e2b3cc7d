"""Workflow definitions over the real service, PostgreSQL and Kafka: immutable versions, the
concurrent-edit race, validation through the API, the default definition every org gets once."""

import asyncio
import copy
import uuid
from typing import Any

import pytest
import sqlalchemy as sa
from byte_contracts.definitions import Definition, applicant_review, applicant_review_document, definition_json_schema
from byte_contracts.identity import Organization, OrganizationCreated, OrganizationUpdated
from byte_executions.models import provisioned_orgs
from byte_platform.db import Database

DOC_FIELDS = ("language_version", "name", "description", "phases", "steps", "variables", "statuses")


def document(**over: Any) -> dict[str, Any]:
    """A valid definition document: Applicant Review under another name."""
    doc = applicant_review_document()
    doc["name"] = f"Deputy Onboarding {uuid.uuid4().hex[:6]}"
    return {**doc, **over}


def doc_of(body: dict[str, Any]) -> dict[str, Any]:
    return {k: body[k] for k in DOC_FIELDS}


async def test_every_org_starts_with_applicant_review(client):
    async with client() as api:
        listed = await api.get("/v1/definitions")
        assert listed.status_code == 200, listed.text
        (item,) = listed.json()["items"]
        assert item["definition_key"] == "applicant-review"
        assert (item["version"], item["version_count"], item["is_active"]) == (1, 1, True)

        got = await api.get("/v1/definitions/applicant-review")
        assert got.status_code == 200, got.text
        assert Definition.model_validate(doc_of(got.json())) == applicant_review()
        assert got.headers["etag"] == '"1"'
        assert (await api.get(f"/v1/definitions/{item['id']}")).json() == got.json()


async def test_create_edit_and_read_every_version(client, event_tap):
    async with client() as api, event_tap("executions") as tap:
        first = document(key="deputy-onboarding")
        created = await api.post("/v1/definitions", json=first)
        assert created.status_code == 201, created.text
        v1 = created.json()
        assert (v1["definition_key"], v1["version"], v1["is_active"], v1["is_latest"]) == (
            "deputy-onboarding",
            1,
            True,
            True,
        )
        assert created.headers["location"] == f"/v1/definitions/{v1['id']}"
        assert Definition.model_validate(doc_of(v1)) == Definition.model_validate({k: first[k] for k in DOC_FIELDS})
        assert v1["created_by"] == "user_admin"

        second = copy.deepcopy(first)
        second["steps"][1]["config"]["title"] = "Review the application"
        second.pop("key")
        edited = await api.put(f"/v1/definitions/{v1['id']}", json=second, headers={"If-Match": '"1"'})
        assert edited.status_code == 200, edited.text
        v2 = edited.json()
        assert (v2["version"], v2["version_count"], v2["is_active"], v2["definition_key"]) == (
            2,
            2,
            True,
            "deputy-onboarding",
        )
        assert v2["id"] != v1["id"] and edited.headers["etag"] == '"2"'

        # the latest by any version's id or by key; an old version stays readable, deactivated
        for ref in (v1["id"], v2["id"], "deputy-onboarding"):
            assert (await api.get(f"/v1/definitions/{ref}")).json()["version"] == 2
        old = (await api.get("/v1/definitions/deputy-onboarding", params={"version": 1})).json()
        assert old["id"] == v1["id"] and old["steps"] == v1["steps"] != v2["steps"]
        assert (old["is_active"], old["is_latest"], old["version_count"]) == (False, False, 2)
        assert (await api.get("/v1/definitions/deputy-onboarding", params={"version": 3})).status_code == 404

        history = (await api.get(f"/v1/definitions/{v1['id']}/versions")).json()
        assert history["definition_key"] == "deputy-onboarding"
        assert [(v["version"], v["is_active"]) for v in history["versions"]] == [(2, True), (1, False)]

        listed = {d["definition_key"]: d for d in (await api.get("/v1/definitions")).json()["items"]}
        assert set(listed) == {"applicant-review", "deputy-onboarding"}
        assert (listed["deputy-onboarding"]["version"], listed["deputy-onboarding"]["version_count"]) == (2, 2)

        # a stale edit is a 409 and writes nothing; so is an edit of an unseen version
        stale = await api.put("/v1/definitions/deputy-onboarding", json={**second, "expected_version": 1})
        assert stale.status_code == 409 and stale.json()["latest_version"] == 2
        assert (
            await api.put("/v1/definitions/deputy-onboarding", json={**second, "expected_version": 7})
        ).status_code == 409
        # an edit must say which version it edits
        unguarded = await api.put("/v1/definitions/deputy-onboarding", json=second)
        assert unguarded.status_code == 422 and unguarded.json()["errors"][0]["field"] == "expected_version"
        assert (
            await api.put("/v1/definitions/deputy-onboarding", json=second, headers={"If-Match": "two"})
        ).status_code == 422
        third = await api.put("/v1/definitions/deputy-onboarding", json={**second, "expected_version": 2})
        assert third.status_code == 200 and third.json()["version"] == 3
        assert [
            v["version"] for v in (await api.get("/v1/definitions/deputy-onboarding/versions")).json()["versions"]
        ] == [3, 2, 1]

        # deactivate / reactivate the latest
        off = await api.post("/v1/definitions/deputy-onboarding/deactivate")
        assert off.status_code == 200 and off.json()["is_active"] is False and off.json()["version"] == 3
        assert [
            d["definition_key"] for d in (await api.get("/v1/definitions", params={"active": False})).json()["items"]
        ] == ["deputy-onboarding"]
        assert (await api.post("/v1/definitions/deputy-onboarding/deactivate")).json()["is_active"] is False
        on = await api.post("/v1/definitions/deputy-onboarding/reactivate")
        assert on.status_code == 200 and on.json()["is_active"] is True

        # the same key again is a conflict
        again = await api.post("/v1/definitions", json=first)
        assert again.status_code == 409 and again.json()["errors"][0]["field"] == "key"

        events = await tap.collect(
            lambda e: e.subject in {v1["id"], v2["id"], third.json()["id"]}, count=5, timeout=30, settle=1
        )
        events.sort(key=lambda found: found[0].occurred_at)
        assert [e.type for e, _, _ in events] == [
            "definition.created", "definition.versioned", "definition.versioned",
            "definition.deactivated", "definition.reactivated",
        ]  # fmt: skip
        created_event = events[0][0]
        assert created_event.data["definition"]["steps"] == v1["steps"]
        assert events[1][0].data["previous_id"] == v1["id"]


async def test_twenty_concurrent_edits_of_one_version_make_exactly_one_new_version(client):
    async with client() as api:
        v1 = (await api.post("/v1/definitions", json=document())).json()

        async def edit(i: int):
            doc = doc_of(v1)
            doc["description"] = f"edit {i}"
            return await api.put(f"/v1/definitions/{v1['id']}", json=doc, headers={"If-Match": '"1"'})

        answers = await asyncio.gather(*(edit(i) for i in range(20)))
        codes = sorted(r.status_code for r in answers)
        assert codes == [200] + [409] * 19, [r.text for r in answers if r.status_code not in (200, 409)]
        (winner,) = [r.json() for r in answers if r.status_code == 200]
        history = (await api.get(f"/v1/definitions/{v1['id']}/versions")).json()["versions"]
        assert [v["version"] for v in history] == [2, 1]
        assert (await api.get(f"/v1/definitions/{v1['id']}")).json()["description"] == winner["description"]


BAD_DEFINITIONS = [
    # (what is wrong, change to Applicant Review, the error path expected)
    ("unknown step type", lambda d: d["steps"][1].update(type="teleport"), "steps[1].type"),
    ("duplicate step id", lambda d: d["steps"][2].update(id="assign_review"), "steps[2].id"),
    ("unknown status", lambda d: d["steps"][3]["config"].update(status="hired"), "steps[3].config.status"),
    ("timeout beyond a year", lambda d: d["steps"][2]["config"].update(timeout={"days": 400}),
     "steps[2].config.timeout"),
    ("approval wait on a standard task", lambda d: d["steps"][5]["config"].update(task_step="assign_review"),
     "steps[5].config.task_step"),
    ("template reads an unknown field", lambda d: d["steps"][4]["config"].update(title="Hi {{ contact.nickname }}"),
     "steps[4].config.title"),
    ("a loop without a wait", lambda d: d["steps"][8].update(next="mark_approved"), "steps[8].next"),
    ("unknown phase", lambda d: d["steps"][10].update(phase_id="nowhere"), "steps[10].phase_id"),
    ("another language version", lambda d: d.update(language_version=2), "language_version"),
]  # fmt: skip


@pytest.mark.parametrize(("_what", "change", "path"), BAD_DEFINITIONS, ids=[b[0] for b in BAD_DEFINITIONS])
async def test_an_invalid_definition_is_refused_with_its_path_and_nothing_is_stored(client, _what, change, path):
    async with client() as api:
        bad = document()
        change(bad)
        before = (await api.get("/v1/definitions")).json()

        dry = await api.post("/v1/definitions/validate", json=bad)
        assert dry.status_code == 200, dry.text
        assert dry.json()["valid"] is False
        assert path in [e["path"] for e in dry.json()["errors"]], dry.json()

        refused = await api.post("/v1/definitions", json=bad)
        assert refused.status_code == 422 and refused.headers["content-type"].startswith("application/problem+json")
        assert path in [e["field"] for e in refused.json()["errors"]], refused.json()

        good = (await api.post("/v1/definitions", json=document())).json()
        edited = await api.put(f"/v1/definitions/{good['id']}", json=bad, headers={"If-Match": '"1"'})
        assert edited.status_code == 422
        assert (await api.get(f"/v1/definitions/{good['id']}/versions")).json()["versions"][0]["version"] == 1
        after = (await api.get("/v1/definitions")).json()
        assert len(after["items"]) == len(before["items"]) + 1


async def test_validate_is_a_dry_run(client):
    async with client() as api:
        ok = await api.post("/v1/definitions/validate", json=document())
        assert ok.json() == {"valid": True, "errors": []}
        not_an_object = await api.post("/v1/definitions/validate", json=[1, 2])
        assert not_an_object.status_code == 422
        empty = (await api.post("/v1/definitions/validate", json={})).json()
        assert empty["valid"] is False and {"language_version", "name", "phases", "steps"} <= {
            e["path"] for e in empty["errors"]
        }
        assert [d["definition_key"] for d in (await api.get("/v1/definitions")).json()["items"]] == ["applicant-review"]


async def test_schema_and_step_variables(client):
    async with client() as api:
        schema = await api.get("/v1/definitions/schema")
        assert schema.status_code == 200 and schema.json() == definition_json_schema()

        at_decide = await api.get("/v1/definitions/applicant-review/variables", params={"step": "decide"})
        assert at_decide.status_code == 200, at_decide.text
        paths = [v["path"] for v in at_decide.json()]
        assert "contact.first_name" in paths and "steps.approval.outcome" in paths and "org.name" in paths
        outcome = next(v for v in at_decide.json() if v["path"] == "steps.approval.outcome")
        assert outcome["values"] == ["approved", "rejected"]
        at_start = [
            v["path"]
            for v in (await api.get("/v1/definitions/applicant-review/variables", params={"step": "start"})).json()
        ]
        assert not any(p.startswith("steps.") for p in at_start)
        unknown = await api.get("/v1/definitions/applicant-review/variables", params={"step": "nope"})
        assert unknown.status_code == 422 and unknown.json()["errors"][0] == {
            "field": "step",
            "in": "query",
            "message": "no step 'nope' in this definition",
        }


async def test_writes_are_for_admins(client):
    async with client() as admin, client(roles=("member",), user_id="user_member") as member:
        v1 = (await admin.post("/v1/definitions", json=document())).json()
        assert (await member.get(f"/v1/definitions/{v1['id']}")).status_code == 200
        assert (await member.get("/v1/definitions")).status_code == 200
        assert (await member.post("/v1/definitions", json=document())).status_code == 403
        assert (
            await member.put(f"/v1/definitions/{v1['id']}", json=doc_of(v1), headers={"If-Match": "1"})
        ).status_code == 403
        assert (await member.post(f"/v1/definitions/{v1['id']}/deactivate")).status_code == 403
        assert (await admin.get(f"/v1/definitions/{v1['id']}")).json() == v1


async def test_bad_input_is_a_clear_4xx(client):
    async with client() as api:
        assert (await api.get("/v1/definitions", params={"cursor": "garbage"})).status_code == 400
        assert (await api.get("/v1/definitions", params={"sort": "steps"})).status_code == 422
        assert (await api.get("/v1/definitions/Not A Key!")).status_code == 422
        assert (await api.get(f"/v1/definitions/{uuid.uuid4()}")).status_code == 404
        assert (await api.post("/v1/definitions", json={**document(), "key": "Bad Key"})).status_code == 422
        assert (await api.post("/v1/definitions", json={**document(), "key": 7})).status_code == 422


async def test_pages_walk_every_definition_once(client):
    async with client() as api:
        for i in range(5):
            assert (await api.post("/v1/definitions", json=document(name=f"Flow {i}"))).status_code == 201
        for sort in ("-created_at", "name", "-name", "created_at"):
            seen, cursor = [], None
            while True:
                page = (
                    await api.get(
                        "/v1/definitions", params={"limit": 2, "sort": sort, **({"cursor": cursor} if cursor else {})}
                    )
                ).json()
                seen += [d["name"] for d in page["items"]]
                cursor = page["next_cursor"]
                if not cursor:
                    break
            assert len(seen) == 6 and len(set(seen)) == 6
            if sort == "name":
                assert seen == sorted(seen, key=str.lower)


async def test_the_default_is_provisioned_once_when_the_org_event_and_the_first_request_race(
    client, org_id, publish, h, event_tap, executions_db
):
    created = h.event(
        "identity.organization.created",
        org_id,
        org_id,
        OrganizationCreated(organization=Organization(org_id=org_id, name="Fayette County")),
    )
    async with client() as api, event_tap("executions") as tap:

        async def first_requests():
            return await asyncio.gather(*(api.get("/v1/definitions") for _ in range(5)))

        answers, _ = await asyncio.gather(first_requests(), publish(created))
        for answer in answers:
            assert [d["definition_key"] for d in answer.json()["items"]] == ["applicant-review"]
        # the event is consumed too (it may come second): still exactly one
        await publish(
            h.event(
                "identity.organization.updated",
                org_id,
                org_id,
                OrganizationUpdated(organization=Organization(org_id=org_id)),
            )
        )
        # A sentinel org's creation under the same Kafka key comes after both on their
        # partition: once it is provisioned, the events above were handled.
        sentinel = f"org_{uuid.uuid4().hex[:12]}"
        await publish(
            h.event(
                "identity.organization.created",
                sentinel,
                org_id,
                OrganizationCreated(organization=Organization(org_id=sentinel)),
            )
        )
        db = Database(executions_db, pool_size=1, max_overflow=0)
        try:

            async def sentinel_provisioned():
                async with db.scoped(sentinel) as session:
                    return await session.scalar(sa.select(provisioned_orgs.c.org_id))

            await h.eventually(sentinel_provisioned)
        finally:
            await db.dispose()
        # Every executions process on the broker (other sessions' too) provisions the org in
        # its own database: ours is the event about our definition.
        ours = (await api.get("/v1/definitions/applicant-review")).json()["id"]
        mine: list[str] = []

        async def ours_published():
            mine.extend(e.type for e, _, _ in await tap.collect(lambda e: e.subject == ours, timeout=1))
            return mine

        await h.eventually(ours_published)
        # a second provisioning would have been published by now, behind the sentinel's
        mine.extend(e.type for e, _, _ in await tap.collect(lambda e: e.subject == ours, timeout=2))
        assert mine == ["definition.created"]
        history = (await api.get("/v1/definitions/applicant-review/versions")).json()["versions"]
        assert [v["version"] for v in history] == [1]


async def test_the_org_event_alone_provisions_before_any_request(executions_service, org_id, publish, h, event_tap):
    async with event_tap("executions") as tap:
        await publish(
            h.event(
                "identity.organization.created",
                org_id,
                org_id,
                OrganizationCreated(organization=Organization(org_id=org_id)),
            )
        )
        events = await tap.collect(lambda e: e.org_id == org_id, count=1, timeout=60)
    assert [e.type for e, _, _ in events] == ["definition.created"]
    assert events[0][0].actor == "system:executions"
