"""What crosses the case workflow's boundary: its input, signals, query answer and the inputs of
its activities. Pydantic models, carried by `temporalio.contrib.pydantic`'s data converter.

The workflow (workflows.py) and the process around it (worker.py, activities.py, consumers.py)
agree on these and on nothing else. Changing a field here changes recorded histories: add
optional fields only (see docs/adr on changing workflow code).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

TASK_QUEUE = "byte-cases"
WORKFLOW_NAME = "case"

# Signal and query names (the relay in consumers.py sends them; workflows.py handles them).
TASK_COMPLETED = "task_completed"
APPROVAL_SUBMITTED = "approval_submitted"
TASK_DELETED = "task_deleted"
CHANGE_STATUS = "change_status"
CANCEL = "cancel"
STATE = "state"

# Deterministic ids: a retried activity or a replayed workflow names the same event/message.
EVENT_NAMESPACE = uuid.UUID("6f1d1b5e-4e36-4c8a-9a1e-0c3f5b0b7a11")


def case_workflow_id(execution_id: uuid.UUID | str) -> str:
    return f"case-{execution_id}"


def event_id(workflow_id: str, step_id: str, iteration: int, event_type: str) -> uuid.UUID:
    """The envelope id of what a step publishes: the same on every attempt and every replay."""
    return uuid.uuid5(EVENT_NAMESPACE, f"{workflow_id}/{step_id}/{iteration}/{event_type}")


class CaseInput(BaseModel):
    """Everything a case needs to run, frozen at its start (`execution.created`): a definition
    edited later never changes it."""

    org_id: str
    org_name: str | None = None
    execution_id: uuid.UUID
    definition_id: uuid.UUID
    definition_version: int
    definition: dict[str, Any] = Field(description="the version's document: Definition.model_validate(...)")
    contact: dict[str, Any] = Field(description="id and CONTACT_FIELDS, as the case was opened")
    variables: dict[str, Any] = {}
    status: str = Field(description="the case's status when it starts")
    started_by: str | None = None
    correlation_id: str | None = None


# --- signals: each carries the id of the event it relays; the workflow ignores an id it has seen ---


class TaskCompletedSignal(BaseModel):
    """`task.completed` of a task this case asked for (`task_completed` for a standard task,
    `approval_submitted` for an approval). A completion that arrives before the workflow waits
    on its step is kept and honoured when it gets there."""

    event_id: str
    task_id: uuid.UUID
    step_id: str | None = Field(None, description="the assign_task step that created the task")
    iteration: int | None = None
    outcome: str
    comment: str | None = None
    completed_by: str
    completed_at: datetime | None = None


class TaskDeletedSignal(BaseModel):
    """`task.deleted` of a task this case asked for."""

    event_id: str
    task_id: uuid.UUID
    step_id: str | None = None
    iteration: int | None = None


class ChangeStatusSignal(BaseModel):
    """`execution.status_change_requested`: the workflow applies it and answers
    `execution.status_changed` naming `request_id`."""

    event_id: str
    request_id: uuid.UUID
    status: str
    reason: str | None = None
    actor: str


class CancelSignal(BaseModel):
    """`execution.cancel_requested`: the workflow stops and answers `workflow.cancelled`."""

    event_id: str
    request_id: uuid.UUID
    reason: str | None = None
    actor: str


# --- the `state` query ---


class StepRecord(BaseModel):
    step_id: str
    step_type: str
    phase_id: str
    iteration: int
    entered_at: datetime
    left_at: datetime | None = None
    outcome: str | None = None
    detail: str | None = None


class CaseState(BaseModel):
    """Where the case stands, for `GET /v1/executions/{id}`."""

    execution_id: uuid.UUID
    status: str
    current_step_id: str | None
    current_phase_id: str | None
    waiting_for: Literal["task", "approval", "delay"] | None = None
    waiting_on_step_id: str | None = None
    waiting_since: datetime | None = None
    waiting_until: datetime | None = None
    on_hold_reason: str | None = None
    finished: Literal["completed", "failed", "cancelled"] | None = None
    history: list[StepRecord] = []


# --- activity inputs ---


class OutgoingEvent(BaseModel):
    """One event for Kafka; `data` is the payload model of `type` (byte_contracts.registry),
    dumped to JSON-able form. `event_id` comes from `event_id(...)`."""

    event_id: uuid.UUID
    type: str
    subject: str
    data: dict[str, Any]
    occurred_at: datetime


class PublishInput(BaseModel):
    """`publish` activity: send these events (in order, one case's events on one key)."""

    org_id: str
    actor: str = "system:worker"
    correlation_id: str | None = None
    causation_id: str | None = None
    events: list[OutgoingEvent]


class EmailInput(BaseModel):
    """`send_email` activity: an already rendered message. `message_id` is deterministic (case +
    step + iteration), so a duplicate send is detectable by whoever receives it."""

    org_id: str
    execution_id: uuid.UUID
    step_id: str
    iteration: int
    message_id: str
    to: list[str]
    subject: str
    text: str
    html: str | None = Field(None, description="the HTML alternative; None: rendered from `text`")
