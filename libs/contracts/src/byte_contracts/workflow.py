"""Payloads of the `workflow` topic: what the worker publishes. Requests its activities issue
to other services (`workflow.task_requested`), and reports on a case's workflow for the
executions service (`workflow.step_entered`, `execution.status_changed`,
`workflow.completed|failed|cancelled`).

The worker publishes them with a deterministic envelope id (workflow id + step id), so a
retried activity republishes the same id; the consumer also dedupes on its own natural key.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from byte_contracts.enums import TaskPriority, TaskType


class TaskRequested(BaseModel):
    """`assign_task` asks the tasks service for a task (`workflow.task_requested`).

    The envelope's `subject` is the execution id, so one case's requests stay in order. The
    tasks service creates at most one task per `(org, execution_id, step_id)`: a redelivered or
    retried request, even under a new envelope id, creates nothing twice.

    Assignment: `assigned_role` (any holder may claim), `assigned_to` (a user id, which must be
    a member of the org: an unknown user leaves the task unassigned, with the id kept in
    `metadata.unresolved_assignee`), both, or neither. Due date: `due_date`, or
    `due_in_seconds` counted from the envelope's `occurred_at` (so a redelivery computes the
    same date); `due_date` wins when both are given.
    """

    execution_id: uuid.UUID
    step_id: str
    contact_id: uuid.UUID | None = None
    title: str
    description: str | None = None
    task_type: TaskType = TaskType.STANDARD
    assigned_role: str | None = None
    assigned_to: str | None = None
    priority: TaskPriority = TaskPriority.MEDIUM
    due_date: datetime | None = None
    due_in_seconds: int | None = None
    metadata: dict[str, Any] = {}
    iteration: int = Field(1, ge=1, description="the how-many-th time the case entered this step (a loop re-enters)")


class TaskUpdateRequested(BaseModel):
    """An `update_task` step, or a wait's escalation, asks the tasks service to change the task
    that `step_id` (an `assign_task`, at `iteration`) created (`workflow.task_update_requested`).
    Only the given fields change; `reason` says why (`update_task` or `escalation`). Applying the
    same request twice changes nothing more."""

    execution_id: uuid.UUID
    step_id: str
    iteration: int = Field(1, ge=1)
    reason: str
    title: str | None = None
    description: str | None = None
    assigned_role: str | None = None
    assigned_to: str | None = None
    priority: TaskPriority | None = None
    due_date: datetime | None = None
    due_in_seconds: int | None = None


class ContactUpdateRequested(BaseModel):
    """An `update_contact` step asks the contacts service to set `fields` (CONTACT_FIELDS, already
    rendered) on a contact (`contact.update_requested`); the worker never writes another
    service's tables. Idempotent by the envelope id."""

    contact_id: uuid.UUID
    execution_id: uuid.UUID
    step_id: str
    fields: dict[str, str | None]


# --- what the worker reports about a case's workflow (consumed by the executions service) ---
#
# The envelope's `subject` is the execution id, so one case's reports stay in order.


class StepEntered(BaseModel):
    """The workflow reached a step (`workflow.step_entered`). `waiting_for` says what it now
    waits on, when it waits: `task`, `approval` or `delay`."""

    execution_id: uuid.UUID
    step_id: str
    phase_id: str
    step_type: str
    entered_at: datetime
    waiting_for: str | None = None
    temporal_run_id: str | None = None


class ExecutionStatusChanged(BaseModel):
    """The workflow moved the case to `status` (`execution.status_changed`): an
    `update_status` step (`step_id`), or a manual change it applied (`request_id` of the
    `execution.status_change_requested`). `status` must be one of the case's definition
    version; anything else is refused."""

    execution_id: uuid.UUID
    status: str
    previous_status: str | None = None
    step_id: str | None = None
    request_id: uuid.UUID | None = None
    changed_at: datetime


class WorkflowCompleted(BaseModel):
    """The case's workflow ended normally (`workflow.completed`); `final_status` is the case's
    status at the end."""

    execution_id: uuid.UUID
    final_status: str | None = None
    completed_at: datetime


class WorkflowFailed(BaseModel):
    """The case's workflow failed for good (`workflow.failed`): `error` says why, naming the
    step, which `step_id` gives too (None when the case failed before its first step)."""

    execution_id: uuid.UUID
    step_id: str | None = None
    error: str
    failed_at: datetime


class WorkflowCancelled(BaseModel):
    """The case's workflow was cancelled (`workflow.cancelled`); the case's status becomes
    `cancelled`."""

    execution_id: uuid.UUID
    request_id: uuid.UUID | None = None
    cancelled_at: datetime
