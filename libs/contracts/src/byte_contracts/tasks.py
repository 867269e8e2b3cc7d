"""Payloads of the `tasks` topic.

Every event carries the whole task as it stands after the change (`TaskSnapshot`), including
`workflow_execution_id` and `created_by_step_id`, so the worker can signal the right workflow
and other services can keep projections without calling back.

The worker turns `task.completed` into a workflow signal (`task_completed` for a standard task,
`approval_submitted` for an approval task) when `workflow_execution_id` is set; a standalone
task's completion carries no execution id and signals nothing. See docs/tasks.md.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from byte_contracts.enums import TaskOutcome, TaskPriority, TaskStatus, TaskType


class TaskSnapshot(BaseModel):
    id: uuid.UUID
    workflow_execution_id: uuid.UUID | None = None
    contact_id: uuid.UUID | None = None
    assigned_to: str | None = None
    assigned_role: str | None = None
    title: str
    description: str | None = None
    task_type: TaskType
    status: TaskStatus
    priority: TaskPriority
    outcome: TaskOutcome | None = None
    outcome_comment: str | None = None
    position: float
    due_date: datetime | None = None
    completed_at: datetime | None = None
    created_by_step_id: str | None = None
    created_by_iteration: int | None = None
    created_by: str | None = None
    metadata: dict[str, Any] = {}
    created_at: datetime
    updated_at: datetime


class TaskCreated(BaseModel):
    task: TaskSnapshot


class TaskUpdated(BaseModel):
    """Fields changed through an edit or a kanban move within a column (`position`)."""

    task: TaskSnapshot
    changed_fields: list[str]


class TaskClaimed(BaseModel):
    task: TaskSnapshot
    claimed_by: str


class TaskUnclaimed(BaseModel):
    """`reason`: `unclaimed` (the assignee or an admin let it go), `member_removed` (the
    assignee left the org; their open tasks go back to the pool) or `reassigned` (the case's
    workflow handed the task to another role, e.g. an escalation)."""

    task: TaskSnapshot
    previous_assignee: str
    reason: str = "unclaimed"


class TaskStatusChanged(BaseModel):
    """Every status change, including the one to `done` (which is also a `task.completed`)."""

    task: TaskSnapshot
    previous_status: TaskStatus


class TaskCompleted(BaseModel):
    """The task reached `done`: completed (standard) or approved / rejected (approval).

    The event the worker relays to the case's workflow as a signal. `workflow_execution_id` and
    `created_by_step_id` repeat the snapshot's, so a consumer routes without looking inside;
    `workflow_execution_id` is null for a standalone task, which signals nothing.
    """

    task: TaskSnapshot
    outcome: TaskOutcome
    comment: str | None = None
    completed_by: str
    workflow_execution_id: uuid.UUID | None = None
    created_by_step_id: str | None = None
    iteration: int | None = None
    """the how-many-th time the case entered `created_by_step_id` (`TaskRequested.iteration`)"""


class TaskDeleted(BaseModel):
    task_id: uuid.UUID
    workflow_execution_id: uuid.UUID | None = None
    created_by_step_id: str | None = None
    iteration: int | None = None
