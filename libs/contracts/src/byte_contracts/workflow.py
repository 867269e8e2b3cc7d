"""Payloads of the `workflow` topic: requests the worker's activities issue to other services.

The worker publishes them with a deterministic envelope id (workflow id + step id), so a
retried activity republishes the same id; the consumer also dedupes on its own natural key.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel

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
