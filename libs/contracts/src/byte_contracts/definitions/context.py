"""What a template (or a condition) may read at a step: the documented context.

    contact.<field>                      CONTACT_FIELDS (first_name, last_name, email, ...)
    execution.id, execution.status       the case
    execution.variables.<name>           a variable the definition declares
    steps.<id>.outcome|comment|completed_by
                                         a wait step earlier on every path to this step
    org.name                             the organization

The worker builds a context dict of exactly this shape when it renders; the validator refuses
a template that reads anything else, and `variables_at` lists it for an editor's picker.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from byte_contracts.definitions.flow import Flow
from byte_contracts.definitions.models import (
    CONTACT_FIELDS,
    TASK_DELETED,
    TIMED_OUT,
    AssignTaskStep,
    ContinueOnTaskDeleted,
    DefinitionDraft,
    EscalateOnTimeout,
    VariableType,
    WaitForApprovalStep,
    WaitForTaskStep,
    WaitStep,
)
from byte_contracts.enums import TaskOutcome, TaskType

STEP_FIELDS = ("outcome", "comment", "completed_by")


class VariableRef(BaseModel):
    """One value a template may read: `{{ <path> }}`. `values` lists what it can be, when that
    is known (a status key, a step's outcome)."""

    model_config = ConfigDict(frozen=True)

    path: str
    label: str
    type: VariableType
    source: Literal["contact", "execution", "step", "org"]
    values: tuple[str, ...] | None = None


def outcomes(definition: DefinitionDraft, wait: WaitStep) -> tuple[str, ...]:
    """What `steps.<wait>.outcome` can be: the task's outcomes, `timed_out` when the wait can
    give up (a timeout that continues or jumps; escalating keeps waiting), and `task_deleted`
    when the case goes on without its task (`on_task_deleted: continue`; escalating and holding
    ask for the task again)."""
    task_type = TaskType.APPROVAL if isinstance(wait, WaitForApprovalStep) else None
    if task_type is None:
        try:
            assign = definition.step(wait.config.task_step)
        except KeyError:
            assign = None
        task_type = assign.config.task_type if isinstance(assign, AssignTaskStep) else TaskType.STANDARD
    found: tuple[str, ...] = (
        (TaskOutcome.APPROVED.value, TaskOutcome.REJECTED.value)
        if task_type == TaskType.APPROVAL
        else (TaskOutcome.COMPLETED.value,)
    )
    gives_up = wait.config.timeout is not None and not isinstance(wait.config.on_timeout, EscalateOnTimeout | None)
    if gives_up:
        found = (*found, TIMED_OUT)
    if isinstance(wait.config.on_task_deleted, ContinueOnTaskDeleted):
        found = (*found, TASK_DELETED)
    return found


def variables_at(definition: DefinitionDraft, step_id: str) -> list[VariableRef]:
    """The values a template of step `step_id` may read, in picker order: contact fields, the
    case, declared variables, earlier wait steps' outcomes, the org. KeyError for no such step."""
    flow = Flow(definition)
    if step_id not in flow.index:
        raise KeyError(step_id)
    return refs_at(definition, flow, flow.index[step_id])


def refs_at(definition: DefinitionDraft, flow: Flow, step_index: int) -> list[VariableRef]:
    refs = [
        VariableRef(
            path=f"contact.{name}",
            label=f"Contact {name.replace('_', ' ')}",
            type=VariableType.STRING,
            source="contact",
        )
        for name in CONTACT_FIELDS
    ]
    refs.append(VariableRef(path="execution.id", label="Case id", type=VariableType.STRING, source="execution"))
    refs.append(
        VariableRef(
            path="execution.status",
            label="Case status",
            type=VariableType.STRING,
            source="execution",
            values=tuple(s.key for s in definition.statuses),
        )
    )
    refs += [
        VariableRef(
            path=f"execution.variables.{v.name}",
            label=v.label or v.name.replace("_", " ").capitalize(),
            type=v.type,
            source="execution",
        )
        for v in definition.variables
    ]
    for i in flow.earlier(step_index):
        step = flow.steps[i]
        if isinstance(step, WaitForTaskStep | WaitForApprovalStep):
            refs += [
                VariableRef(
                    path=f"steps.{step.id}.outcome",
                    label=f"{step.name}: outcome",
                    type=VariableType.STRING,
                    source="step",
                    values=outcomes(definition, step),
                ),
                VariableRef(
                    path=f"steps.{step.id}.comment",
                    label=f"{step.name}: comment",
                    type=VariableType.STRING,
                    source="step",
                ),
                VariableRef(
                    path=f"steps.{step.id}.completed_by",
                    label=f"{step.name}: completed by",
                    type=VariableType.STRING,
                    source="step",
                ),
            ]
    refs.append(VariableRef(path="org.name", label="Organization name", type=VariableType.STRING, source="org"))
    return refs


def why_unknown(path: str, definition: DefinitionDraft, flow: Flow, step_index: int) -> str:
    """Why `path` is not in the context of step `step_index`, in words a definition's author
    can act on."""
    head, *rest = path.split(".")
    if head == "contact":
        if len(rest) == 1 and rest[0] not in CONTACT_FIELDS:
            return f"contact has no field {rest[0]!r} (it has {', '.join(CONTACT_FIELDS)})"
        return "use contact.<field>, e.g. contact.first_name"
    if head == "execution":
        if rest[:1] == ["variables"] and len(rest) == 2:
            return f"no variable {rest[1]!r} is declared in variables"
        return "use execution.id, execution.status or execution.variables.<name>"
    if head == "steps":
        if len(rest) != 2 or rest[1] not in STEP_FIELDS:
            return "use steps.<step id>.outcome, .comment or .completed_by"
        if rest[0] not in flow.index:
            return f"no step {rest[0]!r}"
        step = flow.steps[flow.index[rest[0]]]
        if not isinstance(step, WaitForTaskStep | WaitForApprovalStep):
            return (
                f"step {rest[0]!r} is of type {step.type}: only wait_for_task and wait_for_approval record an outcome"
            )
        return f"step {rest[0]!r} does not come before this step on every path to it"
    if head == "org":
        return "use org.name"
    return f"{head!r} is not in the template context (contact, execution, steps, org)"
