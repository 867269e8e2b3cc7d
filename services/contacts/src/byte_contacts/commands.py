"""What may be asked of the contacts service, whoever asks: an HTTP route or a consumer builds
one of these and hands it, with a `Context`, to a handler."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from byte_contacts.schemas import ContactCreate, ContactUpdate, ContactUpsert


@dataclass(frozen=True)
class CreateContact:
    contact: ContactCreate


@dataclass(frozen=True)
class UpdateContact:
    contact_id: uuid.UUID
    changes: ContactUpdate
    """Only the fields set are changed; `null` clears an optional one."""
    request_id: str | None = None
    """Set when the update is asked for by an event (a case's `update_contact` step): applied
    once per request, however often it is delivered."""


@dataclass(frozen=True)
class DeleteContact:
    contact_id: uuid.UUID


@dataclass(frozen=True)
class UpsertContact:
    """Create, or update the contact with this email (only the fields set; tags added,
    metadata merged)."""

    contact: ContactUpsert


@dataclass(frozen=True)
class TakeInApplicant:
    """An intake form's applicant: upserted by email when there is one, created otherwise;
    once per submission, however often the submission's event is delivered."""

    submission_id: str
    applicant: ContactCreate


@dataclass(frozen=True)
class MergeContact:
    """`contact_id` is one person with `into`: it is merged into `into` and is gone."""

    contact_id: uuid.UUID
    into: uuid.UUID
