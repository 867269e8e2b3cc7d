"""The tasks API's models: Create / Update / actions in, Public / Page out."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from byte_contracts.enums import TaskOutcome, TaskPriority, TaskStatus, TaskType
from byte_platform.validation import NOT_BLANK, AwareDatetime, JsonObject, StorableText
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from byte_tasks.domain import DESCRIPTION_MAX, TITLE_MAX

# Every text type carries `StorableText`: PostgreSQL cannot store U+0000 or a lone surrogate.
Title = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=TITLE_MAX, pattern=NOT_BLANK), StorableText
]
Description = Annotated[str, StringConstraints(max_length=DESCRIPTION_MAX), StorableText]
UserId = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200, pattern=NOT_BLANK), StorableText
]
RoleName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.:-]+$"),
    StorableText,
]
Comment = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=5000, pattern=NOT_BLANK), StorableText
]

PAGE_SIZE_MAX = 200

Metadata = JsonObject


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
    position change through the action endpoints, never here. Title, priority and metadata may
    be left out, never sent as null (`= Field(default=None)` only stands for "not sent")."""

    title: Title = Field(default=None)  # type: ignore[assignment]  # None: not sent
    description: Description | None = None
    priority: TaskPriority = Field(default=None)  # type: ignore[assignment]  # None: not sent
    assigned_to: UserId | None = None
    assigned_role: RoleName | None = None
    contact_id: uuid.UUID | None = None
    due_date: AwareDatetime | None = None
    metadata: Metadata = Field(default=None)  # type: ignore[arg-type]  # None: not sent

    @field_validator("title", "priority", "metadata", mode="before")
    @classmethod
    def _required_fields_cannot_be_cleared(cls, value: Any) -> Any:
        if value is None:
            raise PydanticCustomError("not_nullable", "cannot be null: a task always has one")
        return value


class StatusChange(_Strict):
    """`done` completes a standard task (outcome `completed`, `comment` kept as its comment)."""

    # only a change to done takes a comment: said in the schema too, so clients can know it
    model_config = ConfigDict(
        json_schema_extra={
            "anyOf": [
                {"properties": {"status": {"const": "done"}}},
                {"properties": {"comment": {"type": "null"}}},
            ]
        }
    )

    status: TaskStatus
    comment: Comment | None = None


class Approval(_Strict):
    comment: Comment | None = None


class Rejection(_Strict):
    comment: Comment | None = Field(
        None,
        description="why: required, unless the task's case step waived it "
        "(a workflow task whose `metadata.comment_required_on_reject` is not true)",
    )


class Move(_Strict):
    """Kanban drop: into column `status`, directly after `after_id` or directly before
    `before_id` (a card of that column), or at the bottom when neither is given."""

    model_config = ConfigDict(
        json_schema_extra={
            "anyOf": [
                {"properties": {"after_id": {"type": "null"}}},
                {"properties": {"before_id": {"type": "null"}}},
            ]
        }
    )

    status: TaskStatus
    after_id: uuid.UUID | None = None
    before_id: uuid.UUID | None = None

    @field_validator("before_id")
    @classmethod
    def _one_anchor(cls, before_id: uuid.UUID | None, info: ValidationInfo) -> uuid.UUID | None:
        # A field validator, not a model one, so that the error names a field.
        if before_id is not None and info.data.get("after_id") is not None:
            raise PydanticCustomError("one_anchor", "give after_id or before_id, not both")
        return before_id


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
    created_by_iteration: int | None = Field(
        None, description="the how-many-th time the case entered `created_by_step_id` (a loop re-enters it)"
    )
    created_by: str | None
    metadata: dict[str, Any]
    created_at: datetime
    updated_at: datetime


class TaskPage(BaseModel):
    items: list[TaskPublic]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page; null on the last page")
