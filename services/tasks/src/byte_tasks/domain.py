"""Task rules, free of I/O: who may do what to a task, which transitions are legal, where a
kanban card lands. Handlers load the task, ask here, then write; a rule broken raises a
`byte_contracts.errors.DomainError`, which each entrypoint maps (problem+json for HTTP)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Literal, Protocol

from byte_contracts.enums import TaskOutcome, TaskStatus, TaskType
from byte_contracts.errors import Conflict, DomainError, Forbidden, Invalid

# Kanban positions are doubles. New cards land GAP after the last one; a card dropped between
# two others takes the midpoint; when two neighbours are closer than MIN_GAP the column is
# renumbered (GAP apart, same order) under its lock. See docs/adr/0005-tasks-claim-and-kanban.md.
GAP = 1024.0
MIN_GAP = 1e-3


class Caller(Protocol):
    """What the rules need of the caller (byte_platform.context.Context)."""

    @property
    def user_id(self) -> str: ...

    @property
    def roles(self) -> frozenset[str]: ...

    @property
    def is_admin(self) -> bool: ...


class IllegalTransition(Conflict):
    """The task's state does not allow this (claimed, done, wrong type)."""


class NotAllowed(Forbidden):
    """The caller may not do this to this task."""


class InvalidInput(Invalid):
    """A field names something that does not fit (a non-member, a card in another column)."""


class Sort(StrEnum):
    CREATED_AT = "created_at"
    UPDATED_AT = "updated_at"
    DUE_DATE = "due_date"
    POSITION = "position"


def parse_sort(value: str) -> tuple[Sort, bool]:
    """`-created_at` -> (CREATED_AT, descending)."""
    return Sort(value.removeprefix("-")), value.startswith("-")


@dataclass(frozen=True)
class TaskState:
    """The parts of a task the rules look at."""

    status: TaskStatus
    task_type: TaskType
    assigned_to: str | None
    assigned_role: str | None
    workflow_execution_id: uuid.UUID | None
    created_by: str | None
    metadata: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, row: Any) -> TaskState:
        m = row._mapping if hasattr(row, "_mapping") else row
        return cls(
            TaskStatus(m["status"]),
            TaskType(m["task_type"]),
            m["assigned_to"],
            m["assigned_role"],
            m["workflow_execution_id"],
            m["created_by"],
            dict(m.get("metadata") or {}),
        )

    @property
    def comment_required_on_reject(self) -> bool:
        """A task of a case's step says so itself (`metadata.comment_required_on_reject`, from
        its `wait_for_approval` step); a standalone approval always needs one."""
        return self.standalone or bool(self.metadata.get("comment_required_on_reject"))

    @property
    def done(self) -> bool:
        return self.status == TaskStatus.DONE

    @property
    def standalone(self) -> bool:
        return self.workflow_execution_id is None


# --- claiming ---------------------------------------------------------------------------------


def holds_role(task: TaskState, who: Caller) -> bool:
    """A role task is for holders of that role; admins may take any; a task with no role is anyone's."""
    return task.assigned_role is None or who.is_admin or task.assigned_role in who.roles


def claim_refusal(task: TaskState, who: Caller) -> DomainError:
    """Why the conditional claim UPDATE matched no row, for a task that exists."""
    if not holds_role(task, who):
        return NotAllowed(f"only holders of the role {task.assigned_role!r} (or an admin) may claim this task")
    if task.done:
        return IllegalTransition("the task is done; a done task cannot be claimed")
    if task.assigned_to is not None:
        who_holds = "you" if task.assigned_to == who.user_id else task.assigned_to
        return IllegalTransition(f"the task is already claimed by {who_holds}", assigned_to=task.assigned_to)
    return IllegalTransition("the task changed while it was being claimed; try again")


def check_unclaim(task: TaskState, who: Caller) -> None:
    if task.done:
        raise IllegalTransition("the task is done; a done task cannot be unclaimed")
    if task.assigned_to is None:
        raise IllegalTransition("the task is not claimed")
    if task.assigned_to != who.user_id and not who.is_admin:
        raise NotAllowed("only the assignee or an admin may unclaim this task")


# --- working a task ---------------------------------------------------------------------------


