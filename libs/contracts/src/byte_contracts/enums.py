"""Enums of the domain. Values are the wire format: never rename one, only add."""

from enum import StrEnum


class ContactStatus(StrEnum):
    ACTIVE = "active"
    INACTIVE = "inactive"
    LEAD = "lead"


class ExecutionStatus(StrEnum):
    """The default statuses of an applicant case (DEFAULT_EXECUTION_STATUSES below).

    Definitions may carry their own status list; these are what a new org starts with.
    """

    SUBMITTED = "submitted"
    IN_REVIEW = "in_review"
    BACKGROUND_CHECK = "background_check"
    INTERVIEW_SCHEDULED = "interview_scheduled"
    INTERVIEW_COMPLETE = "interview_complete"
    APPROVED = "approved"
    REJECTED = "rejected"
    ON_HOLD = "on_hold"


TERMINAL_EXECUTION_STATUSES = frozenset({ExecutionStatus.APPROVED, ExecutionStatus.REJECTED})

DEFAULT_EXECUTION_STATUSES: tuple[dict[str, str], ...] = (
    {"key": "submitted", "label": "Submitted", "color": "gray"},
    {"key": "in_review", "label": "In Review", "color": "blue"},
    {"key": "background_check", "label": "Background Check", "color": "purple"},
    {"key": "interview_scheduled", "label": "Interview Scheduled", "color": "yellow"},
    {"key": "interview_complete", "label": "Interview Complete", "color": "teal"},
    {"key": "approved", "label": "Approved", "color": "green"},
    {"key": "rejected", "label": "Rejected", "color": "red"},
    {"key": "on_hold", "label": "On Hold", "color": "orange"},
)


class ExecutionSource(StrEnum):
    MANUAL = "manual"
    FORMSTACK = "formstack"
    API = "api"


class TaskStatus(StrEnum):
    TODO = "todo"
    IN_PROGRESS = "in_progress"
    DONE = "done"


class TaskPriority(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class TaskType(StrEnum):
    STANDARD = "standard"
    APPROVAL = "approval"


class TaskOutcome(StrEnum):
    APPROVED = "approved"
    REJECTED = "rejected"
    COMPLETED = "completed"


class StepType(StrEnum):
    TRIGGER = "trigger"
    ASSIGN_TASK = "assign_task"
    WAIT_FOR_TASK = "wait_for_task"
    WAIT_FOR_APPROVAL = "wait_for_approval"
    UPDATE_TASK = "update_task"
    UPDATE_CONTACT = "update_contact"
    UPDATE_STATUS = "update_status"
    SEND_EMAIL = "send_email"
    CONDITION = "condition"
    DELAY = "delay"


class Role(StrEnum):
    """Built-in roles. Custom org roles (reviewer, hr, manager, ...) travel as plain strings."""

    OWNER = "owner"
    ADMIN = "admin"
    USER = "user"
    GUEST = "guest"
