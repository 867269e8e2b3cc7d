"""The definition language: the Applicant Review default, every validation rule (as a table of
broken definitions, each with the path and message it must produce), templates (hostile ones
included), the step graph (loops, reachability), variables_at, the JSON Schema, and a property
test that no mutation of a valid definition makes the validator raise."""

from __future__ import annotations

import copy
import json
import re
import uuid
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
from byte_contracts.definitions import (
    CONTACT_FIELDS,
    ConditionConfig,
    Definition,
    DefinitionDraft,
    InvalidDefinition,
    TemplateError,
    applicant_review,
    applicant_review_document,
    definition_json_schema,
    holds,
    parse_definition,
    references,
    render,
    validate_definition,
    variables_at,
)
from byte_contracts.enums import (
    DEFAULT_EXECUTION_STATUSES,
    ExecutionStatus,
    StepType,
    TaskOutcome,
    TaskPriority,
)
from byte_contracts.errors import Invalid
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

DOCS = Path(__file__).resolve().parents[3] / "docs" / "definitions.md"

# Indexes of the Applicant Review steps, as the table below mutates them.
(
    START,
    ASSIGN_REVIEW,
    REVIEW,
    MARK_IN_REVIEW,
    ASSIGN_APPROVAL,
    APPROVAL,
    DECIDE,
    MARK_APPROVED,
    WELCOME,
    MARK_REJECTED,
    REJECTION,
) = range(11)


def applicant() -> dict[str, Any]:
    return copy.deepcopy(applicant_review_document())


def step(id: str, type: str, config: dict[str, Any], **more: Any) -> dict[str, Any]:
    return {"id": id, "type": type, "name": id.replace("_", " "), "phase_id": "main", "config": config, **more}


TRIGGER = step("start", "trigger", {"sources": ["manual"]})


def assign(id: str, **config: Any) -> dict[str, Any]:
    return step(id, "assign_task", {"title": "Do it", "assigned_role": "reviewer", **config})


def document(*steps: dict[str, Any], **more: Any) -> dict[str, Any]:
    return {
        "language_version": 1,
        "name": "Test",
        "phases": [{"id": "main", "name": "Main"}],
        "steps": [TRIGGER, *steps],
        **more,
    }


def errors_of(data: Any) -> list[tuple[str, str]]:
    return [(e.path, e.message) for e in validate_definition(data)]


# ----- Applicant Review -------------------------------------------------------------------


def test_applicant_review_validates_and_round_trips_through_json():
    definition = applicant_review()
    as_json = definition.model_dump_json()
    assert validate_definition(json.loads(as_json)) == []
    assert Definition.model_validate_json(as_json) == definition
    assert parse_definition(json.loads(json.dumps(applicant_review_document()))) == definition
    assert json.loads(Definition.model_validate(json.loads(as_json)).model_dump_json()) == json.loads(as_json)


def test_applicant_review_is_the_documented_process():
    d = applicant_review()
    assert [s.type for s in d.steps] == [
        "trigger",
        "assign_task",
        "wait_for_task",
        "update_status",
        "assign_task",
        "wait_for_approval",
        "condition",
        "update_status",
        "send_email",
        "update_status",
        "send_email",
    ]
    assert set(d.steps[START].config.sources) == {"form_submission", "manual"}
    review = d.steps[ASSIGN_REVIEW].config
    assert (review.title, review.assigned_role, review.task_type, review.due_in.days) == (
        "Review Application",
        "reviewer",
        "standard",
        3,
    )
    escalation = d.steps[REVIEW].config.on_timeout
    assert (escalation.action, escalation.reassign_to_role, escalation.raise_priority_to) == (
        "escalate",
        "manager",
        TaskPriority.HIGH,
    )
    assert d.steps[MARK_IN_REVIEW].config.status == ExecutionStatus.IN_REVIEW
    approval = d.steps[ASSIGN_APPROVAL].config
    assert (approval.title, approval.assigned_role, approval.task_type) == ("Manager Approval", "manager", "approval")
    assert d.steps[APPROVAL].config.comment_required_on_reject is True
    decide = d.steps[DECIDE].config
    assert (decide.field, decide.operator, decide.value) == ("steps.approval.outcome", "eq", "approved")
    assert d.step(decide.then).config.status == ExecutionStatus.APPROVED
    assert d.step(decide.else_).config.status == ExecutionStatus.REJECTED
    assert [s.model_dump() for s in d.statuses] == list(DEFAULT_EXECUTION_STATUSES)
    assert [p.name for p in d.phases] == ["Intake", "Review", "Decision"]