def _check_assignee(task: TaskState, who: Caller, action: str) -> None:
    """Only the assignee, or an admin, works a task: never whoever happens to see it."""
    if who.is_admin or (task.assigned_to is not None and task.assigned_to == who.user_id):
        return
    if task.assigned_to is None:
        raise NotAllowed(f"only the assignee or an admin may {action} this task; claim it first")
    raise NotAllowed(f"only the assignee ({task.assigned_to}) or an admin may {action} this task")


StatusEffect = Literal["noop", "change", "complete"]


def check_status_change(task: TaskState, who: Caller, to: TaskStatus) -> StatusEffect:
    """todo <-> in_progress, and -> done (standard tasks: outcome `completed`). done is final:
    the workflow may already have acted on it."""
    if task.done:
        if to == TaskStatus.DONE:
            raise IllegalTransition("the task is already done")
        raise IllegalTransition("the task is done; a done task cannot be reopened")
    _check_assignee(task, who, "change the status of")
    if to == task.status:
        return "noop"
    if to == TaskStatus.DONE:
        if task.task_type == TaskType.APPROVAL:
            raise IllegalTransition("an approval task is finished by approve or reject, not by a status change")
        return "complete"
    return "change"


def check_decision(task: TaskState, who: Caller, outcome: TaskOutcome, comment: str | None = None) -> None:
    verb = "approve" if outcome == TaskOutcome.APPROVED else "reject"
    if task.task_type != TaskType.APPROVAL:
        raise IllegalTransition(f"only approval tasks can be approved or rejected; this is a {task.task_type} task")
    if task.done:
        raise IllegalTransition("the task is already done")
    _check_assignee(task, who, verb)
    if outcome == TaskOutcome.REJECTED and not comment and task.comment_required_on_reject:
        raise InvalidInput("comment", "a rejection of this task needs a comment: say why")


MoveEffect = Literal["reorder", "change", "complete"]


def check_move(task: TaskState, who: Caller, to: TaskStatus) -> MoveEffect:
    """Within a column any writer may reorder; across columns a move is a status change."""
    if to == task.status:
        return "reorder"
    effect = check_status_change(task, who, to)
    assert effect != "noop"
    return effect


# --- editing and deleting ---------------------------------------------------------------------

REASSIGN_FIELDS = frozenset({"assigned_to", "assigned_role"})


def check_edit(task: TaskState, who: Caller, fields: set[str]) -> None:
    if task.done:
        raise IllegalTransition("the task is done; a done task cannot be edited")
    if who.is_admin:
        return
    standalone_creator = task.standalone and task.created_by == who.user_id
    if fields & REASSIGN_FIELDS and not standalone_creator:
        raise NotAllowed("only an admin, or the creator of a standalone task, may reassign it")
    if who.user_id not in (task.assigned_to, task.created_by):
        raise NotAllowed("only the assignee, the creator or an admin may edit this task")


def check_delete(task: TaskState, who: Caller) -> None:
    if who.is_admin:
        return
    if task.standalone and task.created_by == who.user_id:
        return
    if not task.standalone:
        raise NotAllowed("only an admin may delete a task that belongs to a workflow execution")
    raise NotAllowed("only an admin or the task's creator may delete it")


def changes(current: dict[str, Any], requested: dict[str, Any]) -> dict[str, Any]:
    """The subset of a partial update that actually changes the task."""
    return {k: v for k, v in requested.items() if current.get(k) != v}


# --- kanban positions -------------------------------------------------------------------------


def position_between(before: float | None, after: float | None) -> float | None:
    """A position strictly between the card above (`before`) and the card below (`after`);
    None when they are too close (the caller renumbers the column and asks again)."""
    if before is None and after is None:
        return GAP
    if before is None:
        assert after is not None
        return after - GAP
    if after is None:
        return before + GAP
    if after - before < 2 * MIN_GAP:
        return None
    return (before + after) / 2


# --- requests from workflows ------------------------------------------------------------------

TITLE_MAX = 500
DESCRIPTION_MAX = 10_000


def check_requested_title(title: str) -> str:
    title = title.strip()
    if not title or len(title) > TITLE_MAX:
        raise InvalidInput("title", f"a task title must be 1 to {TITLE_MAX} characters", location="event")
    return title


def requested_due_date(
    due_date: datetime | None, due_in_seconds: int | None, requested_at: datetime
) -> datetime | None:
    """`due_date` wins; `due_in_seconds` counts from the request's own time, so a redelivered
    request computes the same date."""
    if due_date is not None:
        return due_date
    if due_in_seconds is not None:
        return requested_at + timedelta(seconds=due_in_seconds)
    return None
