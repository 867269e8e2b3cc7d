"""What one domain event says for the audit trail: the entity it is about, what it concerns
(case, contact, task, submission) and what changed.

Pure: the payloads are the contract models (`byte_contracts.registry`); links an event does not
carry (a deleted task names no contact) are resolved by the handler from what it has seen.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from byte_contracts import Envelope, payload_model

SYSTEM_PREFIX = "system:"


@dataclass(frozen=True)
class Entry:
    entity_type: str
    entity_id: str
    execution_id: uuid.UUID | None = None
    contact_id: uuid.UUID | None = None
    task_id: uuid.UUID | None = None
    submission_id: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


def change(before: Any, after: Any) -> dict[str, Any]:
    return {"before": before, "after": after}


def _changed(snapshot: dict[str, Any], fields: list[str]) -> dict[str, Any]:
    """An edit's changed fields, with their values after it (the events carry no before)."""
    return {"changed": {name: snapshot.get(name) for name in fields}}


def actor_type(actor: str) -> str:
    return "system" if actor.startswith(SYSTEM_PREFIX) else "user"


def entry_of(envelope: Envelope) -> Entry:
    """The audit entry of `envelope`; a ValidationError when its payload is not its type's."""
    event = payload_model(envelope.type).model_validate(envelope.data)
    data = event.model_dump(mode="json")
    kind, _, what = envelope.type.partition(".")
    if envelope.type.startswith("identity."):
        return _identity(envelope, data)
    if kind == "contact" and what != "update_requested":
        return _contact(what, data, envelope)
    if kind == "task":
        return _task(what, data, event)
    if kind == "definition":
        definition = data.get("definition") or data
        details = {"key": definition["definition_key"], "version": definition["version"]}
        if what == "versioned":
            details["version"] = change(definition["version"] - 1, definition["version"])
        if what in ("deactivated", "reactivated"):
            details["is_active"] = change(what == "deactivated", what == "reactivated")
        return Entry("definition", str(definition.get("id") or definition["definition_id"]), details=details)
    if kind == "note":
        note = data["note"]
        on = {"on": {"type": note["entity_type"], "id": note["entity_id"]}}
        if what == "updated":
            on.update({name: change(data["previous"].get(name), note.get(name)) for name in data["changed_fields"]})
        return Entry(
            "note",
            note["id"],
            execution_id=event.note.execution_id,  # type: ignore[attr-defined]
            contact_id=event.note.contact_id,  # type: ignore[attr-defined]
            task_id=event.note.task_id,  # type: ignore[attr-defined]
            details=on,
        )
    if kind == "submission":
        return Entry(
            "submission",
            data["submission_id"],
            submission_id=data["submission_id"],
            details={"form_id": data["form_id"]},
        )
    return _case(envelope.type, data, event)


def _identity(envelope: Envelope, data: dict[str, Any]) -> Entry:
    noun = envelope.type.split(".")[1]
    if noun == "organization":
        organization = data.get("organization") or {}
        return Entry("organization", envelope.org_id, details={"name": organization.get("name")})
    member = data.get("member")
    user_id = member["user_id"] if member else data["user_id"]
    details = {"roles": member["roles"]} if member else {}
    return Entry("user" if noun == "user" else "membership", user_id, details=details)


def _contact(what: str, data: dict[str, Any], envelope: Envelope) -> Entry:
    if what == "deleted":
        return Entry("contact", data["contact_id"], contact_id=uuid.UUID(data["contact_id"]))
    contact = data["contact"]
    details: dict[str, Any] = {}
    if what == "updated":
        details = _changed(contact, data["changed_fields"])
    elif what == "upserted":
        details = {"created": data["created"]}
    return Entry(
        "contact",
        contact["id"],
        contact_id=uuid.UUID(contact["id"]),
        submission_id=data.get("submission_id"),
        details=details,
    )


def _task(what: str, data: dict[str, Any], event: Any) -> Entry:
    if what == "deleted":
        return Entry(
            "task",
            data["task_id"],
            execution_id=event.workflow_execution_id,
            task_id=event.task_id,
            details={"step_id": data["created_by_step_id"]} if data["created_by_step_id"] else {},
        )
    task = data["task"]
    details: dict[str, Any] = {"title": task["title"]}
    if what == "updated":
        details.update(_changed(task, data["changed_fields"]))
    elif what == "claimed":
        details["assigned_to"] = change(None, data["claimed_by"])
    elif what == "unclaimed":
        details.update(assigned_to=change(data["previous_assignee"], None), reason=data["reason"])
    elif what == "status_changed":
        details["status"] = change(data["previous_status"], task["status"])
    elif what == "completed":
        details.update(outcome=data["outcome"], comment=data["comment"], completed_by=data["completed_by"])
    return Entry(
        "task",
        task["id"],
        execution_id=event.task.workflow_execution_id,
        contact_id=event.task.contact_id,
        task_id=event.task.id,
        details=details,
    )


def _case(event_type: str, data: dict[str, Any], event: Any) -> Entry:
    """Events about a case: `execution.*` (this service), `workflow.*` and the workflow's
    requests (the worker)."""
    execution = data.get("execution")
    if execution:
        details: dict[str, Any] = {"status": execution["status"]}
        if event_type == "execution.updated":
            details = _changed(execution, data["changed_fields"])
        submission = execution["source_id"] if execution["source"] == "formstack" else None
        return Entry(
            "case",
            execution["id"],
            execution_id=event.execution.id,
            contact_id=event.execution.contact_id,
            submission_id=submission,
            details=details,
        )
    execution_id = event.execution_id
    contact_id = getattr(event, "contact_id", None)
    details = {}
    if event_type == "execution.status_change_requested":
        details = {"status": change(data["current_status"], data["status"]), "reason": data["reason"]}
    elif event_type == "execution.status_changed":
        details = {"status": change(data["previous_status"], data["status"]), "step_id": data["step_id"]}
    elif event_type == "execution.cancel_requested":
        details = {"reason": data["reason"]}
    elif event_type == "execution.deleted":
        details = {"workflow_cancelled": data["workflow_cancelled"]}
    elif event_type == "workflow.step_entered":
        details = {"step_id": data["step_id"], "phase_id": data["phase_id"], "waiting_for": data["waiting_for"]}
    elif event_type in ("workflow.task_requested", "workflow.task_update_requested"):
        details = {"step_id": data["step_id"], "title": data["title"]}
    elif event_type == "contact.update_requested":
        details = {"step_id": data["step_id"], "changed": data["fields"]}
    elif event_type == "workflow.completed":
        details = {"final_status": data["final_status"]}
    elif event_type == "workflow.failed":
        details = {"step_id": data["step_id"], "error": data["error"]}
    return Entry("case", str(execution_id), execution_id=execution_id, contact_id=contact_id, details=details)
