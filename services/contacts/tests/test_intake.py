"""The intake entrypoint on the real broker: a `submission.received` becomes a contact, once,
and `contact.upserted` names the submission; a refused applicant is dead-lettered."""

import uuid

from byte_contracts import new_event, topics
from byte_contracts.ingest import Applicant, SubmissionReceived
from byte_testing import eventually


async def _contact_ids(api, count: int) -> set[str] | None:
    items = (await api.get("/v1/contacts", params={"limit": 10})).json()["items"]
    return {c["id"] for c in items} if len(items) >= count else None


def submission(org_id: str, applicant: dict, submission_id: str | None = None):
    sid = submission_id or uuid.uuid4().hex
    return new_event(
        "submission.received",
        org_id=org_id,
        subject=sid,
        actor="system:ingest",
        correlation_id=f"corr-{sid}",
        data=SubmissionReceived(submission_id=sid, form_id="form-1", applicant=Applicant.model_validate(applicant)),
    )


async def test_an_applicant_becomes_a_contact_once(contacts_service, publish, client, event_tap, org_id):
    email = f"{uuid.uuid4().hex[:8]}@example.com"
    first = submission(org_id, {"first_name": "Ada", "last_name": "Lovelace", "email": email, "tags": ["applicant"]})
    again = submission(
        org_id,
        {"first_name": "Ada", "last_name": "Lovelace", "email": email.upper(), "metadata": {"position": "deputy"}},
    )
    no_email = submission(org_id, {"first_name": "Grace", "phone": "770-555-0100"})
    async with event_tap(topics.CONTACTS) as tap:
        # a redelivered event (same envelope id) changes nothing; a second submission of the
        # same person updates the same contact
        for envelope in (first, first, again, no_email, no_email):
            await publish(envelope)
        # every contacts process of this session consumes `ingest` (each its own group and
        # database): count only what this service did, the contacts in its database
        async with client() as api:
            ours = await eventually(lambda: _contact_ids(api, 2), what="two contacts taken in")
        upserted = await tap.collect(lambda e: e.type == "contact.upserted" and e.subject in ours, count=3, settle=3)

    # one event per submission: the redeliveries added none
    assert sorted(e.data["submission_id"] for e, _, _ in upserted) == sorted(
        [first.subject, again.subject, no_email.subject]
    )
    by_submission = {e.data["submission_id"]: e for e, _, _ in upserted}
    # two submissions of one person (keys differ, so either may be handled first): one created
    # the contact, the other updated the same one
    assert sorted(by_submission[s.subject].data["created"] for s in (first, again)) == [False, True]
    assert by_submission[again.subject].subject == by_submission[first.subject].subject
    assert by_submission[no_email.subject].data["created"] is True
    for envelope in (first, again, no_email):
        event = by_submission[envelope.subject]
        # the intake flow stays one flow: the event says what caused it
        assert event.causation_id == str(envelope.id)
        assert event.correlation_id == envelope.correlation_id
        assert event.actor == "system:ingest"

    async with client() as api:
        contacts = (await api.get("/v1/contacts", params={"limit": 10})).json()["items"]
    assert len(contacts) == 2
    ada = next(c for c in contacts if c["first_name"] == "Ada")
    assert ada["email"].lower() == email and ada["tags"] == ["applicant"] and ada["metadata"] == {"position": "deputy"}


async def test_an_applicant_the_api_would_refuse_is_dead_lettered(contacts_service, publish, client, event_tap, org_id):
    bad = submission(org_id, {"first_name": "  ", "email": "not-an-email"})
    async with event_tap(topics.dead_letter(topics.INGEST)) as dlq:
        await publish(bad)
        dead = await dlq.collect(lambda e: e.id == bad.id, count=1, settle=2)
    # every contacts process of this session consumes `ingest`: this service's letter is its group's
    group = f"{contacts_service.env['CONSUMER_GROUP']}.intake".encode()
    ours = [(e, headers, key) for e, headers, key in dead if headers.get("dlq_group") == group]
    assert len(ours) == 1
    _, headers, _ = ours[0]
    assert headers["dlq_reason"] == b"refused"
    assert b"first_name" in headers["dlq_error"] and b"email" in headers["dlq_error"]
    async with client() as api:
        assert (await api.get("/v1/contacts")).json()["items"] == []


async def test_a_case_step_updates_a_contact_once_per_request(contacts_service, publish, client, event_tap, org_id):
    from byte_contracts.workflow import ContactUpdateRequested

    async with client() as api:
        created = await api.post(
            "/v1/contacts", json={"first_name": "Ada", "email": f"{uuid.uuid4().hex[:8]}@example.com"}
        )
        assert created.status_code == 201, created.text
        contact = created.json()
    execution_id = uuid.uuid4()

    def asked(fields: dict, step: str):
        return new_event(
            "contact.update_requested",
            org_id=org_id,
            subject=str(execution_id),
            actor="system:worker",
            data=ContactUpdateRequested(
                contact_id=contact["id"], execution_id=execution_id, step_id=step, fields=fields
            ),
        )

    first = asked({"city": "Springfield", "last_name": "Lovelace"}, "note_city")
    second = asked({"city": "Shelbyville"}, "moved")
    refused = asked({"email": "not an email"}, "broken")
    async with event_tap(topics.CONTACTS) as tap:
        for envelope in (first, first, refused, second, second):
            await publish(envelope)
        updated = await tap.collect(
            lambda e: e.type == "contact.updated" and e.subject == contact["id"], count=2, settle=3
        )
        async with client() as api:
            now = (await api.get(f"/v1/contacts/{contact['id']}")).json()

    # each request once, in order (one case's requests share its key); the refused one changed nothing
    assert [sorted(e.data["changed_fields"]) for e, _, _ in updated] == [["city", "last_name"], ["city"]]
    assert [e.causation_id for e, _, _ in updated] == [str(first.id), str(second.id)]
    assert (now["city"], now["last_name"], now["email"]) == ("Shelbyville", "Lovelace", contact["email"])
