"""Every event type: its topic and payload model. Adding a type is adding a line here."""

from __future__ import annotations

import builtins
from dataclasses import dataclass

from pydantic import BaseModel

from byte_contracts import contacts, identity, ingest, notes, topics, workflow
from byte_contracts import executions as execution_events
from byte_contracts import tasks as task_events


@dataclass(frozen=True)
class EventSpec:
    type: str
    topic: str
    payload: builtins.type[BaseModel]


EVENTS: dict[str, EventSpec] = {
    spec.type: spec
    for spec in (
        EventSpec("contact.created", topics.CONTACTS, contacts.ContactCreated),
        EventSpec("contact.updated", topics.CONTACTS, contacts.ContactUpdated),
        EventSpec("contact.deleted", topics.CONTACTS, contacts.ContactDeleted),
        EventSpec("contact.upserted", topics.CONTACTS, contacts.ContactUpserted),
        EventSpec("contact.merged", topics.CONTACTS, contacts.ContactMerged),
        EventSpec("identity.membership.created", topics.IDENTITY, identity.MembershipCreated),
        EventSpec("identity.membership.updated", topics.IDENTITY, identity.MembershipUpdated),
        EventSpec("identity.membership.deleted", topics.IDENTITY, identity.MembershipDeleted),
        EventSpec("identity.user.updated", topics.IDENTITY, identity.UserUpdated),
        EventSpec("identity.user.deleted", topics.IDENTITY, identity.UserDeleted),
        EventSpec("identity.organization.created", topics.IDENTITY, identity.OrganizationCreated),
        EventSpec("identity.organization.updated", topics.IDENTITY, identity.OrganizationUpdated),
        EventSpec("identity.organization.deleted", topics.IDENTITY, identity.OrganizationDeleted),
        EventSpec("task.created", topics.TASKS, task_events.TaskCreated),
        EventSpec("task.updated", topics.TASKS, task_events.TaskUpdated),
        EventSpec("task.claimed", topics.TASKS, task_events.TaskClaimed),
        EventSpec("task.unclaimed", topics.TASKS, task_events.TaskUnclaimed),
        EventSpec("task.status_changed", topics.TASKS, task_events.TaskStatusChanged),
        EventSpec("task.completed", topics.TASKS, task_events.TaskCompleted),
        EventSpec("task.deleted", topics.TASKS, task_events.TaskDeleted),
        EventSpec("definition.created", topics.EXECUTIONS, execution_events.DefinitionCreated),
        EventSpec("definition.versioned", topics.EXECUTIONS, execution_events.DefinitionVersioned),
        EventSpec("definition.deactivated", topics.EXECUTIONS, execution_events.DefinitionDeactivated),
        EventSpec("definition.reactivated", topics.EXECUTIONS, execution_events.DefinitionReactivated),
        EventSpec("execution.created", topics.EXECUTIONS, execution_events.ExecutionCreated),
        EventSpec("execution.updated", topics.EXECUTIONS, execution_events.ExecutionUpdated),
        EventSpec(
            "execution.status_change_requested", topics.EXECUTIONS, execution_events.ExecutionStatusChangeRequested
        ),
        EventSpec("execution.cancel_requested", topics.EXECUTIONS, execution_events.ExecutionCancelRequested),
        EventSpec("execution.deleted", topics.EXECUTIONS, execution_events.ExecutionDeleted),
        EventSpec("workflow.task_requested", topics.WORKFLOW, workflow.TaskRequested),
        EventSpec("workflow.task_update_requested", topics.WORKFLOW, workflow.TaskUpdateRequested),
        EventSpec("contact.update_requested", topics.WORKFLOW, workflow.ContactUpdateRequested),
        EventSpec("workflow.step_entered", topics.WORKFLOW, workflow.StepEntered),
        EventSpec("execution.status_changed", topics.WORKFLOW, workflow.ExecutionStatusChanged),
        EventSpec("workflow.completed", topics.WORKFLOW, workflow.WorkflowCompleted),
        EventSpec("workflow.failed", topics.WORKFLOW, workflow.WorkflowFailed),
        EventSpec("workflow.cancelled", topics.WORKFLOW, workflow.WorkflowCancelled),
        EventSpec("submission.received", topics.INGEST, ingest.SubmissionReceived),
        EventSpec("note.created", topics.EXECUTIONS, notes.NoteCreated),
        EventSpec("note.updated", topics.EXECUTIONS, notes.NoteUpdated),
        EventSpec("note.deleted", topics.EXECUTIONS, notes.NoteDeleted),
    )
}


def _spec(event_type: str) -> EventSpec:
    try:
        return EVENTS[event_type]
    except KeyError:
        raise KeyError(f"unknown event type {event_type!r}") from None


def payload_model(event_type: str) -> type[BaseModel]:
    return _spec(event_type).payload


def topic_for(event_type: str) -> str:
    return _spec(event_type).topic
