"""What may be asked of the tasks service, whoever asks: an HTTP route or a consumer builds one
of these and hands it, with a `Context`, to a handler."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from byte_contracts.enums import TaskOutcome, TaskStatus
from byte_contracts.workflow import TaskRequested, TaskUpdateRequested

from byte_tasks.schemas import Move, TaskCreate, TaskUpdate


@dataclass(frozen=True)
class CreateTask:
    task: TaskCreate


@dataclass(frozen=True)
class UpdateTask:
    task_id: uuid.UUID
    changes: TaskUpdate


@dataclass(frozen=True)
class DeleteTask:
    task_id: uuid.UUID


@dataclass(frozen=True)
class ClaimTask:
    task_id: uuid.UUID


@dataclass(frozen=True)
class UnclaimTask:
    task_id: uuid.UUID


@dataclass(frozen=True)
class ChangeTaskStatus:
    task_id: uuid.UUID
    status: TaskStatus
    comment: str | None = None


@dataclass(frozen=True)
class DecideTask:
    """approve or reject an approval task."""

    task_id: uuid.UUID
    outcome: TaskOutcome
    comment: str | None = None


@dataclass(frozen=True)
class MoveTask:
    task_id: uuid.UUID
    move: Move


@dataclass(frozen=True)
class CreateRequestedTask:
    """A workflow step's task (`workflow.task_requested`): at most one per (execution, step,
    iteration)."""

    request: TaskRequested
    requested_at: datetime


@dataclass(frozen=True)
class UpdateRequestedTask:
    """A workflow's change to the task a step created (`workflow.task_update_requested`): an
    `update_task` step, or a wait's escalation."""

    request: TaskUpdateRequested
    requested_at: datetime


@dataclass(frozen=True)
class RecordMember:
    """A member joined or changed (identity events); the newest `as_of` wins."""

    user_id: str
    roles: list[str]
    email: str | None
    first_name: str | None
    last_name: str | None
    as_of: datetime


@dataclass(frozen=True)
class RemoveMember:
    """A member left the org (or the user was deleted): their open tasks go back to the pool."""

    user_id: str
    as_of: datetime


@dataclass(frozen=True)
class ApplyContactMerge:
    """contacts merged one contact into another (`contact.merged`): its tasks name the survivor."""

    from_contact_id: uuid.UUID
    into_contact_id: uuid.UUID
