"""The shape of a definition: phases, steps (one typed `config` per step type), variables, statuses.

These models check structure only (types, required fields, well-formed templates, bounded
durations). The rules that span the whole definition (references, the step graph, templates
naming known values) live in `validation`; only `validation.Definition`, which runs them, may
be stored or run. `DefinitionDraft` is the structure alone, for code that must look at a
definition that may still break a rule (the validator itself, an editor).

Every model is frozen and refuses unknown fields: a typo (`"nxt"`) is an error, not ignored.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import timedelta
from enum import StrEnum
from typing import Annotated, ClassVar, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainValidator,
    StringConstraints,
    WithJsonSchema,
    model_validator,
)

from byte_contracts.definitions.templates import PATH_RE, parse
from byte_contracts.enums import DEFAULT_EXECUTION_STATUSES, TaskPriority, TaskType

LANGUAGE_VERSION = 1

# A target of `next`, `then`, `else` or a timeout's `go_to` that ends the case. Reserved: no
# step may be called this.
END = "end"

# A location inside a definition, as pydantic reports one: ("steps", 3, "config", "timeout").
Loc = tuple[str | int, ...]

MAX_DURATION = timedelta(days=365)
MAX_TEMPLATE_LENGTH = 20_000

# What a template may read as `contact.<field>`, and what `update_contact` may write.
CONTACT_FIELDS: tuple[str, ...] = (
    "first_name",
    "last_name",
    "email",
    "phone",
    "company",
    "role",
    "address_line_1",
    "address_line_2",
    "city",
    "state",
    "zip",
)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", serialize_by_alias=True, validate_by_name=True)


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    return value


def _distinct(values: tuple[str, ...]) -> tuple[str, ...]:
    if len(set(values)) != len(values):
        raise ValueError("a value is listed twice")
    return values


def _well_formed_template(value: str) -> str:
    parse(value)
    return value


IDENTIFIER_PATTERN = r"^[A-Za-z][A-Za-z0-9_]*$"
STATUS_KEY_PATTERN = r"^[a-z][a-z0-9_]*$"
ROLE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_:.-]*$"
COLOR_PATTERN = r"^(#[0-9a-fA-F]{6}|[a-z]+)$"
CONTEXT_PATH_PATTERN = rf"^{PATH_RE.pattern}$"
# What each pattern means, for error messages.
PATTERN_MEANINGS = {
    IDENTIFIER_PATTERN: "must start with a letter and hold only letters, digits and _",
    STATUS_KEY_PATTERN: "must start with a lowercase letter and hold only lowercase letters, digits and _",
    ROLE_PATTERN: "must be a role name: letters, digits and _ : . -",
    COLOR_PATTERN: "must be a colour name (like blue) or #rrggbb",
    CONTEXT_PATH_PATTERN: "must be a dotted path of names, like contact.email or steps.review.outcome",
}

Identifier = Annotated[str, StringConstraints(pattern=IDENTIFIER_PATTERN, max_length=64)]
StepId = Annotated[Identifier, Field(json_schema_extra={"x-refers-to": "steps"})]
Target = Annotated[
    Identifier,
    Field(
        description=f'a step id, or "{END}" to end the case',
        json_schema_extra={"x-refers-to": "steps", "x-or": END},
    ),
]
PhaseId = Annotated[Identifier, Field(json_schema_extra={"x-refers-to": "phases"})]
StatusKey = Annotated[
    str,
    StringConstraints(pattern=STATUS_KEY_PATTERN, max_length=64),
    Field(json_schema_extra={"x-refers-to": "statuses"}),
]
Label = Annotated[str, StringConstraints(max_length=200), AfterValidator(_not_blank)]
RoleName = Annotated[str, StringConstraints(pattern=ROLE_PATTERN, max_length=64)]
UserId = Annotated[str, StringConstraints(min_length=1, max_length=128), AfterValidator(_not_blank)]
Template = Annotated[
    str,
    StringConstraints(max_length=MAX_TEMPLATE_LENGTH),
    AfterValidator(_well_formed_template),
    Field(json_schema_extra={"format": "byte-template"}),
]
RequiredTemplate = Annotated[Template, AfterValidator(_not_blank)]
ContextPath = Annotated[
    str,
    StringConstraints(pattern=CONTEXT_PATH_PATTERN, max_length=200),
    Field(json_schema_extra={"format": "byte-context-path"}),
]


def _scalar(value: object) -> str | int | float | bool:
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("must be a finite number")
    if isinstance(value, str) and len(value) > 2000:
        raise ValueError("must be at most 2000 characters")
    if isinstance(value, str | int | float | bool):
        return value
    raise ValueError("must be a text, a number or a boolean")


def _condition_value(value: object) -> object:
    if value is None:
        return None
    if isinstance(value, list | tuple):
        if len(value) > 100:
            raise ValueError("lists at most 100 values")
        return tuple(_scalar(item) for item in value)
    return _scalar(value)


_SCALAR_SCHEMA = {"type": ["string", "number", "boolean"]}
Scalar = Annotated[str | int | float | bool, PlainValidator(_scalar), WithJsonSchema(_SCALAR_SCHEMA)]
ConditionValue = Annotated[
    str | int | float | bool | tuple[str | int | float | bool, ...] | None,
    PlainValidator(_condition_value),
    WithJsonSchema({"anyOf": [_SCALAR_SCHEMA, {"type": "array", "items": _SCALAR_SCHEMA}, {"type": "null"}]}),
]


class VariableType(StrEnum):
    STRING = "string"
    NUMBER = "number"
    BOOLEAN = "boolean"
    DATE = "date"


class TriggerSource(StrEnum):
    FORM_SUBMISSION = "form_submission"
    MANUAL = "manual"


class Operator(StrEnum):
    EQ = "eq"
    NE = "ne"
    IN = "in"
    NOT_IN = "not_in"
    EXISTS = "exists"
    GT = "gt"
    LT = "lt"
    CONTAINS = "contains"


# What a wait step records as `steps.<id>.outcome` when its timeout fires and the case goes on.
TIMED_OUT = "timed_out"
# ... and when the awaited task was deleted and the case goes on without it.
TASK_DELETED = "task_deleted"


class Duration(_Frozen):
    """A span of days, hours and minutes: more than zero, at most 365 days in all."""

    days: int = Field(0, ge=0)
    hours: int = Field(0, ge=0)
    minutes: int = Field(0, ge=0)

    @property
    def span(self) -> timedelta:
        return timedelta(days=self.days, hours=self.hours, minutes=self.minutes)

    @property
    def seconds(self) -> int:
        """As `workflow.task_requested`'s `due_in_seconds` and Temporal timers want it."""
        return ((self.days * 24 + self.hours) * 60 + self.minutes) * 60

    @model_validator(mode="after")
    def _bounded(self) -> Duration:
        # In whole minutes, not a timedelta: a huge number of days would overflow one.
        minutes = (self.days * 24 + self.hours) * 60 + self.minutes
        if minutes == 0:
            raise ValueError("must be longer than zero")
        if minutes > MAX_DURATION // timedelta(minutes=1):
            raise ValueError(f"must be at most {MAX_DURATION.days} days")
        return self