def test_applicant_review_emails_greet_the_contact_by_name():
    d = applicant_review()
    context = {
        "contact": {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.org"},
        "org": {"name": "Acme"},
    }
    for email in (d.steps[WELCOME].config, d.steps[REJECTION].config):
        assert render(email.to, context) == "ada@example.org"
        assert "Hi Ada," in render(email.body, context)
        assert "Acme" in render(email.subject, context)
    assert "approved" in render(d.steps[WELCOME].config.body, context)
    assert "Hi there," in render(d.steps[REJECTION].config.body, {"contact": {}})


def test_the_docs_show_the_applicant_review_json():
    blocks = re.findall(r"```json\n(.*?)```", DOCS.read_text(), re.DOTALL)
    shown = [json.loads(block) for block in blocks if '"name": "Applicant Review"' in block]
    assert shown == [applicant_review_document()]


# ----- a definition is valid or it does not exist ---------------------------------------


def test_an_invalid_definition_cannot_be_built():
    broken = applicant()
    broken["steps"][MARK_IN_REVIEW]["config"]["status"] = "nowhere"
    with pytest.raises(ValidationError, match=r"steps\[3\]\.config\.status: no status 'nowhere'"):
        Definition.model_validate(broken)
    with pytest.raises(InvalidDefinition) as refused:
        parse_definition(broken)
    assert isinstance(refused.value, Invalid)
    assert refused.value.errors == [
        {"field": "steps[3].config.status", "in": "body", "message": refused.value.definition_errors[0].message}
    ]
    # The structure alone passes: only Definition runs the rules.
    assert DefinitionDraft.model_validate(broken).steps[MARK_IN_REVIEW].config.status == "nowhere"
    with pytest.raises(TypeError):
        Definition.model_construct(**broken)


def test_a_definition_is_frozen_and_copies_are_validated():
    d = applicant_review()
    with pytest.raises(ValidationError):
        d.name = "Other"  # type: ignore[misc]
    with pytest.raises(ValidationError):
        d.steps[0].id = "other"  # type: ignore[misc]
    with pytest.raises(ValidationError, match="the first step must be the trigger"):
        d.model_copy(update={"steps": d.steps[1:]})
    assert d.model_copy(update={"name": "Renamed"}).name == "Renamed"


# ----- every rule: a table of broken definitions ------------------------------------------


def _set(path: str, value: Any):
    """A mutation of the Applicant Review document: set the value at a dotted path."""

    def mutate(d: dict[str, Any]) -> None:
        *parents, last = [int(p) if p.isdigit() else p for p in path.split(".")]
        for part in parents:
            d = d[part]
        d[last] = value

    return mutate


def _drop(path: str):
    def mutate(d: dict[str, Any]) -> None:
        *parents, last = [int(p) if p.isdigit() else p for p in path.split(".")]
        for part in parents:
            d = d[part]
        del d[last]

    return mutate


def _insert(index: int, new_step: dict[str, Any]):
    def mutate(d: dict[str, Any]) -> None:
        d["steps"].insert(index, copy.deepcopy(new_step))

    return mutate


def _each(*mutations):
    def mutate(d: dict[str, Any]) -> None:
        for m in mutations:
            m(d)

    return mutate


def _whole(data: Any):
    def mutate(d: dict[str, Any]) -> Any:
        return copy.deepcopy(data)

    return mutate


def _condition(**config: Any):
    return _set(f"steps.{DECIDE}.config", {"then": "mark_approved", "else": "mark_rejected", **config})


def _with_variables(*variables: dict[str, Any]):
    return _set("variables", list(variables))


DATE_VAR = {"name": "start_date", "type": "date", "label": "Start date"}
NUMBER_VAR = {"name": "score", "type": "number"}
UPDATE_CONTACT = step("tidy", "update_contact", {"fields": {"city": "{{ contact.city }}"}}, phase_id="review")
LOOP_WITHOUT_END = document(
    step("pause", "delay", {"hours": 1}),
    step("mark", "update_status", {"status": "on_hold"}, next="pause"),
)

BROKEN = [
    # shape
    ("not an object", _whole([1, 2]), "", "a definition is a JSON object"),
    ("unknown top-level field", _set("nmae", "x"), "nmae", "unknown field"),
    ("missing name", _drop("name"), "name", "required"),
    ("blank name", _set("name", "  "), "name", "must not be blank"),
    ("future language version", _set("language_version", 2), "language_version", "unsupported language version 2"),
    ("missing language version", _drop("language_version"), "language_version", "required"),
    ("language version true", _set("language_version", True), "language_version", "unsupported language version True"),
    ("language version 1.0", _set("language_version", 1.0), "language_version", "unsupported language version 1.0"),
    ("steps not a list", _set("steps", {"a": 1}), "steps", "must be a list"),
    ("no steps", _set("steps", []), "steps", "at least 1"),
    ("no phases", _set("phases", []), "phases", "at least 1"),
    ("step not an object", _set("steps.1", 7), "steps[1]", "must be an object"),
    ("unknown step type", _set(f"steps.{REVIEW}.type", "teleport"), "steps[2].type", "unknown type 'teleport'"),
    ("missing step type", _drop(f"steps.{REVIEW}.type"), "steps[2].type", "required"),
    ("missing config", _drop(f"steps.{ASSIGN_REVIEW}.config"), "steps[1].config", "required"),
    ("missing title", _drop(f"steps.{ASSIGN_REVIEW}.config.title"), "steps[1].config.title", "required"),
    ("blank title", _set(f"steps.{ASSIGN_REVIEW}.config.title", " "), "steps[1].config.title", "must not be blank"),
    (
        "misspelt config field",
        _set(f"steps.{ASSIGN_REVIEW}.config.titel", "x"),
        "steps[1].config.titel",
        "unknown field",
    ),
    ("bad step id", _set(f"steps.{ASSIGN_REVIEW}.id", "_hidden"), "steps[1].id", "must start with a letter"),
    (
        "unknown priority",
        _set(f"steps.{ASSIGN_REVIEW}.config.priority", "urgent"),
        "steps[1].config.priority",
        "'low', 'medium' or 'high'",
    ),
    ("no trigger source", _set(f"steps.{START}.config.sources", []), "steps[0].config.sources", "at least 1"),
    (
        "a trigger source twice",
        _set(f"steps.{START}.config.sources", ["manual", "manual"]),
        "steps[0].config.sources",
        "a value is listed twice",
    ),
    (
        "unknown trigger source",
        _set(f"steps.{START}.config.sources", ["email"]),
        "steps[0].config.sources[0]",
        "'form_submission' or 'manual'",
    ),
    ("bad colour", _set("statuses.0.color", "not a colour"), "statuses[0].color", "must be a colour name"),
    (
        "condition value an object",
        _condition(field="steps.approval.outcome", operator="eq", value={"a": 1}),
        "steps[6].config.value",
        "must be a text, a number or a boolean",
    ),
    (
        "unknown timeout action",
        _set(f"steps.{REVIEW}.config.on_timeout", {"action": "explode"}),
        "steps[2].config.on_timeout.action",
        "unknown action 'explode'",
    ),
    (
        "unknown escalation field",
        _set(f"steps.{REVIEW}.config.on_timeout.notify_everyone", True),
        "steps[2].config.on_timeout.notify_everyone",
        "unknown field",
    ),
    (
        "unknown task-deleted action",
        _set(f"steps.{APPROVAL}.config.on_task_deleted", {"action": "ignore"}),
        "steps[5].config.on_task_deleted.action",
        "unknown action 'ignore'",
    ),
    (
        "task-deleted hold with a field",
        _set(f"steps.{APPROVAL}.config.on_task_deleted", {"action": "on_hold", "status": "x"}),
        "steps[5].config.on_task_deleted.status",
        "unknown field",
    ),
    # unique ids
    (
        "duplicate step id",
        _set(f"steps.{MARK_IN_REVIEW}.id", "review"),
        "steps[3].id",
        "duplicate step id 'review' (also steps[2])",
    ),
    (
        "duplicate phase id",
        _set("phases.2.id", "intake"),
        "phases[2].id",
        "duplicate phase id 'intake' (also phases[0])",
    ),
    (
        "duplicate status key",
        _set("statuses.1.key", "submitted"),
        "statuses[1].key",
        "duplicate status key 'submitted'",
    ),
    (
        "duplicate variable",
        _with_variables(DATE_VAR, DATE_VAR),
        "variables[1].name",
        "duplicate variable name 'start_date'",
    ),
    ("a step called end", _set(f"steps.{MARK_IN_REVIEW}.id", "end"), "steps[3].id", "'end' is reserved"),
    # trigger
    (
        "trigger not first",
        _each(_drop(f"steps.{START}"), _insert(1, applicant_review_document()["steps"][START])),
        "steps[0].type",
        "the first step must be the trigger",
    ),
    ("two triggers", _insert(3, TRIGGER), "steps[3].type", "only the first step may be a trigger"),
    # references
    (
        "unknown phase",
        _set(f"steps.{ASSIGN_REVIEW}.phase_id", "nowhere"),
        "steps[1].phase_id",
        "no phase 'nowhere'; phases are decision, intake, review",
    ),
    ("unknown next", _set(f"steps.{MARK_IN_REVIEW}.next", "nowhere"), "steps[3].next", "no step 'nowhere'"),
    (
        "unknown then",
        _condition(field="steps.approval.outcome", operator="eq", value="approved", then="nowhere"),
        "steps[6].config.then",
        "no step 'nowhere'",
    ),
    ("unknown else", _set(f"steps.{DECIDE}.config.else", "nowhere"), "steps[6].config.else", "no step 'nowhere'"),
    (
        "unknown go_to",
        _set(f"steps.{REVIEW}.config.on_timeout", {"action": "go_to", "step": "nowhere"}),
        "steps[2].config.on_timeout.step",
        "no step 'nowhere'",
    ),
    (
        "back to the trigger",
        _set(f"steps.{REJECTION}.next", "start"),
        "steps[10].next",
        "cannot go back to the trigger",
    ),
    ("condition with next", _set(f"steps.{DECIDE}.next", "mark_approved"), "steps[6].next", "not next"),
    (
        "unknown status",
        _set(f"steps.{MARK_IN_REVIEW}.config.status", "hired"),
        "steps[3].config.status",
        "no status 'hired'; statuses are submitted, in_review",
    ),
    (
        "wait on an unknown step",
        _set(f"steps.{REVIEW}.config.task_step", "nowhere"),
        "steps[2].config.task_step",
        "no step 'nowhere'",
    ),
    (
        "wait on a step that is no assign_task",
        _set(f"steps.{REVIEW}.config.task_step", "start"),
        "steps[2].config.task_step",
        "step 'start' is of type trigger, not assign_task",
    ),
    (
        "wait for approval of a standard task",
        _set(f"steps.{APPROVAL}.config.task_step", "assign_review"),
        "steps[5].config.task_step",
        "assigns a standard task: wait_for_approval needs an approval task",
    ),
    (
        "wait on a later task",
        _set(f"steps.{REVIEW}.config.task_step", "assign_approval"),
        "steps[2].config.task_step",
        "step 'assign_approval' does not come before this step on every path",
    ),
    (
        "update a task never assigned",
        _insert(1, step("bump", "update_task", {"task_step": "assign_review", "priority": "high"}, phase_id="intake")),
        "steps[1].config.task_step",
        "does not come before",
    ),
    (
        "update_task that changes nothing",
        _insert(3, step("bump", "update_task", {"task_step": "assign_review"}, phase_id="review")),
        "steps[3].config",
        "changes nothing",
    ),
    (
        "assign_task without assignee",
        _drop(f"steps.{ASSIGN_REVIEW}.config.assigned_role"),
        "steps[1].config.assigned_role",
        "needs an assignee",
    ),
    # graph
    ("unreachable steps", _set(f"steps.{DECIDE}.config.else", "mark_approved"), "steps[9]", "unreachable"),
    ("a step after the end", _set(f"steps.{MARK_REJECTED}.next", "end"), "steps[10]", "unreachable"),
    (
        "a loop without a wait or a delay",
        _set(f"steps.{WELCOME}.next", "decide"),
        "steps[8].next",
        "loops without a wait or a delay (welcome_email → decide → mark_approved → welcome_email)",
    ),
    ("a loop that never ends", _whole(LOOP_WITHOUT_END), "steps[1]", "never ends"),
    # durations
    (
        "zero timeout",
        _set(f"steps.{REVIEW}.config.timeout", {"days": 0}),
        "steps[2].config.timeout",
        "must be longer than zero",
    ),
    (
        "timeout over a year",
        _set(f"steps.{REVIEW}.config.timeout", {"days": 365, "minutes": 1}),
        "steps[2].config.timeout",
        "must be at most 365 days",
    ),
    (
        "huge timeout",
        _set(f"steps.{REVIEW}.config.timeout", {"days": 10**12}),
        "steps[2].config.timeout",
        "must be at most 365 days",
    ),
    (
        "negative timeout",
        _set(f"steps.{REVIEW}.config.timeout", {"hours": -1}),
        "steps[2].config.timeout.hours",
        "greater than or equal to 0",
    ),
    (
        "fractional days",
        _set(f"steps.{REVIEW}.config.timeout", {"days": 1.5}),
        "steps[2].config.timeout.days",
        "valid integer",
    ),
    (
        "due in over a year",
        _set(f"steps.{ASSIGN_REVIEW}.config.due_in", {"hours": 9000}),
        "steps[1].config.due_in",
        "at most 365 days",
    ),
    (
        "zero delay",
        _insert(3, step("pause", "delay", {}, phase_id="review")),
        "steps[3].config",
        "must be longer than zero",
    ),
    (
        "delay over a year",
        _insert(3, step("pause", "delay", {"days": 366}, phase_id="review")),
        "steps[3].config",
        "must be at most 365 days",
    ),
    (
        "timeout without on_timeout",
        _drop(f"steps.{REVIEW}.config.on_timeout"),
        "steps[2].config.on_timeout",
        "required with a timeout",
    ),
    (
        "on_timeout without timeout",
        _set(f"steps.{APPROVAL}.config.on_timeout", {"action": "continue"}),
        "steps[5].config.on_timeout",
        "there is no timeout",
    ),
    (
        "an escalation that does nothing",
        _set(f"steps.{REVIEW}.config.on_timeout", {"action": "escalate"}),
        "steps[2].config.on_timeout",
        "needs reassign_to_role, raise_priority_to or notify",
    ),
    # templates
    (
        "malformed template",
        _set(f"steps.{WELCOME}.config.subject", "Welcome {{ contact.first_name"),
        "steps[8].config.subject",
        "'{{' is never closed",
    ),
    (
        "code in a template",
        _set(f"steps.{WELCOME}.config.subject", "{{ 1+1 }}"),
        "steps[8].config.subject",
        "not a dotted path",
    ),
    (
        "attribute walking in a template",
        _set(f"steps.{WELCOME}.config.body", "{{ contact.__class__ }}"),
        "steps[8].config.body",
        "not a dotted path",
    ),
    (
        "unknown contact field",
        _set(f"steps.{ASSIGN_REVIEW}.config.title", "Review {{ contact.nickname }}"),
        "steps[1].config.title",
        "contact has no field 'nickname'",
    ),
    (
        "undeclared variable",
        _set(f"steps.{ASSIGN_REVIEW}.config.description", "{{ execution.variables.start_date }}"),
        "steps[1].config.description",
        "no variable 'start_date' is declared",
    ),
    (
        "unknown execution field",
        _set(f"steps.{ASSIGN_REVIEW}.config.title", "{{ execution.owner }}"),
        "steps[1].config.title",
        "use execution.id, execution.status",
    ),
    (
        "outside the context",
        _set(f"steps.{WELCOME}.config.body", "{{ secrets.api_key }}"),
        "steps[8].config.body",
        "'secrets' is not in the template context",
    ),
    (
        "a later step's outcome",
        _set(f"steps.{ASSIGN_APPROVAL}.config.description", "{{ steps.approval.outcome }}"),
        "steps[4].config.description",
        "step 'approval' does not come before this step",
    ),
    (
        "an outcome of a step that records none",
        _set(f"steps.{WELCOME}.config.body", "{{ steps.assign_review.outcome }}"),
        "steps[8].config.body",
        "only wait_for_task and wait_for_approval record an outcome",
    ),
    (
        "an unknown step field",
        _set(f"steps.{WELCOME}.config.body", "{{ steps.review.score }}"),
        "steps[8].config.body",
        "use steps.<step id>.outcome",
    ),
    (
        "a template in an escalation notice",
        _set(
            f"steps.{REVIEW}.config.on_timeout.notify",
            {"to": "boss@example.org", "subject": "Late", "body": "{{ contact.salary }}"},
        ),
        "steps[2].config.on_timeout.notify.body",
        "contact has no field 'salary'",
    ),
    (
        "a template in a deleted task's escalation notice",
        _set(
            f"steps.{REVIEW}.config.on_task_deleted",
            {"action": "escalate", "notify": {"to": "boss@example.org", "subject": "Gone", "body": "{{ org.id }}"}},
        ),
        "steps[2].config.on_task_deleted.notify.body",
        "use org.name",
    ),
    (
        "update_contact outside contact fields",
        _insert(3, {**UPDATE_CONTACT, "config": {"fields": {"nickname": "x"}}}),
        "steps[3].config.fields.nickname",
        "not a contact field",
    ),
    (
        "update_contact with an odd key",
        _insert(3, {**UPDATE_CONTACT, "config": {"fields": {"nick name": "x"}}}),
        'steps[3].config.fields["nick name"]',
        "not a contact field",
    ),
    (
        "update_contact template",
        _insert(3, {**UPDATE_CONTACT, "config": {"fields": {"city": "{{ contact.town }}"}}}),
        "steps[3].config.fields.city",
        "contact has no field 'town'",
    ),
    # conditions
    (
        "condition on an unknown step",
        _condition(field="steps.aproval.outcome", operator="eq", value="approved"),
        "steps[6].config.field",
        "no step 'aproval'",
    ),
    (
        "condition value never an outcome",
        _condition(field="steps.approval.outcome", operator="eq", value="aproved"),
        "steps[6].config.value",
        "'aproved' is never a value of steps.approval.outcome: it is one of approved, rejected",
    ),
    (
        "condition on an unknown status",
        _condition(field="execution.status", operator="in", value=["approved", "hired"]),
        "steps[6].config.value",
        "'hired' is never a value of execution.status",
    ),
    (
        "in without a list",
        _condition(field="steps.approval.outcome", operator="in", value="approved"),
        "steps[6].config.value",
        "in needs a non-empty list",
    ),
    (
        "eq with a list",
        _condition(field="steps.approval.outcome", operator="eq", value=["approved"]),
        "steps[6].config.value",
        "eq compares with one value",
    ),
    (
        "exists with a value",
        _condition(field="contact.email", operator="exists", value="x"),
        "steps[6].config.value",
        "exists takes no value",
    ),
    (
        "eq without a value",
        _condition(field="contact.email", operator="eq"),
        "steps[6].config.value",
        "eq needs a value",
    ),
    (
        "gt on a text field",
        _condition(field="contact.zip", operator="gt", value=5),
        "steps[6].config.operator",
        "gt compares numbers and dates; contact.zip is of type string",
    ),
    (
        "gt on a date with no date",
        _each(
            _with_variables(DATE_VAR), _condition(field="execution.variables.start_date", operator="gt", value="soon")
        ),
        "steps[6].config.value",
        "compare it with a date",
    ),
    (
        "lt on a number with text",
        _each(_with_variables(NUMBER_VAR), _condition(field="execution.variables.score", operator="lt", value="ten")),
        "steps[6].config.value",
        "lt compares with a number",
    ),
    (
        "contains with a number",
        _condition(field="contact.email", operator="contains", value=3),
        "steps[6].config.value",
        "contains looks for a text",
    ),
    (
        "unknown operator",
        _condition(field="contact.email", operator="like", value="x"),
        "steps[6].config.operator",
        "'eq', 'ne', 'in'",
    ),
    # variables
    (
        "number default not a number",
        _with_variables({**NUMBER_VAR, "default": "ten"}),
        "variables[0].default",
        "must be a number",
    ),
    (
        "date default not a date",
        _with_variables({**DATE_VAR, "default": "2026-02-30"}),
        "variables[0].default",
        "must be a date (YYYY-MM-DD)",
    ),
    (
        "boolean default not a boolean",
        _with_variables({"name": "ok", "type": "boolean", "default": 1}),
        "variables[0].default",
        "must be a boolean",
    ),
    (
        "unknown variable type",
        _with_variables({"name": "ok", "type": "color"}),
        "variables[0].type",
        "'string', 'number', 'boolean' or 'date'",
    ),
]


@pytest.mark.parametrize(
    ("mutation", "path", "fragment"), [case[1:] for case in BROKEN], ids=[case[0] for case in BROKEN]
)
def test_broken_definitions_are_refused_with_a_precise_error(mutation, path, fragment):
    data = applicant()
    data = mutation(data) or data
    errors = errors_of(data)
    assert any(p == path and fragment in m for p, m in errors), f"expected {path}: …{fragment}…, got {errors}"
    with pytest.raises(ValidationError):
        Definition.model_validate(data)
    with pytest.raises(InvalidDefinition):
        parse_definition(data)


def test_the_table_refuses_a_config_of_every_step_type():
    refused_types = set()
    for _, mutation, path, _ in BROKEN:
        found = re.match(r"steps\[(\d+)\]\.config", path)
        if found:
            refused_types.add(_mutated(mutation)["steps"][int(found[1])]["type"])
    assert refused_types == set(StepType)


def _mutated(mutation):
    data = applicant()
    return mutation(data) or data


# ----- the graph: loops, reachability -----------------------------------------------------


def test_a_loop_through_a_wait_is_accepted():
    # A review that times out is assigned again: the loop passes through the wait.
    data = applicant()
    data["steps"][REVIEW]["config"]["on_timeout"] = {"action": "go_to", "step": "assign_review"}
    assert errors_of(data) == []


def test_a_loop_through_a_delay_is_accepted_and_the_same_loop_without_it_refused():
    def polling(pause_type: str, pause_config: dict[str, Any]) -> dict[str, Any]:
        return document(
            step(
                "ready",
                "condition",
                {
                    "field": "execution.variables.ready",
                    "operator": "eq",
                    "value": True,
                    "then": "done",
                    "else": "pause",
                },
            ),
            step("pause", pause_type, pause_config, next="ready"),
            step("done", "update_status", {"status": "approved"}),
            variables=[{"name": "ready", "type": "boolean", "default": False}],
        )

    assert errors_of(polling("delay", {"hours": 6})) == []
    assert errors_of(polling("update_status", {"status": "on_hold"})) == [
        ("steps[2].next", "loops without a wait or a delay (pause → ready → pause): it would spin forever"),
    ]


def test_a_step_in_a_loop_of_its_own_is_refused():
    data = document(step("again", "update_status", {"status": "on_hold"}, next="again"))
    assert ("steps[1].next", "loops without a wait or a delay (again → again): it would spin forever") in errors_of(
        data
    )


def test_a_loop_with_a_wait_that_never_exits_is_refused():
    data = document(assign("task"), step("wait", "wait_for_task", {"task_step": "task"}, next="task"))
    assert errors_of(data) == [
        ("steps[0]", "never ends: every path from this step loops forever"),
        ("steps[1]", "never ends: every path from this step loops forever"),
        ("steps[2]", "never ends: every path from this step loops forever"),
    ]


def test_unreachable_steps_are_refused_each_by_path():
    data = document(
        step("done", "update_status", {"status": "approved"}, next="end"),
        step("orphan", "update_status", {"status": "rejected"}),
        step("orphan_too", "send_email", {"to": "a@example.org", "subject": "s", "body": "b"}),
    )
    assert errors_of(data) == [
        ("steps[2]", "unreachable: no path from the trigger leads here"),
        ("steps[3]", "unreachable: no path from the trigger leads here"),
    ]


def test_a_wait_on_a_task_assigned_in_one_branch_only_is_refused():
    data = document(
        step("which", "condition", {"field": "contact.email", "operator": "exists", "then": "task", "else": "wait"}),
        assign("task"),
        step("wait", "wait_for_task", {"task_step": "task"}),
    )
    assert errors_of(data) == [
        ("steps[3].config.task_step", "step 'task' does not come before this step on every path to it"),
    ]


# ----- templates --------------------------------------------------------------------------


def test_render_substitutes_values_and_defaults():
    context = {
        "contact": {"first_name": "Ada", "last_name": None, "city": ""},
        "execution": {
            "id": uuid.UUID(int=1),
            "status": ExecutionStatus.IN_REVIEW,
            "variables": {
                "start": date(2026, 3, 1),
                "score": 7.5,
                "vip": True,
                "at": datetime(2026, 3, 1, 9, 30, tzinfo=UTC),
            },
        },
    }
    assert render("Hi {{contact.first_name}}!", context) == "Hi Ada!"
    assert render("{{ contact.last_name | default('Doe') }}", context) == "Doe"  # None
    assert render('{{ contact.city | default("nowhere") }}', context) == "nowhere"  # empty
    assert render("[{{ contact.phone }}]", context) == "[]"  # missing
    assert render("{{ org.name }}", context) == ""  # a whole missing branch
    assert render("{{ execution.id }}", context) == "00000000-0000-0000-0000-000000000001"
    assert render("{{ execution.status }}", context) == "in_review"
    assert (
        render("{{execution.variables.start}} {{execution.variables.score}} {{execution.variables.vip}}", context)
        == "2026-03-01 7.5 true"
    )
    assert render("{{ execution.variables.at }}", context) == "2026-03-01T09:30:00+00:00"
    assert render("no placeholders, { single braces } kept", {}) == "no placeholders, { single braces } kept"
    assert render("{% import os %}{# #}", {}) == "{% import os %}{# #}"  # not a language here: plain text


def test_only_scalars_render():
    context = {"contact": {"first_name": {"nested": "x"}, "last_name": ["a"], "city": object()}}
    assert render("{{contact.first_name|default('?')}}{{contact.last_name}}{{contact.city}}", context) == "?"
    assert render("{{ contact }}", context) == ""


def test_render_never_touches_attributes():
    touched = []

    class Spy:
        @property
        def first_name(self):
            touched.append("first_name")
            return "leaked"

        def get(self, key):
            touched.append(key)
            return "leaked"

    assert render("{{ contact.first_name }}", {"contact": Spy()}) == ""
    assert touched == []


def test_references_lists_the_dotted_paths():
    assert references(
        "Hi {{ contact.first_name }} {{contact.first_name | default('x')}}, {{ steps.review.outcome }}"
    ) == {"contact.first_name", "steps.review.outcome"}
    assert references("plain text") == set()


@pytest.mark.parametrize(
    ("template", "fragment"),
    [
        ("{{contact.__class__}}", "not a dotted path"),
        ("{{ contact.first_name.__class__.__mro__ }}", "not a dotted path"),
        ("{{ _private }}", "not a dotted path"),
        ("{{ 1+1 }}", "not a dotted path"),
        ("{{ contact['first_name'] }}", "not a dotted path"),
        ("{{ contact.first_name() }}", "not a dotted path"),
        ("{{ config.items() }}", "not a dotted path"),
        ("{{ lipsum.__globals__.os.popen('id').read() }}", "not a dotted path"),
        ("{{ contact.first_name | attr('__class__') }}", "unknown filter 'attr'"),
        ("{{ contact.first_name | upper }}", "unknown filter 'upper'"),
        ("{{ x | default(1+1) }}", "default takes one quoted text"),
        ("{{ x | default(contact.email) }}", "default takes one quoted text"),
        ("Hi {{ contact.first_name", "'{{' is never closed"),
        ("Hi {{ {{ contact.first_name }}", "'{{' is never closed"),
        ("Hi }} there", "'}}' closes nothing"),
        ("{{ a }} }}", "'}}' closes nothing"),
        ("{{}}", "empty placeholder"),
        ("{{ }}", "empty placeholder"),
    ],
)
def test_hostile_or_malformed_templates_are_errors(template, fragment):
    with pytest.raises(TemplateError, match=re.escape(fragment)):
        references(template)
    with pytest.raises(TemplateError):
        render(template, {"contact": {"first_name": "Ada"}})


def test_template_errors_say_where():
    with pytest.raises(TemplateError) as error:
        references("Hello {{ name")
    assert error.value.position == 6
    assert str(error.value).endswith("(at character 7)")


# ----- conditions -------------------------------------------------------------------------

_CASE = {
    "contact": {"email": "Ada@Example.org", "city": "", "zip": "02139"},
    "execution": {
        "status": ExecutionStatus.IN_REVIEW,
        "variables": {"score": 7, "start": date(2026, 3, 1), "vip": True, "when": "2026-03-01T09:00:00"},
    },
    "steps": {"approval": {"outcome": TaskOutcome.APPROVED}},
}


@pytest.mark.parametrize(
    ("field", "operator", "value", "expected"),
    [
        ("steps.approval.outcome", "eq", "approved", True),
        ("steps.approval.outcome", "ne", "approved", False),
        ("steps.approval.outcome", "in", ["rejected", "approved"], True),
        ("steps.approval.outcome", "not_in", ["rejected", "timed_out"], True),
        ("execution.status", "eq", "in_review", True),
        ("execution.variables.score", "eq", 7.0, True),
        ("execution.variables.score", "eq", "7", True),  # a number the context holds reads as text too
        ("execution.variables.score", "gt", 5, True),
        ("execution.variables.score", "lt", 5, False),
        ("execution.variables.score", "gt", "2026-01-01", False),  # a number is not a date
        ("execution.variables.start", "gt", "2026-02-28", True),
        ("execution.variables.start", "lt", "2026-02-28", False),
        ("execution.variables.when", "lt", "2026-03-02", True),
        ("execution.variables.vip", "eq", True, True),
        ("execution.variables.vip", "eq", 1, False),  # true is not the number 1
        ("contact.email", "contains", "@example.ORG", True),
        ("contact.email", "exists", None, True),
        ("contact.zip", "eq", "02139", True),
        ("contact.zip", "gt", 2000, False),  # text never orders against a number
        # missing, null or empty: false for all but ne and not_in
        ("contact.city", "exists", None, False),
        ("contact.phone", "exists", None, False),
        ("contact.phone", "eq", "x", False),
        ("contact.phone", "ne", "x", True),
        ("contact.phone", "in", ["x"], False),
        ("contact.phone", "not_in", ["x"], True),
        ("contact.phone", "contains", "x", False),
        ("steps.review.outcome", "gt", 1, False),
    ],
)
def test_conditions_decide(field, operator, value, expected):
    condition = ConditionConfig.model_validate(
        {"field": field, "operator": operator, "value": value, "then": "a", "else": "b"}
    )
    assert holds(condition, _CASE) is expected


# ----- variables_at -----------------------------------------------------------------------


def _paths(definition, step_id):
    return [ref.path for ref in variables_at(definition, step_id)]


BASE = [f"contact.{name}" for name in CONTACT_FIELDS] + ["execution.id", "execution.status"]


def test_variables_at_the_trigger_are_the_contact_the_case_and_the_org():
    assert _paths(applicant_review(), "start") == [*BASE, "org.name"]


def test_variables_at_offer_the_outcomes_of_earlier_waits_only():
    d = applicant_review()
    review = ["steps.review.outcome", "steps.review.comment", "steps.review.completed_by"]
    approval = ["steps.approval.outcome", "steps.approval.comment", "steps.approval.completed_by"]
    assert _paths(d, "review") == [*BASE, "org.name"]  # not its own outcome
    assert _paths(d, "assign_approval") == [*BASE, *review, "org.name"]
    assert _paths(d, "decide") == [*BASE, *review, *approval, "org.name"]
    assert _paths(d, "rejection_email") == [*BASE, *review, *approval, "org.name"]
    refs = {ref.path: ref for ref in variables_at(d, "decide")}
    assert refs["steps.approval.outcome"].values == ("approved", "rejected")
    assert refs["steps.review.outcome"].values == ("completed",)  # escalating keeps waiting: never timed out
    assert refs["execution.status"].values == tuple(s["key"] for s in DEFAULT_EXECUTION_STATUSES)
    assert refs["steps.approval.outcome"].label == "Wait for the decision: outcome"
    with pytest.raises(KeyError):
        variables_at(d, "nowhere")


def test_variables_at_a_join_offer_only_what_every_path_produced():
    definition = parse_definition(
        document(
            step(
                "which", "condition", {"field": "contact.email", "operator": "exists", "then": "task", "else": "join"}
            ),
            assign("task"),
            step(
                "wait",
                "wait_for_task",
                {"task_step": "task", "timeout": {"hours": 4}, "on_timeout": {"action": "continue"}},
            ),
            step(
                "inside",
                "send_email",
                {"to": "{{ contact.email }}", "subject": "{{ steps.wait.outcome }}", "body": "b"},
            ),
            step("join", "update_status", {"status": "approved"}),
            variables=[{"name": "start_date", "type": "date", "label": "Start date"}],
        )
    )
    assert "steps.wait.outcome" not in _paths(definition, "join")
    refs = {ref.path: ref for ref in variables_at(definition, "inside")}
    assert refs["steps.wait.outcome"].values == ("completed", "timed_out")
    assert refs["execution.variables.start_date"].type == "date"
    assert refs["execution.variables.start_date"].label == "Start date"


# ----- JSON Schema ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("on_task_deleted", "outcomes"),
    [
        (None, ("completed",)),
        ({"action": "on_hold"}, ("completed",)),
        ({"action": "escalate"}, ("completed",)),
        ({"action": "escalate", "reassign_to_role": "manager", "raise_priority_to": "high"}, ("completed",)),
        ({"action": "continue"}, ("completed", "task_deleted")),
    ],
)
def test_a_wait_says_what_happens_when_its_task_is_deleted(on_task_deleted, outcomes):
    data = applicant()
    if on_task_deleted is not None:
        data["steps"][REVIEW]["config"]["on_task_deleted"] = on_task_deleted
    assert validate_definition(data) == []
    d = Definition.model_validate(data)
    assert d.steps[REVIEW].config.when_task_deleted.action == (on_task_deleted or {"action": "on_hold"})["action"]
    refs = {ref.path: ref for ref in variables_at(d, "decide")}
    assert refs["steps.review.outcome"].values == outcomes


