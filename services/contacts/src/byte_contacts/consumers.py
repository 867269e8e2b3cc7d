"""Kafka subscribers: parse the event into a command, call the handler.

`submission.received` (ingest): the applicant of an intake form becomes a contact, upserted by
email, and `contact.upserted` names the submission so the case opens for it. An applicant that
fails the API's own validation is a refusal and is dead-lettered (see byte_platform.consumers).
"""

from __future__ import annotations

from byte_contracts import Envelope, topics
from byte_contracts.ingest import SubmissionReceived
from byte_platform.consumers import subscribe
from byte_platform.context import Context
from faststream.kafka import KafkaBroker

from byte_contacts.commands import TakeInApplicant
from byte_contacts.handlers import ContactHandlers
from byte_contacts.schemas import ContactCreate

INTAKE_TYPES = frozenset({"submission.received"})


def register(broker: KafkaBroker, handlers: ContactHandlers, group: str) -> None:
    async def on_submission(envelope: Envelope) -> None:
        received = SubmissionReceived.model_validate(envelope.data)
        applicant = ContactCreate.model_validate(received.applicant.model_dump(exclude_unset=True))
        await handlers.take_in(
            Context.of_event(envelope), TakeInApplicant(submission_id=received.submission_id, applicant=applicant)
        )

    subscribe(broker, topics.INGEST, group_id=f"{group}.intake", handler=on_submission, types=INTAKE_TYPES)
