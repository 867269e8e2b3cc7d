"""Kafka subscribers: parse the event into a command, call the handler.

- `identity.organization.created|updated` (the gateway): the org's default definition, once.
- `contact.*` (contacts): the contact summaries a case list shows; a `contact.upserted` naming a
  Formstack submission is also the contacts half of its intake; a `contact.merged` re-points the
  merged contact's cases to the survivor (handlers/intake.py).
- `submission.received` (ingest): the ingest half of an intake. The case opens when both halves
  are in, whichever comes first (handlers/intake.py, ADR 7).
- `workflow.step_entered`, `execution.status_changed`, `workflow.completed|failed|cancelled`
  (the worker): where a case stands. A status change for an unknown case, or a status its
  definition version lacks, is refused and so dead-lettered.
- every event type of every topic (`register_activity`): one `activity_log` row per envelope id;
  `task.*` also feeds `task_summaries` (notes on tasks, my tasks).

They go through `byte_platform.consumers.subscribe` (offsets committed after success, poison and
refusals dead-lettered, transient failures retried); the handlers claim the envelope id in the
inbox in the same transaction as their effect.
"""

from __future__ import annotations

from byte_contracts import Envelope, payload_model, topics
from byte_contracts.contacts import ContactDeleted, ContactMerged, ContactSnapshot, ContactUpserted
from byte_contracts.ingest import SubmissionReceived
from byte_contracts.registry import EVENTS
from byte_contracts.tasks import TaskDeleted
from byte_contracts.workflow import (
    ExecutionStatusChanged,
    StepEntered,
    WorkflowCancelled,
    WorkflowCompleted,
    WorkflowFailed,
)
from byte_platform.consumers import subscribe
from byte_platform.context import Context
from faststream.kafka import KafkaBroker

from byte_executions.commands import (
    ApplyContactMerge,
    ApplyStatusChange,
    EndCase,
    ForgetContact,
    ForgetTask,
    ProvisionOrg,
    RecordApplicant,
    RecordContact,
    RecordStepEntered,
    RecordSubmission,
    RecordTask,
)
from byte_executions.domain import RunState
from byte_executions.handlers import CaseHandlers, IntakeHandlers, ProjectionHandlers, Provisioning
from byte_executions.handlers.activity import ActivityHandlers, TaskProjection
from byte_executions.handlers.definitions import SERVICE

SYSTEM_ACTOR = f"system:{SERVICE}"
# An update names an org too: one created before this service ran is provisioned then.
ORGANIZATION_TYPES = frozenset({"identity.organization.created", "identity.organization.updated"})
CONTACT_SNAPSHOTS = frozenset({"contact.created", "contact.updated", "contact.upserted", "contact.merged"})
CONTACT_TYPES = CONTACT_SNAPSHOTS | {"contact.deleted"}
INTAKE_TYPES = frozenset({"submission.received"})
WORKFLOW_TYPES = frozenset(
    {"workflow.step_entered", "execution.status_changed", "workflow.completed", "workflow.failed", "workflow.cancelled"}
)


