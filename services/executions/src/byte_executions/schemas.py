"""The executions API's models. A definition travels as its document (docs/definitions.md;
its JSON Schema is served at `GET /v1/definitions/schema`) plus what the service adds."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

from byte_contracts.enums import ExecutionSource
from byte_platform.validation import JsonObject, StorableText
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from byte_executions.domain import DEFINITION_REF_PATTERN

PAGE_SIZE_MAX = 200


class DefinitionSummary(BaseModel):
    """The latest version of a definition, without its steps (the list)."""

    id: uuid.UUID
    definition_key: str
    version: int
    version_count: int
    name: str
    description: str
    is_active: bool
    created_by: str | None
    created_at: datetime = Field(description="when this version was made")
    updated_at: datetime


class DefinitionPublic(BaseModel):
    id: uuid.UUID = Field(description="this version's id")
    definition_key: str = Field(description="shared by every version")
    version: int
    version_count: int
    is_latest: bool
    is_active: bool = Field(description="new cases may start on it (only the latest version can be)")
    language_version: int
    name: str
    description: str
    phases: list[dict[str, Any]]
    steps: list[dict[str, Any]]
    variables: list[dict[str, Any]]
    statuses: list[dict[str, Any]]
    created_by: str | None
    created_at: datetime
    updated_at: datetime


class DefinitionPage(BaseModel):
    items: list[DefinitionSummary]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page; null on the last page")


class DefinitionVersion(BaseModel):
    id: uuid.UUID
    version: int
    name: str
    is_active: bool
    created_by: str | None
    created_at: datetime


class DefinitionHistory(BaseModel):
    definition_key: str
    versions: list[DefinitionVersion] = Field(description="newest first")


class DefinitionProblem(BaseModel):
    path: str = Field(description="where in the document, e.g. `steps[3].config.timeout`; empty: the document")
    message: str


class ValidationReport(BaseModel):
    valid: bool
    errors: list[DefinitionProblem]


# --- cases ------------------------------------------------------------------------------------

# Every text and JSON type refuses what PostgreSQL cannot store (U+0000, lone surrogates, NaN,
# documents nested past any sane depth) as a 422 naming the field, never a 500 from the database.
SmallJson = JsonObject
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1000), StorableText]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ExecutionCreate(_Strict):
    contact_id: uuid.UUID
    definition_id: Annotated[
        str, StringConstraints(min_length=1, max_length=100, pattern=DEFINITION_REF_PATTERN), StorableText
    ] = Field(description="any version's id, or the key, of an active definition: the case runs its latest version")
    variables: SmallJson = Field({}, description="values for the definition's declared variables")
    metadata: SmallJson = {}
    source: ExecutionSource = ExecutionSource.MANUAL
    source_id: Annotated[str, StringConstraints(min_length=1, max_length=200), StorableText] | None = Field(
        None, description="with `source`, opens the case once: asking again answers the case already opened"
    )


class ExecutionUpdate(_Strict):
    """Only the fields sent change; `variables` is checked against the definition version."""

    variables: SmallJson | None = None
    metadata: SmallJson | None = None


class StatusChangeRequest(_Strict):
    status: Annotated[str, StringConstraints(min_length=1, max_length=50), StorableText]
    reason: Text | None = None


class CancelRequest(_Strict):
    reason: Text | None = None


class ContactSummary(BaseModel):
    id: uuid.UUID
    first_name: str | None
    last_name: str | None
    email: str | None
    phone: str | None
    deleted: bool = Field(description="the contact was deleted; the name is the last one known")


class ExecutionPublic(BaseModel):
    id: uuid.UUID
    definition_id: uuid.UUID
    definition_key: str
    definition_version: int
    contact_id: uuid.UUID
    contact: ContactSummary | None = Field(description="null until the contact's events have been seen")
    status: str
    run_state: str = Field(description="running, completed, failed or cancelled")
    current_step_id: str | None
    current_phase_id: str | None
    step_entered_at: datetime | None
    waiting_for: str | None
    pending_status: str | None = Field(description="a requested status change the workflow has not confirmed yet")
    pending_requested_at: datetime | None
    cancel_requested_at: datetime | None
    failure: str | None
    updated_by_temporal: bool
    source: ExecutionSource
    source_id: str | None
    temporal_workflow_id: str
    temporal_run_id: str | None
    variables: dict[str, Any]
    metadata: dict[str, Any]
    started_at: datetime
    completed_at: datetime | None
    created_by: str | None
    created_at: datetime
    updated_at: datetime


class ExecutionPage(BaseModel):
    items: list[ExecutionPublic]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page; null on the last page")


class CaseDefinition(BaseModel):
    """The definition version the case runs: its phases, steps and status labels."""

    id: uuid.UUID
    definition_key: str
    version: int
    name: str
    phases: list[dict[str, Any]]
    steps: list[dict[str, Any]]
    statuses: list[dict[str, Any]]
    variables: list[dict[str, Any]]


class Standing(BaseModel):
    """Where the case stands, from its workflow's reports."""

    status: str
    status_label: str
    run_state: str
    phase_id: str | None
    phase_name: str | None
    step_id: str | None
    step_name: str | None
    step_type: str | None
    waiting_for: str | None
    since: datetime | None


