import uuid
from datetime import UTC, datetime

import pytest
from byte_contracts import Envelope, new_event, topic_for
from byte_contracts.contacts import ContactDeleted


def test_new_event_round_trips_through_bytes():
    contact_id = uuid.uuid4()
    event = new_event(
        "contact.deleted",
        org_id="org_1",
        subject=str(contact_id),
        actor="user_1",
        data=ContactDeleted(contact_id=contact_id),
        correlation_id="req-1",
    )
    again = Envelope.from_bytes(event.to_bytes())
    assert again == event
    assert again.data == {"contact_id": str(contact_id)}
    assert topic_for(again.type) == "contacts"
    assert again.occurred_at.tzinfo is not None


def test_new_event_refuses_the_wrong_payload():
    with pytest.raises(TypeError):
        new_event("contact.created", org_id="o", subject="s", actor="a", data=ContactDeleted(contact_id=uuid.uuid4()))


def test_unknown_type_is_refused():
    with pytest.raises(KeyError):
        topic_for("contact.exploded")


def test_deterministic_id_is_kept():
    event_id = uuid.uuid5(uuid.NAMESPACE_URL, "wf-1/step-2")
    event = new_event(
        "contact.deleted",
        org_id="o",
        subject="s",
        actor="system:worker",
        data=ContactDeleted(contact_id=uuid.uuid4()),
        event_id=event_id,
        occurred_at=datetime(2026, 1, 1, tzinfo=UTC),
    )
    assert event.id == event_id
