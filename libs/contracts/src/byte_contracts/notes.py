"""Payloads of notes (on the `executions` topic: the executions service keeps them).

A note is on one case, contact or task (`entity_type`, `entity_id`); `execution_id`,
`contact_id` and `task_id` are what the note concerns as known when it was written (a note on a
task of a case names the case and its contact too), so a consumer files it without looking up.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel

NoteEntity = Literal["case", "contact", "task"]


class NoteSnapshot(BaseModel):
    id: uuid.UUID
    entity_type: NoteEntity
    entity_id: uuid.UUID
    execution_id: uuid.UUID | None = None
    contact_id: uuid.UUID | None = None
    task_id: uuid.UUID | None = None
    author_id: str
    content: str
    is_internal: bool
    created_at: datetime
    updated_at: datetime


class NoteCreated(BaseModel):
    note: NoteSnapshot


class NoteUpdated(BaseModel):
    """`previous` holds the changed fields' values before the edit."""

    note: NoteSnapshot
    changed_fields: list[str]
    previous: dict[str, str | bool] = {}


class NoteDeleted(BaseModel):
    note: NoteSnapshot