class StepVisit(BaseModel):
    """One step the case went through (or is at: `left_at` null)."""

    step_id: str
    step_type: str
    phase_id: str
    iteration: int = Field(description="the how-many-th time the case entered this step")
    entered_at: datetime
    left_at: datetime | None = None
    outcome: str | None = None
    detail: str | None = None


class LiveState(BaseModel):
    """The case as its running workflow answers right now (its `state` query), or, when the
    workflow cannot answer (Temporal away, the workflow not started yet), as it last reported:
    `source` says which, `unavailable` why."""

    source: Literal["workflow", "projection"]
    unavailable: str | None = Field(None, description="why the workflow was not asked or did not answer")
    status: str
    current_step_id: str | None
    current_phase_id: str | None
    waiting_for: str | None = Field(None, description="`task`, `approval` or `delay`")
    waiting_on_step_id: str | None = None
    waiting_since: datetime | None = None
    waiting_until: datetime | None = None
    on_hold_reason: str | None = None
    finished: str | None = Field(None, description="`completed`, `failed` or `cancelled` once the workflow ended")
    history: list[StepVisit] = Field(default=[], description="every step so far, oldest first (workflow only)")


class ExecutionDetail(ExecutionPublic):
    definition: CaseDefinition
    standing: Standing
    state: LiveState | None = Field(None, description="where the case stands now, live from its workflow")


class StatusChangeAccepted(BaseModel):
    execution_id: uuid.UUID
    request_id: uuid.UUID
    status: str = Field(description="the status asked for")
    current_status: str = Field(description="unchanged until the workflow confirms")
    requested_at: datetime


class CancelAccepted(BaseModel):
    execution_id: uuid.UUID
    request_id: uuid.UUID
    requested_at: datetime


class ExecutionDeletedAnswer(BaseModel):
    execution_id: uuid.UUID
    deleted: bool
    workflow_cancelled: bool = Field(description="the case was running: its workflow was asked to cancel first")


class BoardColumn(BaseModel):
    status: str
    label: str
    color: str | None
    count: int
    items: list[ExecutionPublic]
    next_cursor: str | None = Field(description="the next page: GET /v1/executions?status=<status>&cursor=...")


class Board(BaseModel):
    columns: list[BoardColumn]


# --- notes, the activity log, my tasks -------------------------------------------------------

NOTE_CONTENT_MAX = 10_000
NoteContent = Annotated[
    str,
    StringConstraints(min_length=1, max_length=NOTE_CONTENT_MAX),
    StorableText,
    Field(
        description=f"plain text, stored as given (never rendered as HTML here); at most {NOTE_CONTENT_MAX} characters"
    ),
]


class NoteCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    entity_type: Literal["case", "contact", "task"]
    entity_id: uuid.UUID
    content: NoteContent
    is_internal: bool = True


class NoteUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    content: NoteContent | None = None
    is_internal: bool | None = None


