"""Payloads of the `executions` topic: workflow definitions and cases (executions).

A definition's versions are immutable: an edit is a new version (`definition.versioned`), and
every case runs the version it was opened with. `execution.created` carries that version's
whole document, so the worker can start the case without calling back.

`execution.status_change_requested` and `execution.cancel_requested` are requests to the
case's workflow: the executions service changes the case only when the workflow confirms
(`execution.status_changed`, `workflow.cancelled` on the `workflow` topic).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from byte_contracts.enums import ExecutionSource


class DefinitionSnapshot(BaseModel):
    """One version of a definition, as stored. `phases`, `steps`, `variables` and `statuses`
    are those of a valid `byte_contracts.definitions.Definition` document."""

    id: uuid.UUID
    definition_key: str
    version: int
    language_version: int
    name: str
    description: str = ""
    phases: list[dict[str, Any]]
    steps: list[dict[str, Any]]
    variables: list[dict[str, Any]] = []
    statuses: list[dict[str, Any]]
    is_active: bool
    created_by: str | None = None
    created_at: datetime
    updated_at: datetime

    def document(self) -> dict[str, Any]:
        """The definition document (what `Definition.model_validate` takes)."""
        return {
            "language_version": self.language_version,
            "name": self.name,
            "description": self.description,
            "phases": self.phases,
            "steps": self.steps,
            "variables": self.variables,
            "statuses": self.statuses,
        }


class DefinitionCreated(BaseModel):
    definition: DefinitionSnapshot


class DefinitionVersioned(BaseModel):
    """An edit: `definition` is the new version; `previous_id` (version - 1) was deactivated."""

    definition: DefinitionSnapshot
    previous_id: uuid.UUID


class DefinitionDeactivated(BaseModel):
    """No new case may start on this version; running cases go on."""

    definition_id: uuid.UUID
    definition_key: str
    version: int


class DefinitionReactivated(BaseModel):
    definition_id: uuid.UUID
    definition_key: str
    version: int


class ExecutionSnapshot(BaseModel):
    """A case as it stands after the change."""

    id: uuid.UUID
    definition_id: uuid.UUID
    definition_key: str
    definition_version: int
    contact_id: uuid.UUID
    status: str
    run_state: str
    current_step_id: str | None = None
    current_phase_id: str | None = None
    source: ExecutionSource
    source_id: str | None = None
    variables: dict[str, Any] = {}
    metadata: dict[str, Any] = {}
    temporal_workflow_id: str
    temporal_run_id: str | None = None
    started_at: datetime
    completed_at: datetime | None = None
    created_by: str | None = None
    created_at: datetime
    updated_at: datetime


class CaseContact(BaseModel):
    """The case's contact as the executions service knew it when the case opened (its
    `contact_summaries` projection): what the workflow's templates read as `contact.*`."""

    id: uuid.UUID
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    phone: str | None = None


class ExecutionCreated(BaseModel):
    """A new case: the worker starts its workflow (id `execution.temporal_workflow_id`) on
    `definition`, the frozen version's document, with `contact` and `org_name` for its
    templates (absent from events recorded before they were added)."""

    execution: ExecutionSnapshot
    definition: dict[str, Any]
    contact: CaseContact | None = None
    org_name: str | None = None


class ExecutionUpdated(BaseModel):
    execution: ExecutionSnapshot
    changed_fields: list[str]


class ExecutionStatusChangeRequested(BaseModel):
    """Someone asked for a case to move to `status` (a status of its definition version). The
    workflow applies it and answers `execution.status_changed` naming `request_id`."""

    execution_id: uuid.UUID
    request_id: uuid.UUID
    status: str
    current_status: str
    reason: str | None = None
    temporal_workflow_id: str


class ExecutionCancelRequested(BaseModel):
    """Someone asked for a case to stop; the workflow answers `workflow.cancelled`."""

    execution_id: uuid.UUID
    request_id: uuid.UUID
    reason: str | None = None
    temporal_workflow_id: str


class ExecutionDeleted(BaseModel):
    """A case was deleted; `workflow_cancelled` says a cancellation was requested first (the
    case was still running)."""

    execution_id: uuid.UUID
    contact_id: uuid.UUID
    workflow_cancelled: bool