def test_the_json_schema_describes_definitions():
    schema = definition_json_schema()
    assert schema["x-language-version"] == 1
    validator = jsonschema_rs.validator_for(schema)
    assert validator.is_valid(json.loads(applicant_review().model_dump_json()))
    assert validator.is_valid(applicant_review_document())
    broken = applicant()
    broken["steps"][REVIEW]["type"] = "teleport"
    assert not validator.is_valid(broken)
    mapping = schema["properties"]["steps"]["items"]["discriminator"]["mapping"]
    assert set(mapping) == set(StepType)
    assert schema["$defs"]["AssignTaskConfig"]["properties"]["title"]["format"] == "byte-template"
    assert "on_task_deleted" in schema["$defs"]["WaitForApprovalConfig"]["properties"]
    on_deleted = applicant()
    on_deleted["steps"][REVIEW]["config"]["on_task_deleted"] = {"action": "continue"}
    assert validator.is_valid(on_deleted)
    on_deleted["steps"][REVIEW]["config"]["on_task_deleted"] = {"action": "shrug"}
    assert not validator.is_valid(on_deleted)


# ----- no mutation makes the validator raise ----------------------------------------------

_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_QUOTED = r'\["(?:[^"\\]|\\.)*"\]'
PATH = re.compile(rf"(?:{_NAME}|{_QUOTED})?(?:\.{_NAME}|\[\d+\]|{_QUOTED})*")
_SEGMENT = re.compile(rf"\.?({_NAME})|\[(\d+)\]|\[(\"(?:[^\"\\]|\\.)*\")\]")