class NotePublic(BaseModel):
    id: uuid.UUID
    entity_type: Literal["case", "contact", "task"]
    entity_id: uuid.UUID
    execution_id: uuid.UUID | None = Field(description="the case it concerns (a note on a case's task names it)")
    contact_id: uuid.UUID | None
    task_id: uuid.UUID | None
    author_id: str
    content: str
    is_internal: bool
    created_at: datetime
    updated_at: datetime


class NotePage(BaseModel):
    items: list[NotePublic]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page; null on the last page")


class ActivityEntry(BaseModel):
    id: uuid.UUID = Field(description="the event's envelope id")
    occurred_at: datetime
    actor: str = Field(description="a user id, or `system:<service>`")
    actor_type: Literal["user", "system"]
    action: str = Field(description="the event type, e.g. `task.claimed`")
    entity_type: str = Field(
        description="case, contact, task, note, submission, definition, membership, user, organization"
    )
    entity_id: str
    execution_id: uuid.UUID | None
    contact_id: uuid.UUID | None
    task_id: uuid.UUID | None
    submission_id: str | None
    details: dict[str, Any] = Field(
        description='what changed (`{field: {"before": .., "after": ..}}` or `changed`) and context'
    )
    correlation_id: str | None


class ActivityPage(BaseModel):
    items: list[ActivityEntry]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page; null on the last page")


class MyTask(BaseModel):
    task_id: uuid.UUID
    title: str | None
    status: str | None
    priority: str | None
    due_date: datetime | None
    execution_id: uuid.UUID | None
    contact_id: uuid.UUID | None
    step_id: str | None
    created_at: datetime | None
    updated_at: datetime | None


class MyTasks(BaseModel):
    open: int = Field(description="open tasks assigned to the caller")
    overdue: int = Field(description="of them, due before now")
    due_this_week: int = Field(description="of them, due within the next 7 days")
    items: list[MyTask] = Field(description="the first open ones, soonest due first (undated last)")


# --- the dashboard ---------------------------------------------------------------------------


class StatusCount(BaseModel):
    status: str
    label: str
    color: str | None
    count: int


class CasesByStatus(BaseModel):
    """Every status of the org's definitions (or the named one's), with how many cases stand in it."""

    statuses: list[StatusCount]
    total: int


class DayCount(BaseModel):
    day: date
    opened: int
    closed: int


class CasesPerDay(BaseModel):
    """Cases opened and closed per UTC day, `from`..`to` inclusive, every day listed."""

    days: list[DayCount]
    opened: int
    closed: int


class RecentCases(BaseModel):
    items: list[ExecutionPublic]


class WaitStats(BaseModel):
    """How long cases stayed (each case's time summed over its visits), over the cases that
    left it since `since`: p50 and p90 (times some case actually took), max; and the cases
    there now, with the longest of their waits so far."""

    cases: int
    p50_seconds: float | None
    p90_seconds: float | None
    max_seconds: float | None
    waiting_now: int
    longest_waiting_seconds: float | None


class StepWait(WaitStats):
    step_id: str
    step_name: str | None
    phase_id: str | None


class StatusWait(WaitStats):
    status: str
    label: str


class WaitingCase(BaseModel):
    execution_id: uuid.UUID
    contact_id: uuid.UUID
    contact_name: str | None
    step_id: str
    step_name: str | None
    waiting_for: str | None
    since: datetime
    waiting_seconds: float


class Waits(BaseModel):
    """Where the cases of one definition version wait (Camunda Optimize's question)."""

    definition_key: str
    definition_version: int
    definition_name: str
    since: datetime
    steps: list[StepWait]
    statuses: list[StatusWait]
    waiting_longest: list[WaitingCase]


class WeekCount(BaseModel):
    week: date = Field(description="the Monday the ISO week starts on")
    opened: int
    decided: int
    approved: int
    rejected: int


class Throughput(BaseModel):
    """Cases opened and decided (first entering `approved` or `rejected`) per week."""

    weeks: list[WeekCount]
    approved: int
    rejected: int
    approve_ratio: float | None = Field(description="approved / (approved + rejected); null when none was decided")
