"""The workflow's pure rules, without Temporal: context, rendering, branching, requests."""

from __future__ import annotations

import uuid

import pytest
from byte_contracts.definitions import END, Definition, Email, applicant_review
from byte_contracts.enums import TaskPriority
from byte_worker import interpreter
from byte_worker.interpreter import StepFailed

from .conftest import completion, definition, deletion, step

EXECUTION = uuid.UUID("00000000-0000-4000-8000-000000000001")


def context(**contact: str | None) -> dict:
    return interpreter.case_context(
        execution_id=EXECUTION,
        status="in_review",
        contact={"id": "x", "first_name": "Ada", "city": "Springfield", "email": "ada@example.com", **contact},
        variables={"level": 3, "start": "2026-11-23", "tags": "vip, night"},
        steps={"review": {"outcome": "completed", "comment": None, "completed_by": "user_1"}},
        org_name="Lakeside",
    )


def test_the_context_is_exactly_the_documented_one():
    ctx = context()
    assert set(ctx) == {"contact", "execution", "steps", "org"}
    assert "id" not in ctx["contact"]  # contact.<field> reads CONTACT_FIELDS only
    assert ctx["contact"]["zip"] is None
    assert ctx["execution"] == {
        "id": str(EXECUTION),
        "status": "in_review",
        "variables": {"level": 3, "start": "2026-11-23", "tags": "vip, night"},
    }
    assert ctx["org"] == {"name": "Lakeside"}


def test_variables_take_the_definitions_defaults_under_what_the_case_was_given():
    d = Definition.model_validate(
        definition(
            step("x", "update_status", {"status": "approved"}),
            variables=[
                {"name": "a", "type": "number", "default": 1},
                {"name": "b", "type": "string", "default": "B"},
                {"name": "c", "type": "boolean"},
            ],
        )
    )
    assert interpreter.initial_variables(d, {"a": 5}) == {"a": 5, "b": "B"}


@pytest.mark.parametrize(
    ("field", "operator", "value", "holds"),
    [
        ("execution.variables.level", "eq", 3, True),
        ("execution.variables.level", "eq", 4, False),
        ("contact.city", "ne", "Paris", True),
        ("contact.city", "ne", "Springfield", False),
        ("contact.city", "in", ["Springfield", "Shelbyville"], True),
        ("contact.city", "in", ["Paris"], False),
        ("contact.city", "not_in", ["Paris"], True),
        ("contact.city", "not_in", ["Springfield"], False),
        ("contact.email", "exists", None, True),
        ("contact.phone", "exists", None, False),
        ("execution.variables.level", "gt", 2, True),
        ("execution.variables.level", "gt", 3, False),
        ("execution.variables.start", "lt", "2030-01-01", True),
        ("execution.variables.start", "lt", "2020-01-01", False),
        ("execution.variables.tags", "contains", "VIP", True),
        ("execution.variables.tags", "contains", "day", False),
        ("steps.review.outcome", "eq", "completed", True),
        ("execution.status", "eq", "approved", False),
    ],
)
def test_a_condition_branches_on_the_case(field, operator, value, holds):
    config = {"field": field, "operator": operator, "then": "yes", "else": "no"}
    if value is not None:
        config["value"] = value
    d = Definition.model_validate(
        definition(
            *_with_review(config),
            variables=[
                {"name": "level", "type": "number"},
                {"name": "start", "type": "date"},
                {"name": "tags", "type": "string"},
            ],
        )
    )
    condition = d.step("c")
    assert interpreter.branch(condition, context()) == ("yes" if holds else "no")


def _with_review(config: dict) -> list[dict]:
    # steps.review.* must come from a wait earlier on every path.
    return [
        step("review_task", "assign_task", {"title": "t", "assigned_role": "r"}),
        step("review", "wait_for_task", {"task_step": "review_task"}),
        step("c", "condition", config),
        step("yes", "update_status", {"status": "approved"}, next="end"),
        step("no", "update_status", {"status": "rejected"}),
    ]


def test_rendering_refuses_a_missing_value_unless_the_template_defaults_it():
    ctx = context(phone=None, company="")
    assert interpreter.render_required("Hi {{ contact.first_name }}", ctx, "t") == "Hi Ada"
    assert interpreter.render_required("{{ contact.phone | default('none') }}", ctx, "t") == "none"
    for template in ("Call {{ contact.phone }}", "{{ contact.company }}", "{{ execution.variables.nope }}"):
        with pytest.raises(StepFailed, match=r"^t: \{\{ .* \}\} has no value in this case$"):
            interpreter.render_required(template, ctx, "t")