def register(
    broker: KafkaBroker,
    provisioning: Provisioning,
    projections: ProjectionHandlers,
    cases: CaseHandlers,
    group: str,
    intake: IntakeHandlers | None = None,
) -> None:
    async def on_organization(envelope: Envelope) -> None:
        organization = payload_model(envelope.type).model_validate(envelope.data).organization  # type: ignore[attr-defined]
        await provisioning.provision(
            Context.of_event(envelope, actor=SYSTEM_ACTOR), ProvisionOrg(name=organization.name)
        )

    async def on_contact(envelope: Envelope) -> None:
        ctx = Context.of_event(envelope, actor=SYSTEM_ACTOR)
        if envelope.type == "contact.deleted":
            deleted = ContactDeleted.model_validate(envelope.data)
            await projections.forget_contact(ctx, ForgetContact(deleted.contact_id, envelope.occurred_at))
            return
        contact = ContactSnapshot.model_validate(envelope.data["contact"])
        await projections.record_contact(
            ctx,
            RecordContact(
                contact_id=contact.id,
                first_name=contact.first_name,
                last_name=contact.last_name,
                email=contact.email,
                phone=contact.phone,
                as_of=contact.updated_at,
                zip=contact.zip,
            ),
        )
        # after the summary: opening a case needs the contact known here
        if intake is not None and envelope.type == "contact.upserted":
            upserted = ContactUpserted.model_validate(envelope.data)
            if upserted.submission_id:
                await intake.applicant_upserted(ctx, RecordApplicant(upserted.submission_id, contact.id))
        # after the survivor's summary: a case re-pointed to it shows its name
        if intake is not None and envelope.type == "contact.merged":
            merged = ContactMerged.model_validate(envelope.data)
            await intake.contact_merged(
                ctx, ApplyContactMerge(merged.from_contact_id, merged.into_contact_id, merged.merged_at)
            )

    async def on_submission(envelope: Envelope) -> None:
        assert intake is not None
        received = SubmissionReceived.model_validate(envelope.data)
        await intake.submission_received(
            Context.of_event(envelope, actor=SYSTEM_ACTOR),
            RecordSubmission(received.submission_id, received.form_id, received.definition_id, received.variables),
        )

    async def on_workflow(envelope: Envelope) -> None:
        ctx = Context.of_event(envelope)
        if envelope.type == "workflow.step_entered":
            entered = StepEntered.model_validate(envelope.data)
            await cases.step_entered(
                ctx,
                RecordStepEntered(
                    execution_id=entered.execution_id,
                    step_id=entered.step_id,
                    phase_id=entered.phase_id,
                    entered_at=entered.entered_at,
                    waiting_for=entered.waiting_for,
                    temporal_run_id=entered.temporal_run_id,
                ),
            )
        elif envelope.type == "execution.status_changed":
            changed = ExecutionStatusChanged.model_validate(envelope.data)
            await cases.status_changed(
                ctx, ApplyStatusChange(changed.execution_id, changed.status, changed.request_id, changed.changed_at)
            )
        elif envelope.type == "workflow.completed":
            completed = WorkflowCompleted.model_validate(envelope.data)
            await cases.ended(
                ctx,
                EndCase(completed.execution_id, RunState.COMPLETED, completed.completed_at, completed.final_status),
            )
        elif envelope.type == "workflow.failed":
            failed = WorkflowFailed.model_validate(envelope.data)
            await cases.ended(
                ctx, EndCase(failed.execution_id, RunState.FAILED, failed.failed_at, failure=failed.error)
            )
        else:
            cancelled = WorkflowCancelled.model_validate(envelope.data)
            await cases.ended(ctx, EndCase(cancelled.execution_id, RunState.CANCELLED, cancelled.cancelled_at))

    subscribe(broker, topics.IDENTITY, group_id=f"{group}.identity", handler=on_organization, types=ORGANIZATION_TYPES)
    subscribe(broker, topics.CONTACTS, group_id=f"{group}.contacts", handler=on_contact, types=CONTACT_TYPES)
    subscribe(broker, topics.WORKFLOW, group_id=f"{group}.workflow", handler=on_workflow, types=WORKFLOW_TYPES)
    if intake is not None:
        subscribe(broker, topics.INGEST, group_id=f"{group}.intake", handler=on_submission, types=INTAKE_TYPES)


# --- the audit trail and the task projection ---------------------------------------------------
# `activity.<topic>`: every registered event type of every topic, one trail row per envelope id.
# `task-summaries`: `task.*`, what notes on tasks and the caller's dashboard read.
ACTIVITY_TOPICS = topics.ALL


def types_on(topic: str) -> frozenset[str]:
    return frozenset(t for t, spec in EVENTS.items() if spec.topic == topic)


def register_activity(broker: KafkaBroker, activity: ActivityHandlers, tasks: TaskProjection, group: str) -> None:
    async def on_any(envelope: Envelope) -> None:
        await activity.record(Context.of_event(envelope), envelope)

    async def on_task(envelope: Envelope) -> None:
        ctx = Context.of_event(envelope, actor=SYSTEM_ACTOR)
        event = payload_model(envelope.type).model_validate(envelope.data)
        if isinstance(event, TaskDeleted):
            await tasks.forget_task(ctx, ForgetTask(event.task_id, event.workflow_execution_id))
            return
        task = event.task  # type: ignore[attr-defined]
        await tasks.record_task(
            ctx,
            RecordTask(
                task_id=task.id,
                execution_id=task.workflow_execution_id,
                contact_id=task.contact_id,
                title=task.title,
                status=task.status.value,
                assigned_to=task.assigned_to,
                assigned_role=task.assigned_role,
                due_date=task.due_date,
                priority=task.priority.value,
                step_id=task.created_by_step_id,
                created_at=task.created_at,
                as_of=task.updated_at,
            ),
        )

    for topic in ACTIVITY_TOPICS:
        subscribe(broker, topic, group_id=f"{group}.activity.{topic}", handler=on_any, types=types_on(topic))
    subscribe(broker, topics.TASKS, group_id=f"{group}.task-summaries", handler=on_task, types=types_on(topics.TASKS))
