"""The tasks API's models: Create / Update / actions in, Public / Page out."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Annotated, Any

from byte_contracts.enums import TaskOutcome, TaskPriority, TaskStatus, TaskType
from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from byte_tasks.domain import DESCRIPTION_MAX, TITLE_MAX

Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=TITLE_MAX)]
Description = Annotated[str, StringConstraints(max_length=DESCRIPTION_MAX)]
UserId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
RoleName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100,
                                            pattern=r"^[A-Za-z0-9_.:-]+$")]
Comment = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=5000)]

PAGE_SIZE_MAX = 200
METADATA_MAX_BYTES = 16_384


def _small_metadata(value: dict[str, Any]) -> dict[str, Any]:
    if len(json.dumps(value)) > METADATA_MAX_BYTES:
        raise ValueError(f"metadata is larger than {METADATA_MAX_BYTES} bytes of JSON")
    return value


Metadata = Annotated[dict[str, Any], AfterValidator(_small_metadata)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TaskCreate(_Strict):
    """A manual task: standalone, or linked to an execution and/or a contact. It starts `todo`,
    at the bottom of the todo column. `assigned_to` must be a member of the org (you always are)."""

    title: Title
    description: Description | None = None
    task_type: TaskType = TaskType.STANDARD
    priority: TaskPriority = TaskPriority.MEDIUM
    assigned_to: UserId | None = None
    assigned_role: RoleName | None = None
    workflow_execution_id: uuid.UUID | None = None
    contact_id: uuid.UUID | None = None
    due_date: AwareDatetime | None = None
    metadata: Metadata = {}


class TaskUpdate(_Strict):
    """Only the fields sent are changed; `null` clears an optional field. Status, outcome and
    position change through the action endpoints, never here."""

    title: Title | None = None
    description: Description | None = None
    priority: TaskPriority | None = None
    assigned_to: UserId | None = None
    assigned_role: RoleName | None = None
    contact_id: uuid.UUID | None = None
    due_date: AwareDatetime | None = None
    metadata: Metadata | None = None

    @model_validator(mode="after")
    def _required_fields_cannot_be_cleared(self) -> TaskUpdate:
        for name in sorted({"title", "priority", "metadata"} & self.model_fields_set):
            if getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        return self


class StatusChange(_Strict):
    """`done` completes a standard task (outcome `completed`, `comment` kept as its comment)."""

    status: TaskStatus
    comment: Comment | None = None


class Approval(_Strict):
    comment: Comment | None = None


class Rejection(_Strict):
    comment: Comment = Field(description="why: required")


class Move(_Strict):
    """Kanban drop: into column `status`, directly after `after_id` or directly before
    `before_id` (a card of that column), or at the bottom when neither is given."""

    status: TaskStatus
    after_id: uuid.UUID | None = None
    before_id: uuid.UUID | None = None

    @model_validator(mode="after")
    def _one_anchor(self) -> Move:
        if self.after_id is not None and self.before_id is not None:
            raise ValueError("give after_id or before_id, not both")
        return self


class TaskPublic(BaseModel):
    id: uuid.UUID
    workflow_execution_id: uuid.UUID | None
    contact_id: uuid.UUID | None
    assigned_to: str | None
    assigned_role: str | None
    title: str
    description: str | None
    task_type: TaskType
    status: TaskStatus
    priority: TaskPriority
    outcome: TaskOutcome | None
    outcome_comment: str | None
    position: float
    due_date: datetime | None
    completed_at: datetime | None
    created_by_step_id: str | None
    created_by: str | None
    metadata: dict[str, Any]
    created_at: datetime
    updated_at: datetime


class TaskPage(BaseModel):
    items: list[TaskPublic]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page; null on the last page")