class Phase(_Frozen):
    id: PhaseId
    name: Label


class Variable(_Frozen):
    """A value a case carries (`execution.variables.<name>`), given when the case starts."""

    name: Identifier
    type: VariableType = VariableType.STRING
    required: bool = False
    default: Scalar | None = Field(None, description="of the variable's type; a date as YYYY-MM-DD")
    label: Label | None = None


class Status(_Frozen):
    """A status a case can be in. A case starts in the first status of its definition."""

    key: StatusKey
    label: Label
    color: Annotated[str, StringConstraints(pattern=COLOR_PATTERN, max_length=32)]


class Email(_Frozen):
    to: RequiredTemplate
    subject: RequiredTemplate
    body: RequiredTemplate

    def templates(self) -> Iterator[tuple[Loc, str]]:
        yield ("to",), self.to
        yield ("subject",), self.subject
        yield ("body",), self.body


# ----- step configs -----------------------------------------------------------------------


class _Config(_Frozen):
    def templates(self) -> Iterator[tuple[Loc, str]]:
        """(location below `config`, template) for every template in this config."""
        return iter(())

    def targets(self) -> Iterator[tuple[Loc, str]]:
        """(location below `config`, step id or END) for every place this config jumps to."""
        return iter(())


class TriggerConfig(_Config):
    """How a case starts: from an intake form submission, by hand, or either."""

    sources: Annotated[tuple[TriggerSource, ...], AfterValidator(_distinct)] = Field(min_length=1)


class AssignTaskConfig(_Config):
    """Ask the tasks service for a task. Needs an assignee: a role (any holder may claim), a
    user, or both. `due_in` counts from when the step runs."""

    title: RequiredTemplate
    description: Template | None = None
    assigned_role: RoleName | None = None
    assigned_to: UserId | None = None
    task_type: TaskType = TaskType.STANDARD
    priority: TaskPriority = TaskPriority.MEDIUM
    due_in: Duration | None = None

    def templates(self) -> Iterator[tuple[Loc, str]]:
        yield ("title",), self.title
        if self.description is not None:
            yield ("description",), self.description


