"""Payloads of the `contacts` topic."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from byte_contracts.enums import ContactStatus


class ContactSnapshot(BaseModel):
    """The whole contact as it stands after the change: consumers keep projections from it."""

    id: uuid.UUID
    first_name: str
    last_name: str
    email: str | None = None
    phone: str | None = None
    company: str | None = None
    role: str | None = None
    status: ContactStatus
    avatar_url: str | None = None
    last_contacted_at: datetime | None = None
    address_line_1: str | None = None
    address_line_2: str | None = None
    city: str | None = None
    state: str | None = None
    zip: str | None = None
    metadata: dict[str, Any] = {}
    tags: list[str] = []
    created_at: datetime
    updated_at: datetime


class ContactCreated(BaseModel):
    contact: ContactSnapshot


class ContactUpdated(BaseModel):
    contact: ContactSnapshot
    changed_fields: list[str]


class ContactDeleted(BaseModel):
    contact_id: uuid.UUID


class ContactUpserted(BaseModel):
    """An upsert by email: `created` tells a new contact from a matched one.

    `submission_id` names the intake submission that caused it, when there was one, so the
    executions service can open the case for the right submission.
    """

    contact: ContactSnapshot
    created: bool
    submission_id: str | None = None


class ContactMerged(BaseModel):
    """Staff found two contacts to be one person: `from_contact_id` is gone, merged into
    `into_contact_id` (`contact`, as it stands after the merge). Whatever names the merged
    contact (cases, tasks, projections) is re-pointed to the survivor by its owner."""

    from_contact_id: uuid.UUID
    into_contact_id: uuid.UUID
    contact: ContactSnapshot
    merged_at: datetime
    merged_by: str | None = None