def test_an_email_needs_a_recipient():
    ctx = context()
    email = Email(to="{{ contact.email }}; boss@example.com,", subject="s", body="Hello {{ org.name }}")
    assert interpreter.rendered_email(email, ctx, "e") == (
        ["ada@example.com", "boss@example.com"],
        "s",
        "Hello Lakeside",
    )
    with pytest.raises(StepFailed, match="no recipient"):
        interpreter.rendered_email(Email(to=" , ; ", subject="s", body="b"), ctx, "e")


def test_a_step_goes_to_its_next_the_following_step_or_the_end():
    d = applicant_review()
    assert interpreter.following(d, d.step("start")) == "assign_review"
    assert interpreter.following(d, d.step("welcome_email")) == END  # "next": "end"
    assert interpreter.following(d, d.step("rejection_email")) == END  # the last step


def test_a_task_request_says_when_its_approval_needs_a_reject_comment():
    d = applicant_review()
    ctx = context(last_name="Lovelace")
    ctx["steps"]["review"]["comment"] = "fine"
    approval = interpreter.task_request(d, d.step("assign_approval"), 2, ctx, execution_id=EXECUTION, contact_id=None)
    assert approval.metadata == {"comment_required_on_reject": True}
    assert approval.iteration == 2
    review = interpreter.task_request(
        d,
        d.step("assign_review"),
        1,
        ctx,
        execution_id=EXECUTION,
        contact_id=None,
        assigned_role="manager",
        priority=TaskPriority.HIGH,
    )
    assert review.metadata == {}
    assert (review.assigned_role, review.priority, review.due_in_seconds) == ("manager", "high", 3 * 86400)


def test_a_signal_is_about_the_latest_task_of_its_step():
    assert interpreter.is_for(completion("task", iteration=2), "task", 2)
    assert interpreter.is_for(completion("task", iteration=None), "task", 2)
    assert not interpreter.is_for(completion("task", iteration=1), "task", 2)
    assert not interpreter.is_for(completion("other", iteration=2), "task", 2)
    assert interpreter.is_for(deletion("task", iteration=None), "task", 1)


def test_message_ids_are_deterministic():
    assert interpreter.message_id(EXECUTION, "tell", 2) == f"<case-{EXECUTION}.tell.2@byte>"
    assert interpreter.message_id(EXECUTION, "wait", 1, "escalation") == f"<case-{EXECUTION}.wait.1.escalation@byte>"


def test_an_approval_that_takes_a_bare_reject_asks_for_no_comment():
    data = applicant_review().model_dump(mode="json", by_alias=True)
    data["steps"][5]["config"]["comment_required_on_reject"] = False
    d = Definition.model_validate(data)
    assert not interpreter.comment_required_on_reject(d, "assign_approval")
    request = interpreter.task_request(
        d, d.step("assign_approval"), 1, context(last_name="L"), execution_id=EXECUTION, contact_id=None
    )
    assert request.metadata == {}


def test_an_update_task_changes_only_what_it_gives():
    d = Definition.model_validate(
        definition(
            step("task", "assign_task", {"title": "t", "assigned_role": "r"}),
            step(
                "change",
                "update_task",
                {"task_step": "task", "description": "For {{ contact.first_name }}", "assigned_to": "user_9"},
            ),
        )
    )
    update = interpreter.task_update(d.step("change"), 3, context(), execution_id=EXECUTION)
    assert update.model_dump(exclude_none=True, mode="json") == {
        "execution_id": str(EXECUTION),
        "step_id": "task",
        "iteration": 3,
        "reason": "update_task",
        "description": "For Ada",
        "assigned_to": "user_9",
    }


def test_a_contact_update_clears_a_field_rendered_empty_and_needs_a_contact():
    d = Definition.model_validate(
        definition(step("fix", "update_contact", {"fields": {"company": "{{ contact.company | default('') }}"}}))
    )
    contact_id = uuid.uuid4()
    change = interpreter.contact_update(d.step("fix"), context(), execution_id=EXECUTION, contact_id=contact_id)
    assert change.fields == {"company": None}
    with pytest.raises(StepFailed, match="no contact id"):
        interpreter.contact_update(d.step("fix"), context(), execution_id=EXECUTION, contact_id=None)