class ContinueOnTimeout(_Frozen):
    """Go on to the next step; the wait's outcome is `timed_out`."""

    action: Literal["continue"]


class EscalateOnTimeout(_Frozen):
    """Escalate the task (any of: hand it to a role, raise its priority, send a notice), then
    keep waiting for it with no further timeout."""

    action: Literal["escalate"]
    reassign_to_role: RoleName | None = None
    raise_priority_to: TaskPriority | None = None
    notify: Email | None = None


class GoToOnTimeout(_Frozen):
    """Jump to `step` (or end the case); the wait's outcome is `timed_out`."""

    action: Literal["go_to"]
    step: Target


OnTimeout = Annotated[ContinueOnTimeout | EscalateOnTimeout | GoToOnTimeout, Field(discriminator="action")]


class ContinueOnTaskDeleted(_Frozen):
    """Go on to the next step without the task; the wait's outcome is `task_deleted`."""

    action: Literal["continue"]


class EscalateOnTaskDeleted(_Frozen):
    """Ask for the task again (the same `assign_task`, as its next iteration), optionally handed
    to another role, at a higher priority, with a notice sent; then keep waiting for the new
    task (same timeout as before)."""

    action: Literal["escalate"]
    reassign_to_role: RoleName | None = None
    raise_priority_to: TaskPriority | None = None
    notify: Email | None = None


class HoldOnTaskDeleted(_Frozen):
    """Put the case on hold (status `on_hold` when the definition has it), with the reason on
    record, until someone changes its status by hand; then ask for the task again (the same
    `assign_task`, as its next iteration) and keep waiting. The default: a person decides."""

    action: Literal["on_hold"]


OnTaskDeleted = Annotated[
    ContinueOnTaskDeleted | EscalateOnTaskDeleted | HoldOnTaskDeleted, Field(discriminator="action")
]


class _WaitConfig(_Config):
    """Wait for the task an earlier `assign_task` step created. `timeout` and `on_timeout` go
    together: both or neither (no timeout waits as long as it takes)."""

    task_step: StepId
    timeout: Duration | None = None
    on_timeout: OnTimeout | None = None
    on_task_deleted: OnTaskDeleted | None = Field(
        None, description="what happens when the awaited task is deleted; absent: on_hold"
    )

    def templates(self) -> Iterator[tuple[Loc, str]]:
        if isinstance(self.on_timeout, EscalateOnTimeout) and self.on_timeout.notify:
            for loc, template in self.on_timeout.notify.templates():
                yield ("on_timeout", "notify", *loc), template
        if isinstance(self.on_task_deleted, EscalateOnTaskDeleted) and self.on_task_deleted.notify:
            for loc, template in self.on_task_deleted.notify.templates():
                yield ("on_task_deleted", "notify", *loc), template

    @property
    def when_task_deleted(self) -> ContinueOnTaskDeleted | EscalateOnTaskDeleted | HoldOnTaskDeleted:
        return self.on_task_deleted or HoldOnTaskDeleted(action="on_hold")

    def targets(self) -> Iterator[tuple[Loc, str]]:
        if isinstance(self.on_timeout, GoToOnTimeout):
            yield ("on_timeout", "step"), self.on_timeout.step


class WaitForTaskConfig(_WaitConfig):
    pass


class WaitForApprovalConfig(_WaitConfig):
    """Wait for an approval task's decision (`approved` or `rejected`)."""

    comment_required_on_reject: bool = True


class UpdateTaskConfig(_Config):
    """Change the task an earlier `assign_task` step created; only the fields given change."""

    task_step: StepId
    title: RequiredTemplate | None = None
    description: Template | None = None
    assigned_role: RoleName | None = None
    assigned_to: UserId | None = None
    priority: TaskPriority | None = None
    due_in: Duration | None = None

    CHANGES: ClassVar[tuple[str, ...]] = ("title", "description", "assigned_role", "assigned_to", "priority", "due_in")

    def templates(self) -> Iterator[tuple[Loc, str]]:
        for name in ("title", "description"):
            value = getattr(self, name)
            if value is not None:
                yield (name,), value


