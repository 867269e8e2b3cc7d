"""Kafka subscribers: parse the event into a command, call the handler.

- `workflow.task_requested` (the worker): a step's task.
- `workflow.task_update_requested` (the worker): an `update_task` step or an escalation.
- `identity.*` (the gateway): the members projection; a removed member's tasks go back to the pool.
- `contact.merged` (contacts): the merged contact's tasks name the survivor.

Both go through `byte_platform.consumers.subscribe` (offsets committed after success, poison
dead-lettered, transient failures retried); the handlers claim the envelope id in the inbox in
the same transaction as their effect.
"""

from __future__ import annotations

from byte_contracts import Envelope, payload_model, topics
from byte_contracts.contacts import ContactMerged
from byte_contracts.identity import Member
from byte_contracts.workflow import TaskRequested, TaskUpdateRequested
from byte_platform.consumers import subscribe
from byte_platform.context import Context
from faststream.kafka import KafkaBroker

from byte_tasks.commands import ApplyContactMerge, CreateRequestedTask, RecordMember, RemoveMember, UpdateRequestedTask
from byte_tasks.handlers import SYSTEM_ACTOR, TaskHandlers

WORKFLOW_TYPES = frozenset({"workflow.task_requested", "workflow.task_update_requested"})
MEMBERSHIP_UPSERTS = frozenset({"identity.membership.created", "identity.membership.updated", "identity.user.updated"})
MEMBERSHIP_REMOVALS = frozenset({"identity.membership.deleted", "identity.user.deleted"})
IDENTITY_TYPES = MEMBERSHIP_UPSERTS | MEMBERSHIP_REMOVALS
CONTACT_TYPES = frozenset({"contact.merged"})


def register(broker: KafkaBroker, handlers: TaskHandlers, group: str) -> None:
    async def on_workflow(envelope: Envelope) -> None:
        if envelope.type == "workflow.task_update_requested":
            update = TaskUpdateRequested.model_validate(envelope.data)
            await handlers.update_requested(
                Context.of_event(envelope), UpdateRequestedTask(request=update, requested_at=envelope.occurred_at)
            )
            return
        request = TaskRequested.model_validate(envelope.data)
        await handlers.create_requested(
            Context.of_event(envelope), CreateRequestedTask(request=request, requested_at=envelope.occurred_at)
        )

    async def on_identity(envelope: Envelope) -> None:
        data = payload_model(envelope.type).model_validate(envelope.data)
        ctx = Context.of_event(envelope, actor=SYSTEM_ACTOR)
        if envelope.type in MEMBERSHIP_UPSERTS:
            member: Member = data.member  # type: ignore[attr-defined]
            await handlers.record_member(
                ctx,
                RecordMember(
                    user_id=member.user_id,
                    roles=member.roles,
                    email=member.email,
                    first_name=member.first_name,
                    last_name=member.last_name,
                    as_of=envelope.occurred_at,
                ),
            )
        else:
            await handlers.remove_member(
                ctx,
                RemoveMember(
                    user_id=data.user_id,  # type: ignore[attr-defined]
                    as_of=envelope.occurred_at,
                ),
            )

    async def on_contact(envelope: Envelope) -> None:
        merged = ContactMerged.model_validate(envelope.data)
        await handlers.contact_merged(
            Context.of_event(envelope, actor=SYSTEM_ACTOR),
            ApplyContactMerge(merged.from_contact_id, merged.into_contact_id),
        )

    subscribe(broker, topics.WORKFLOW, group_id=f"{group}.workflow", handler=on_workflow, types=WORKFLOW_TYPES)
    subscribe(broker, topics.IDENTITY, group_id=f"{group}.identity", handler=on_identity, types=IDENTITY_TYPES)
    subscribe(broker, topics.CONTACTS, group_id=f"{group}.contacts", handler=on_contact, types=CONTACT_TYPES)
