"""The intake entrypoint on the real broker: a `submission.received` becomes a contact, once,
and `contact.upserted` names the submission; a refused applicant is dead-lettered."""

import uuid

from byte_contracts import new_event, topics
from byte_contracts.ingest import Applicant, SubmissionReceived
from byte_platform.broker import make_broker


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


async def test_an_applicant_becomes_a_contact_once(contacts_service, stack, client, event_tap, org_id):
    email = f"{uuid.uuid4().hex[:8]}@example.com"
    first = submission(org_id, {"first_name": "Ada", "last_name": "Lovelace", "email": email, "tags": ["applicant"]})
    again = submission(
        org_id,
        {"first_name": "Ada", "last_name": "Lovelace", "email": email.upper(), "metadata": {"position": "deputy"}},
    )
    no_email = submission(org_id, {"first_name": "Grace", "phone": "770-555-0100"})
    broker = make_broker(stack["kafka_bootstrap_servers"], client_id="contacts-intake-test")
    await broker.start()
    try:
        async with event_tap(topics.CONTACTS) as tap:
            # a redelivered event (same envelope id) changes nothing; a second submission of the
            # same person updates the same contact
            for envelope in (first, first, again, no_email, no_email):
                await broker.publish(envelope.to_bytes(), topic=topics.INGEST, key=envelope.subject.encode())
            upserted = await tap.collect(
                lambda e: e.org_id == org_id and e.type == "contact.upserted", count=3, settle=3
            )
    finally:
        await broker.stop()

    # one event per submission: the redeliveries added none
    assert sorted(e.data["submission_id"] for e, _, _ in upserted) == sorted(
        [first.subject, again.subject, no_email.subject]
    )
    by_submission = {e.data["submission_id"]: e for e, _, _ in upserted}
    assert by_submission[first.subject].data["created"] is True
    assert by_submission[again.subject].data["created"] is False
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
    assert ada["email"] == email and ada["tags"] == ["applicant"] and ada["metadata"] == {"position": "deputy"}


async def test_an_applicant_the_api_would_refuse_is_dead_lettered(contacts_service, stack, client, event_tap, org_id):
    bad = submission(org_id, {"first_name": "  ", "email": "not-an-email"})
    broker = make_broker(stack["kafka_bootstrap_servers"], client_id="contacts-intake-test")
    await broker.start()
    try:
        async with event_tap(topics.dead_letter(topics.INGEST)) as dlq:
            await broker.publish(bad.to_bytes(), topic=topics.INGEST, key=bad.subject.encode())
            dead = await dlq.collect(lambda e: e.id == bad.id, count=1)
    finally:
        await broker.stop()
    assert len(dead) == 1
    _, headers, _ = dead[0]
    assert headers["dlq_reason"] == b"refused"
    assert b"first_name" in headers["dlq_error"] and b"email" in headers["dlq_error"]
    async with client() as api:
        assert (await api.get("/v1/contacts")).json()["items"] == []