_IDS = [s["id"] for s in applicant_review_document()["steps"]]
_INTERESTING = st.sampled_from(
    [
        *_IDS,
        "end",
        "nowhere",
        *[t.value for t in StepType],
        "approved",
        "rejected",
        "reviewer",
        "",
        {"days": 0},
        {"days": 400},
        {"hours": 1},
        {"action": "continue"},
        {"action": "go_to", "step": "start"},
        {"action": "escalate"},
        "{{ contact.first_name }}",
        "{{ contact.__class__ }}",
        "{{",
        "}}",
        "{{ 1+1 }}",
        "{{ steps.approval.outcome }}",
        ["approved"],
        [],
        {},
        None,
        True,
        0,
        -1,
        10**30,
        1.5,
    ]
)
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)
# Copied on each draw: a mutation must not change the examples themselves.
_VALUES = st.one_of(_INTERESTING, _JSON, st.sampled_from(applicant_review_document()["steps"])).map(copy.deepcopy)


def _mutate(doc: dict[str, Any], data: st.DataObject) -> None:
    """Walk down a random path, then change what is there: replace, delete, add, copy or swap."""
    node: Any = doc
    while True:
        keys = list(node) if isinstance(node, dict) else list(range(len(node)))
        children = [k for k in keys if isinstance(node[k], dict | list)]
        if not children or data.draw(st.integers(0, 3)) == 0:
            break
        node = node[data.draw(st.sampled_from(children))]
    keys = list(node) if isinstance(node, dict) else list(range(len(node)))
    action = data.draw(st.sampled_from(["replace", "delete", "add", "copy", "swap"]))
    if isinstance(node, dict):
        if action in ("replace", "add") or not keys:
            key = data.draw(st.sampled_from(keys) | st.text(max_size=10) if keys else st.text(max_size=10))
            node[key] = data.draw(_VALUES)
        else:
            del node[data.draw(st.sampled_from(keys))]
    elif action == "add" or not keys:
        node.insert(data.draw(st.integers(0, len(node))), data.draw(_VALUES))
    elif action == "replace":
        node[data.draw(st.sampled_from(keys))] = data.draw(_VALUES)
    elif action == "delete":
        del node[data.draw(st.sampled_from(keys))]
    elif action == "copy":
        node.insert(data.draw(st.integers(0, len(node))), copy.deepcopy(node[data.draw(st.sampled_from(keys))]))
    else:
        a, b = data.draw(st.sampled_from(keys)), data.draw(st.sampled_from(keys))
        node[a], node[b] = node[b], node[a]


