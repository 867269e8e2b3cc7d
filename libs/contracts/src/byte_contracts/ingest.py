"""Payloads of the `ingest` topic: what the ingest service hands on from an intake form."""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import BaseModel, Field


class Applicant(BaseModel):
    """The person a submission is about, as the form's field mappings produced it. Contacts
    validates it as it would an API upsert; a contact is matched by email within the org."""

    first_name: str
    last_name: str = ""
    email: str | None = None
    phone: str | None = None
    company: str | None = None
    address_line_1: str | None = None
    address_line_2: str | None = None
    city: str | None = None
    state: str | None = None
    zip: str | None = None
    metadata: dict[str, Any] = {}
    tags: list[str] = []


class SubmissionReceived(BaseModel):
    """`submission.received`: a genuine form submission, stored once (first delivery only).

    The envelope's `subject` is the submission id. Contacts upserts `applicant` and answers
    with `contact.upserted` naming `submission_id`; executions opens the case from that.
    """

    submission_id: str = Field(description="Formstack's UniqueID, unique per org")
    form_id: str
    applicant: Applicant
    variables: dict[str, Any] = Field(default={}, description="case variables the mappings produced")
    definition_id: uuid.UUID | None = Field(default=None, description="the form's default workflow definition")
