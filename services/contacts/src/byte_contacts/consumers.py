"""Kafka subscribers: parse the event into a command, call the handler.

`submission.received` (ingest): the applicant of an intake form becomes a contact, upserted by
email, and `contact.upserted` names the submission so the case opens for it. An applicant that
fails the API's own validation is a refusal and is dead-lettered (see byte_platform.consumers).

`contact.update_requested` (the worker: a case's `update_contact` step): the same update as
`PATCH /v1/contacts/{id}`, once per envelope (the inbox), answered by `contact.updated`. Fields
the API would refuse (an invalid email, a name cleared) are a refusal too: dead-lettered.
"""

from __future__ import annotations

from byte_contracts import Envelope, topics
from byte_contracts.ingest import SubmissionReceived
from byte_contracts.workflow import ContactUpdateRequested
from byte_platform.consumers import subscribe
from byte_platform.context import Context
from faststream.kafka import KafkaBroker

from byte_contacts.commands import TakeInApplicant, UpdateContact
from byte_contacts.handlers import ContactHandlers
from byte_contacts.schemas import ContactCreate, ContactUpdate

INTAKE_TYPES = frozenset({"submission.received"})
UPDATE_REQUEST_TYPES = frozenset({"contact.update_requested"})


def register(broker: KafkaBroker, handlers: ContactHandlers, group: str) -> None:
    async def on_submission(envelope: Envelope) -> None:
        received = SubmissionReceived.model_validate(envelope.data)
        applicant = ContactCreate.model_validate(received.applicant.model_dump(exclude_unset=True))
        await handlers.take_in(
            Context.of_event(envelope), TakeInApplicant(submission_id=received.submission_id, applicant=applicant)
        )

    async def on_update_requested(envelope: Envelope) -> None:
        requested = ContactUpdateRequested.model_validate(envelope.data)
        changes = ContactUpdate.model_validate(requested.fields)
        await handlers.update(
            Context.of_event(envelope),
            UpdateContact(contact_id=requested.contact_id, changes=changes, request_id=str(envelope.id)),
        )

    subscribe(broker, topics.INGEST, group_id=f"{group}.intake", handler=on_submission, types=INTAKE_TYPES)
    subscribe(
        broker,
        topics.WORKFLOW,
        group_id=f"{group}.update_requests",
        handler=on_update_requested,
        types=UPDATE_REQUEST_TYPES,
    )