_REWIRABLE = [
    ("next",),
    ("config", "task_step"),
    ("config", "then"),
    ("config", "else"),
    ("config", "status"),
    ("config", "field"),
    ("phase_id",),
    ("id",),
    ("type",),
    ("config", "on_timeout"),
]
_NAMES = st.sampled_from(
    [
        *_IDS,
        "end",
        "intake",
        "review",
        "decision",
        "approved",
        "rejected",
        "in_review",
        "steps.review.outcome",
        "steps.approval.outcome",
        "contact.email",
        "execution.status",
        {"action": "go_to", "step": "assign_review"},
        {"action": "go_to", "step": "decide"},
        {"action": "continue"},
    ]
)


def _rewire(doc: dict[str, Any], data: st.DataObject) -> None:
    """Point a reference of a step somewhere else: the graph rules' ground (loops, joins, order)."""
    steps = [s for s in doc.get("steps", []) if isinstance(s, dict)] if isinstance(doc.get("steps"), list) else []
    if not steps:
        return
    chosen = data.draw(st.sampled_from(steps))
    config = chosen.get("config") if isinstance(chosen.get("config"), dict) else {}
    present = [loc for loc in _REWIRABLE if loc == ("next",) or (chosen if len(loc) == 1 else config).get(loc[-1])]
    *parents, last = data.draw(st.sampled_from(present))
    (config if parents else chosen)[last] = copy.deepcopy(data.draw(_NAMES))