class UpdateContactConfig(_Config):
    """Set contact fields (`CONTACT_FIELDS`), each from a template."""

    fields: dict[str, Template] = Field(min_length=1, max_length=len(CONTACT_FIELDS))

    def templates(self) -> Iterator[tuple[Loc, str]]:
        for name, template in self.fields.items():
            yield ("fields", name), template


class UpdateStatusConfig(_Config):
    status: StatusKey


class SendEmailConfig(Email, _Config):
    pass


class ConditionConfig(_Config):
    """Branch on a value of the context: a contact field, a variable, an earlier step's outcome.

    `value` is absent for `exists`, a list for `in` / `not_in`, a number or a date
    (YYYY-MM-DD) for `gt` / `lt`, a text for `contains`, a single value for `eq` / `ne`.
    A value that is missing at run time is false for every operator but `not_in` and `ne`.
    """

    field: ContextPath
    operator: Operator
    value: ConditionValue = None
    then: Target
    else_: Target = Field(alias="else")

    def targets(self) -> Iterator[tuple[Loc, str]]:
        yield ("then",), self.then
        yield ("else",), self.else_


class DelayConfig(Duration, _Config):
    """Pause the case for this long."""


# ----- steps ------------------------------------------------------------------------------


class _Step(_Frozen):
    """A step of a definition. Without `next` a step goes on to the following step in order;
    the last step (or `"next": "end"`) ends the case."""

    id: StepId
    type: str
    name: Label
    phase_id: PhaseId
    config: _Config
    next: Target | None = None

    # Steps that pause the case: a loop through one of them is allowed.
    PAUSES: ClassVar[bool] = False


class TriggerStep(_Step):
    type: Literal["trigger"]
    config: TriggerConfig


class AssignTaskStep(_Step):
    type: Literal["assign_task"]
    config: AssignTaskConfig


class WaitForTaskStep(_Step):
    type: Literal["wait_for_task"]
    config: WaitForTaskConfig
    PAUSES: ClassVar[bool] = True


class WaitForApprovalStep(_Step):
    type: Literal["wait_for_approval"]
    config: WaitForApprovalConfig
    PAUSES: ClassVar[bool] = True


class UpdateTaskStep(_Step):
    type: Literal["update_task"]
    config: UpdateTaskConfig


class UpdateContactStep(_Step):
    type: Literal["update_contact"]
    config: UpdateContactConfig


class UpdateStatusStep(_Step):
    type: Literal["update_status"]
    config: UpdateStatusConfig


class SendEmailStep(_Step):
    type: Literal["send_email"]
    config: SendEmailConfig


class ConditionStep(_Step):
    type: Literal["condition"]
    config: ConditionConfig


class DelayStep(_Step):
    type: Literal["delay"]
    config: DelayConfig
    PAUSES: ClassVar[bool] = True


Step = Annotated[
    TriggerStep
    | AssignTaskStep
    | WaitForTaskStep
    | WaitForApprovalStep
    | UpdateTaskStep
    | UpdateContactStep
    | UpdateStatusStep
    | SendEmailStep
    | ConditionStep
    | DelayStep,
    Field(discriminator="type"),
]
WaitStep = WaitForTaskStep | WaitForApprovalStep


def _this_version(value: object) -> object:
    # Exactly the integer: `true` and `1.0` equal 1 in Python but are not what a document means.
    if type(value) is not int or value != LANGUAGE_VERSION:
        shown = repr(value)
        shown = shown if len(shown) <= 40 else shown[:37] + "..."
        raise ValueError(f"unsupported language version {shown}: this is version {LANGUAGE_VERSION}")
    return value


def _default_statuses() -> tuple[Status, ...]:
    return tuple(Status(**status) for status in DEFAULT_EXECUTION_STATUSES)


class DefinitionDraft(_Frozen):
    """The structure of a definition, before the rules that span it. See `Definition`."""

    language_version: Annotated[Literal[1], BeforeValidator(_this_version)] = Field(
        description="the version of this language the definition is written in"
    )
    name: Label
    description: Annotated[str, StringConstraints(max_length=5000)] = ""
    phases: tuple[Phase, ...] = Field(min_length=1, max_length=50)
    steps: tuple[Step, ...] = Field(min_length=1, max_length=200)
    variables: tuple[Variable, ...] = Field((), max_length=100)
    statuses: tuple[Status, ...] = Field(default_factory=_default_statuses, min_length=1, max_length=50)

    def step(self, step_id: str) -> _Step:
        """The step with this id (the first one, should ids repeat). KeyError when none."""
        for step in self.steps:
            if step.id == step_id:
                return step
        raise KeyError(step_id)
