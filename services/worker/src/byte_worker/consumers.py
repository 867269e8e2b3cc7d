"""Kafka subscribers: each event becomes a command on a case's workflow (`case-<execution id>`).

- `execution.created` (executions): start the case's workflow on the frozen definition, with
  the contact and org name the executions service knew; a second start is a no-op.
- `execution.status_change_requested` / `execution.cancel_requested` (executions): the
  `change_status` / `cancel` signals.
- `task.completed` / `task.deleted` (tasks) of a task a case asked for (`workflow_execution_id`
  set): the `task_completed` or `approval_submitted` (by task type) / `task_deleted` signals.
  A standalone task's events signal nothing.

Every signal carries the relayed event's envelope id, which the workflow remembers, so a
redelivery changes nothing. See handlers.py for which failures are retried.
"""

from __future__ import annotations

from byte_contracts import Envelope, topics
from byte_contracts.enums import TaskType
from byte_contracts.executions import ExecutionCancelRequested, ExecutionCreated, ExecutionStatusChangeRequested
from byte_contracts.tasks import TaskCompleted, TaskDeleted
from byte_platform.consumers import subscribe
from byte_platform.context import Context
from faststream.kafka import KafkaBroker

from byte_worker.commands import SignalCase, StartCase
from byte_worker.handlers import CaseHandlers
from byte_worker.messages import (
    APPROVAL_SUBMITTED,
    CANCEL,
    CHANGE_STATUS,
    TASK_COMPLETED,
    TASK_DELETED,
    CancelSignal,
    CaseInput,
    ChangeStatusSignal,
    TaskCompletedSignal,
    TaskDeletedSignal,
)

EXECUTION_TYPES = frozenset({"execution.created", "execution.status_change_requested", "execution.cancel_requested"})
TASK_TYPES = frozenset({"task.completed", "task.deleted"})


def case_input(envelope: Envelope, created: ExecutionCreated) -> CaseInput:
    execution = created.execution
    contact = (
        created.contact.model_dump(mode="json") if created.contact is not None else {"id": str(execution.contact_id)}
    )
    return CaseInput(
        org_id=envelope.org_id,
        org_name=created.org_name,
        execution_id=execution.id,
        definition_id=execution.definition_id,
        definition_version=execution.definition_version,
        definition=created.definition,
        contact=contact,
        variables=execution.variables,
        status=execution.status,
        started_by=execution.created_by,
        correlation_id=envelope.correlation_id,
    )


def register(broker: KafkaBroker, handlers: CaseHandlers, group: str, orgs: frozenset[str] = frozenset()) -> None:
    """`orgs`: only these orgs' events (empty: every org's)."""

    def ours(envelope: Envelope) -> bool:
        return not orgs or envelope.org_id in orgs

    async def on_execution(envelope: Envelope) -> None:
        if not ours(envelope):
            return
        ctx = Context.of_event(envelope)
        event_id = str(envelope.id)
        if envelope.type == "execution.created":
            created = ExecutionCreated.model_validate(envelope.data)
            await handlers.start(ctx, StartCase(case=case_input(envelope, created)))
        elif envelope.type == "execution.status_change_requested":
            change = ExecutionStatusChangeRequested.model_validate(envelope.data)
            signal = ChangeStatusSignal(
                event_id=event_id,
                request_id=change.request_id,
                status=change.status,
                reason=change.reason,
                actor=envelope.actor,
            )
            await handlers.signal(ctx, SignalCase(change.execution_id, CHANGE_STATUS, signal, envelope.occurred_at))
        else:
            cancel = ExecutionCancelRequested.model_validate(envelope.data)
            signal_ = CancelSignal(
                event_id=event_id, request_id=cancel.request_id, reason=cancel.reason, actor=envelope.actor
            )
            await handlers.signal(ctx, SignalCase(cancel.execution_id, CANCEL, signal_, envelope.occurred_at))

    async def on_task(envelope: Envelope) -> None:
        if not ours(envelope):
            return
        ctx = Context.of_event(envelope)
        if envelope.type == "task.completed":
            completed = TaskCompleted.model_validate(envelope.data)
            if completed.workflow_execution_id is None:
                return
            name = APPROVAL_SUBMITTED if completed.task.task_type == TaskType.APPROVAL else TASK_COMPLETED
            signal = TaskCompletedSignal(
                event_id=str(envelope.id),
                task_id=completed.task.id,
                step_id=completed.created_by_step_id,
                iteration=completed.iteration,
                outcome=completed.outcome.value,
                comment=completed.comment,
                completed_by=completed.completed_by,
                completed_at=completed.task.completed_at,
            )
            await handlers.signal(ctx, SignalCase(completed.workflow_execution_id, name, signal, envelope.occurred_at))
        else:
            deleted = TaskDeleted.model_validate(envelope.data)
            if deleted.workflow_execution_id is None:
                return
            signal_ = TaskDeletedSignal(
                event_id=str(envelope.id),
                task_id=deleted.task_id,
                step_id=deleted.created_by_step_id,
                iteration=deleted.iteration,
            )
            await handlers.signal(
                ctx, SignalCase(deleted.workflow_execution_id, TASK_DELETED, signal_, envelope.occurred_at)
            )

    subscribe(broker, topics.EXECUTIONS, group_id=f"{group}.executions", handler=on_execution, types=EXECUTION_TYPES)
    subscribe(broker, topics.TASKS, group_id=f"{group}.tasks", handler=on_task, types=TASK_TYPES)
