"""The pure half of the case workflow: how a step reads its definition and its case, with no
Temporal and no I/O, so each rule is testable on its own (tests/test_interpreter.py).

workflows.py owns time, signals and activities; everything here is a function of its arguments.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from typing import Any

from byte_contracts.definitions import (
    CONTACT_FIELDS,
    END,
    AssignTaskStep,
    ConditionStep,
    Definition,
    Email,
    Step,
    UpdateContactStep,
    UpdateTaskStep,
    WaitForApprovalStep,
    holds,
    render,
)
from byte_contracts.definitions.templates import Placeholder, as_text, lookup, parse
from byte_contracts.enums import TaskPriority
from byte_contracts.workflow import ContactUpdateRequested, TaskRequested, TaskUpdateRequested

from byte_worker.messages import TaskCompletedSignal, TaskDeletedSignal


class StepFailed(Exception):
    """A step cannot be carried out (a template reads a value the case lacks, an email that
    never went out): the case fails, naming the step and this reason."""


# ----- where a step goes ------------------------------------------------------------------


def following(definition: Definition, step: Step) -> str:
    """Where a step (not a condition) goes when it is done: its `next`, the next step in the
    list, or END after the last one."""
    if step.next is not None:
        return step.next
    ids = [s.id for s in definition.steps]
    position = ids.index(step.id)
    return ids[position + 1] if position + 1 < len(ids) else END


def branch(step: ConditionStep, context: Mapping[str, Any]) -> str:
    return step.config.then if holds(step.config, context) else step.config.else_


# ----- the template context ---------------------------------------------------------------


def initial_variables(definition: Definition, given: Mapping[str, Any]) -> dict[str, Any]:
    """The case's variables: what it was started with, over the definition's defaults."""
    values = {v.name: v.default for v in definition.variables if v.default is not None}
    values.update(given)
    return values


def case_context(
    *,
    execution_id: uuid.UUID,
    status: str,
    contact: Mapping[str, Any],
    variables: Mapping[str, Any],
    steps: Mapping[str, Mapping[str, Any]],
    org_name: str | None,
) -> dict[str, Any]:
    """Exactly the context `byte_contracts.definitions.context` documents, nothing more: a
    template can read nothing the validator did not allow."""
    return {
        "contact": {name: contact.get(name) for name in CONTACT_FIELDS},
        "execution": {"id": str(execution_id), "status": status, "variables": dict(variables)},
        "steps": {step_id: dict(values) for step_id, values in steps.items()},
        "org": {"name": org_name},
    }


def render_required(template: str, context: Mapping[str, Any], where: str) -> str:
    """Render, refusing a placeholder without a `default(...)` whose value the case lacks
    (missing, null or empty): an email to nobody or a title with a hole is a failure to show,
    not something to send."""
    for part in parse(template):
        if isinstance(part, Placeholder) and part.default is None and as_text(lookup(context, part.path)) == "":
            raise StepFailed(f"{where}: {{{{ {part.dotted} }}}} has no value in this case")
    return render(template, context)


def recipients(rendered: str) -> list[str]:
    return [address.strip() for address in re.split(r"[,;]", rendered) if address.strip()]


def rendered_email(email: Email, context: Mapping[str, Any], where: str) -> tuple[list[str], str, str]:
    """(to, subject, text) of an email, or StepFailed."""
    to = recipients(render_required(email.to, context, f"{where} to"))
    if not to:
        raise StepFailed(f"{where} to: no recipient")
    return to, render_required(email.subject, context, f"{where} subject"), render_required(email.body, context, where)


def message_id(execution_id: uuid.UUID, step_id: str, iteration: int, purpose: str | None = None) -> str:
    """Deterministic: a duplicate send of the same step's email carries the same id."""
    middle = f"{step_id}.{iteration}" + (f".{purpose}" if purpose else "")
    return f"<case-{execution_id}.{middle}@byte>"


# ----- what a step asks of other services ---------------------------------------------------


def comment_required_on_reject(definition: Definition, assign_step_id: str) -> bool:
    """Whether a wait_for_approval on this task insists on a comment when it is rejected: the
    tasks service then refuses a reject without one."""
    return any(
        isinstance(step, WaitForApprovalStep)
        and step.config.task_step == assign_step_id
        and step.config.comment_required_on_reject
        for step in definition.steps
    )


def task_request(
    definition: Definition,
    step: AssignTaskStep,
    iteration: int,
    context: Mapping[str, Any],
    *,
    execution_id: uuid.UUID,
    contact_id: uuid.UUID | None,
    assigned_role: str | None = None,
    priority: TaskPriority | None = None,
) -> TaskRequested:
    """`workflow.task_requested` of an assign_task step; `assigned_role` / `priority` override
    the step's (a task asked for again after its deletion was escalated)."""
    c = step.config
    where = f"{step.id}.config"
    metadata: dict[str, Any] = {}
    if comment_required_on_reject(definition, step.id):
        metadata["comment_required_on_reject"] = True
    return TaskRequested(
        execution_id=execution_id,
        step_id=step.id,
        iteration=iteration,
        contact_id=contact_id,
        title=render_required(c.title, context, f"{where}.title"),
        description=None if c.description is None else render_required(c.description, context, f"{where}.description"),
        task_type=c.task_type,
        assigned_role=assigned_role or c.assigned_role,
        assigned_to=None if assigned_role else c.assigned_to,
        priority=priority or c.priority,
        due_in_seconds=None if c.due_in is None else c.due_in.seconds,
        metadata=metadata,
    )


def task_update(
    step: UpdateTaskStep, task_iteration: int, context: Mapping[str, Any], *, execution_id: uuid.UUID
) -> TaskUpdateRequested:
    """`workflow.task_update_requested` of an update_task step: only the fields it gives."""
    c = step.config
    where = f"{step.id}.config"
    return TaskUpdateRequested(
        execution_id=execution_id,
        step_id=c.task_step,
        iteration=task_iteration,
        reason="update_task",
        title=None if c.title is None else render_required(c.title, context, f"{where}.title"),
        description=None if c.description is None else render_required(c.description, context, f"{where}.description"),
        assigned_role=c.assigned_role,
        assigned_to=c.assigned_to,
        priority=c.priority,
        due_in_seconds=None if c.due_in is None else c.due_in.seconds,
    )


def contact_update(
    step: UpdateContactStep, context: Mapping[str, Any], *, execution_id: uuid.UUID, contact_id: uuid.UUID | None
) -> ContactUpdateRequested:
    """`contact.update_requested` of an update_contact step. A field rendering to nothing (a
    `default("")`) is cleared."""
    if contact_id is None:
        raise StepFailed(f"{step.id}: the case has no contact id to update")
    fields: dict[str, str | None] = {}
    for name, template in step.config.fields.items():
        fields[name] = render_required(template, context, f"{step.id}.config.fields.{name}") or None
    return ContactUpdateRequested(contact_id=contact_id, execution_id=execution_id, step_id=step.id, fields=fields)


# ----- signals ------------------------------------------------------------------------------


def is_for(signal: TaskCompletedSignal | TaskDeletedSignal, task_step: str, latest_iteration: int) -> bool:
    """Whether a task's signal is about the task a wait awaits: the one its assign step asked
    for last (a signal naming no iteration is taken to be about the latest)."""
    return signal.step_id == task_step and (signal.iteration is None or signal.iteration == latest_iteration)


def contact_id_of(contact: Mapping[str, Any]) -> uuid.UUID | None:
    value = contact.get("id")
    if value is None or value == "":
        return None
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
