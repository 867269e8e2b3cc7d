"""Applicant Review: the definition every new org starts with (see docs/definitions.md)."""

from __future__ import annotations

from typing import Any

from byte_contracts.definitions.models import END, LANGUAGE_VERSION
from byte_contracts.definitions.validation import Definition
from byte_contracts.enums import DEFAULT_EXECUTION_STATUSES

REVIEWER_ROLE = "reviewer"
MANAGER_ROLE = "manager"

_WELCOME = """Hi {{ contact.first_name | default("there") }},

Good news: your application to {{ org.name }} has been approved. Welcome aboard!
We will be in touch shortly with your next steps.

The {{ org.name }} team"""

_REJECTION = """Hi {{ contact.first_name | default("there") }},

Thank you for applying to {{ org.name }}. After careful review we will not be moving forward
with your application at this time. We appreciate your interest and wish you the best.

The {{ org.name }} team"""


def _step(id: str, type: str, name: str, phase_id: str, config: dict[str, Any], **more: Any) -> dict[str, Any]:
    return {"id": id, "type": type, "name": name, "phase_id": phase_id, "config": config, **more}


def applicant_review_document() -> dict[str, Any]:
    """The Applicant Review definition as the JSON document an org stores."""
    # an applicant may come with a name and no email, or the reverse (ingest needs one of them):
    # a task's text must not fail the case for the other
    applicant = '{{ contact.first_name | default("") }} {{ contact.last_name | default("(no name given)") }}'
    email = '{{ contact.email | default("no email given") }}'
    return {
        "language_version": LANGUAGE_VERSION,
        "name": "Applicant Review",
        "description": "Review an application, have a manager approve or reject it, tell the applicant.",
        "phases": [
            {"id": "intake", "name": "Intake"},
            {"id": "review", "name": "Review"},
            {"id": "decision", "name": "Decision"},
        ],
        "steps": [
            _step("start", "trigger", "Application received", "intake", {"sources": ["form_submission", "manual"]}),
            _step(
                "assign_review",
                "assign_task",
                "Assign the review",
                "review",
                {
                    "title": "Review Application",
                    "description": f"Review the application of {applicant} ({email}).",
                    "assigned_role": REVIEWER_ROLE,
                    "task_type": "standard",
                    "priority": "medium",
                    "due_in": {"days": 3},
                },
            ),
            _step(
                "review",
                "wait_for_task",
                "Wait for the review",
                "review",
                {
                    "task_step": "assign_review",
                    "timeout": {"days": 3},
                    "on_timeout": {"action": "escalate", "reassign_to_role": MANAGER_ROLE, "raise_priority_to": "high"},
                },
            ),
            _step("mark_in_review", "update_status", "Mark in review", "review", {"status": "in_review"}),
            _step(
                "assign_approval",
                "assign_task",
                "Ask a manager to decide",
                "decision",
                {
                    "title": "Manager Approval",
                    "description": (
                        f"Approve or reject the application of {applicant}.\n"
                        'Reviewer\'s notes: {{ steps.review.comment | default("none") }}'
                    ),
                    "assigned_role": MANAGER_ROLE,
                    "task_type": "approval",
                    "priority": "medium",
                },
            ),
            _step(
                "approval",
                "wait_for_approval",
                "Wait for the decision",
                "decision",
                {
                    "task_step": "assign_approval",
                    "comment_required_on_reject": True,
                },
            ),
            _step(
                "decide",
                "condition",
                "Approved?",
                "decision",
                {
                    "field": "steps.approval.outcome",
                    "operator": "eq",
                    "value": "approved",
                    "then": "mark_approved",
                    "else": "mark_rejected",
                },
            ),
            _step("mark_approved", "update_status", "Mark approved", "decision", {"status": "approved"}),
            _step(
                "welcome_email",
                "send_email",
                "Send the welcome email",
                "decision",
                {
                    "to": "{{ contact.email }}",
                    "subject": "Welcome to {{ org.name }}, {{ contact.first_name }}!",
                    "body": _WELCOME,
                },
                next=END,
            ),
            _step("mark_rejected", "update_status", "Mark rejected", "decision", {"status": "rejected"}),
            _step(
                "rejection_email",
                "send_email",
                "Send the rejection email",
                "decision",
                {
                    "to": "{{ contact.email }}",
                    "subject": "Your application to {{ org.name }}",
                    "body": _REJECTION,
                },
            ),
        ],
        "variables": [],
        "statuses": [dict(status) for status in DEFAULT_EXECUTION_STATUSES],
    }


def applicant_review() -> Definition:
    return Definition.model_validate(applicant_review_document())
