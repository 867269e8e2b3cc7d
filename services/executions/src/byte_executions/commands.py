"""What may be asked of the executions service, whoever asks: an HTTP route or a consumer
builds one of these and hands it, with a `Context`, to a handler."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

DefinitionRef = uuid.UUID | str
"""The id of any version of a definition, or its key."""


# --- definitions -----------------------------------------------------------------------------


@dataclass(frozen=True)
class CreateDefinition:
    document: dict[str, Any]
    key: str | None = None
    """Stable across versions; from the name when not given."""


@dataclass(frozen=True)
class EditDefinition:
    """A new version from `document`, if `expected_version` is still the latest."""

    definition: DefinitionRef
    document: dict[str, Any]
    expected_version: int


@dataclass(frozen=True)
class SetDefinitionActive:
    """Deactivate (no new case may start on it) or reactivate the latest version."""

    definition: DefinitionRef
    active: bool


@dataclass(frozen=True)
class ProvisionOrg:
    """Give the org its default definition (Applicant Review), once, whoever asks first; and
    remember its name when the asker (an identity event) knows it."""

    name: str | None = None


# --- cases -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class OpenCase:
    """A case for `contact_id` on the latest version of `definition` (which must be active)."""

    contact_id: uuid.UUID
    definition: DefinitionRef
    variables: dict[str, Any]
    metadata: dict[str, Any]
    source: str = "manual"
    source_id: str | None = None
    """With `source`, opens the case once: asking again answers the case already opened."""


@dataclass(frozen=True)
class UpdateCase:
    execution_id: uuid.UUID
    variables: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None


@dataclass(frozen=True)
class RequestStatusChange:
    execution_id: uuid.UUID
    status: str
    reason: str | None = None


@dataclass(frozen=True)
class CancelCase:
    execution_id: uuid.UUID
    reason: str | None = None


@dataclass(frozen=True)
class DeleteCase:
    execution_id: uuid.UUID


# --- from the worker: where a case's workflow is -----------------------------------------------


@dataclass(frozen=True)
class RecordStepEntered:
    execution_id: uuid.UUID
    step_id: str
    phase_id: str
    entered_at: datetime
    waiting_for: str | None = None
    temporal_run_id: str | None = None


@dataclass(frozen=True)
class ApplyStatusChange:
    execution_id: uuid.UUID
    status: str
    request_id: uuid.UUID | None = None
    # when the workflow set it (the event's `changed_at`): where the case's status span begins
    changed_at: datetime | None = None


@dataclass(frozen=True)
class EndCase:
    """The workflow ended: `run_state` completed, failed or cancelled."""

    execution_id: uuid.UUID
    run_state: str
    at: datetime
    final_status: str | None = None
    failure: str | None = None


# --- projections -------------------------------------------------------------------------------


@dataclass(frozen=True)
class RecordContact:
    contact_id: uuid.UUID
    first_name: str
    last_name: str
    email: str | None
    phone: str | None
    as_of: datetime
    zip: str | None = None


@dataclass(frozen=True)
class ForgetContact:
    contact_id: uuid.UUID
    at: datetime


# --- intake (Formstack, through ingest and contacts) ----------------------------------------------


@dataclass(frozen=True)
class RecordSubmission:
    """ingest's half of an intake: the submission, mapped."""

    submission_id: str
    form_id: str
    definition_id: uuid.UUID | None
    variables: dict[str, Any]


@dataclass(frozen=True)
class RecordApplicant:
    """contacts' half of an intake: the contact it took in for the submission."""

    submission_id: str
    contact_id: uuid.UUID


@dataclass(frozen=True)
class DismissDuplicate:
    """The case's applicant is not the contact it was flagged as a possible duplicate of."""

    execution_id: uuid.UUID


@dataclass(frozen=True)
class ApplyContactMerge:
    """contacts merged `from_contact_id` into `into_contact_id` (`contact.merged`): what named
    the merged contact names the survivor."""

    from_contact_id: uuid.UUID
    into_contact_id: uuid.UUID
    at: datetime


# --- notes, the task projection --------------------------------------------------------------


@dataclass(frozen=True)
class WriteNote:
    entity_type: str
    """`case`, `contact` or `task`."""
    entity_id: uuid.UUID
    content: str
    is_internal: bool = True


@dataclass(frozen=True)
class EditNote:
    note_id: uuid.UUID
    content: str | None = None
    is_internal: bool | None = None


@dataclass(frozen=True)
class DeleteNote:
    note_id: uuid.UUID


@dataclass(frozen=True)
class RecordTask:
    """A task as its event's snapshot shows it (`as_of`: the snapshot's `updated_at`)."""

    task_id: uuid.UUID
    execution_id: uuid.UUID | None
    contact_id: uuid.UUID | None
    title: str
    status: str
    assigned_to: str | None
    assigned_role: str | None
    due_date: datetime | None
    priority: str
    step_id: str | None
    created_at: datetime
    as_of: datetime


@dataclass(frozen=True)
class ForgetTask:
    task_id: uuid.UUID
    execution_id: uuid.UUID | None
