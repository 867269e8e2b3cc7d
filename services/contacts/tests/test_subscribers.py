"""The contacts subscribers' wiring on FastStream's in-memory broker: which event reaches which
handler as which command and Context, and what is dead-lettered. The intake flow itself (the
upsert, the inbox, `contact.upserted`) is proven on the real broker in test_events.py."""

import uuid

import pytest
from byte_contacts import consumers
from byte_contacts.commands import TakeInApplicant
from byte_contacts.schemas import ContactCreate
from byte_contracts import Envelope, new_event, topics
from byte_contracts.errors import Conflict
from byte_contracts.ingest import Applicant, SubmissionReceived
from byte_platform.broker import make_broker
from byte_testing.subscribers import RecordedHandlers, dead_letters
from faststream.kafka import TestKafkaBroker


@pytest.fixture
def wiring():
    """(broker, handlers, dead letters of `ingest`): the service's own subscribers on a broker
    that never connects."""
    broker = make_broker("127.0.0.1:9", client_id="contacts-test")
    handlers = RecordedHandlers()
    consumers.register(broker, handlers, "contacts")
    return broker, handlers, dead_letters(broker, topics.INGEST)


def submission(org_id: str, **applicant) -> Envelope:
    submission_id = f"fs-{uuid.uuid4().hex[:8]}"
    return new_event(
        "submission.received",
        org_id=org_id,
        subject=submission_id,
        actor="system:ingest",
        correlation_id=f"corr-{submission_id}",
        data=SubmissionReceived(
            submission_id=submission_id, form_id="form_1", applicant=Applicant(**{"first_name": "Ann", **applicant})
        ),
    )


async def publish(broker, envelope: Envelope | bytes, key: bytes = b"k") -> None:
    body = envelope if isinstance(envelope, bytes) else envelope.to_bytes()
    await broker.publish(body, topic=topics.INGEST, key=key)


async def test_a_submission_becomes_a_take_in_command_in_the_events_org_and_flow(wiring, org_id):
    broker, handlers, parked = wiring
    received = submission(org_id, last_name="Lee", email="ann@example.com", tags=["applicant"])
    async with TestKafkaBroker(broker) as test_broker:
        await publish(test_broker, received)

    [call] = handlers.calls
    assert call.handler == "take_in"
    assert call.command == TakeInApplicant(
        submission_id=received.subject,
        applicant=ContactCreate(first_name="Ann", last_name="Lee", email="ann@example.com", tags=["applicant"]),
    )
    ctx = call.ctx
    assert (ctx.org_id, ctx.actor, ctx.is_system) == (org_id, "system:ingest", True)
    assert ctx.causation_id == str(received.id) and ctx.correlation_id == received.correlation_id
    assert call.correlation_id == received.correlation_id  # what the handler's logs carry
    assert parked == []


async def test_invalid_payloads_and_envelopes_are_dead_lettered_and_never_handled(wiring, org_id):
    broker, handlers, parked = wiring
    good = submission(org_id)
    no_applicant = good.model_copy(update={"data": {"submission_id": "fs-x", "form_id": "form_1"}})
    unfit_applicant = submission(org_id, email="not-an-email")  # fails the API's own validation
    async with TestKafkaBroker(broker) as test_broker:
        await publish(test_broker, no_applicant, key=b"one")
        await publish(test_broker, unfit_applicant, key=b"two")
        await publish(test_broker, b"{not an envelope", key=b"three")

    assert handlers.calls == []
    assert [m.raw_message.key for m in parked] == [b"one", b"two", b"three"]
    assert [m.body for m in parked] == [no_applicant.to_bytes(), unfit_applicant.to_bytes(), b"{not an envelope"]
    reasons = [(m.headers["dlq_reason"], m.headers["dlq_group"]) for m in parked]
    assert reasons == [("refused", "contacts.intake")] * 2 + [("invalid_envelope", "contacts.intake")]
    assert "applicant" in parked[0].headers["dlq_error"] and "email" in parked[1].headers["dlq_error"]
    assert all(m.headers["dlq_source"].startswith(f"{topics.INGEST}/") for m in parked)


async def test_a_refusal_by_the_handler_is_dead_lettered_at_once(wiring, org_id):
    broker, handlers, parked = wiring
    handlers.refuse["take_in"] = Conflict("this submission is someone else's")
    refused = submission(org_id)
    async with TestKafkaBroker(broker) as test_broker:
        await publish(test_broker, refused)

    assert [c.handler for c in handlers.calls] == ["take_in"]  # tried once: retrying cannot change a refusal
    [letter] = parked
    assert letter.headers["dlq_reason"] == "refused" and "someone else's" in letter.headers["dlq_error"]


async def test_other_types_on_the_topic_are_ignored(wiring, org_id):
    broker, handlers, parked = wiring
    other = submission(org_id).model_copy(update={"type": "submission.withdrawn"})
    async with TestKafkaBroker(broker) as test_broker:
        await publish(test_broker, other)
    assert handlers.calls == [] and parked == []