def _parent_exists(doc: Any, path: str) -> bool:
    """The error points into the document: everything but its last segment is there."""
    segments = []
    for name, index, quoted in _SEGMENT.findall(path):
        segments.append(name or (int(index) if index else json.loads(quoted)))
    node = doc
    for segment in segments[:-1]:
        try:
            node = node[segment]
        except (KeyError, IndexError, TypeError):
            return False
    return True


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_mutations_validate_or_produce_well_formed_errors(data):
    doc = applicant()
    for _ in range(data.draw(st.integers(1, 4))):
        data.draw(st.sampled_from([_mutate, _rewire, _rewire]))(doc, data)
    errors = validate_definition(doc)
    for error in errors:
        assert PATH.fullmatch(error.path), error
        assert _parent_exists(doc, error.path), error
        assert error.message.strip(), error
    if errors:
        with pytest.raises(ValidationError):
            Definition.model_validate(doc)
    else:
        assert json.loads(Definition.model_validate(doc).model_dump_json())


@settings(max_examples=100, deadline=None)
@given(_JSON | st.dictionaries(st.sampled_from(["language_version", "name", "phases", "steps", "statuses"]), _JSON))
def test_any_json_at_all_gets_errors_not_an_exception(data):
    errors = validate_definition(data)
    assert errors and all(PATH.fullmatch(e.path) for e in errors)
