"""The tasks subscribers' wiring on FastStream's in-memory broker: which event reaches which
handler as which command and Context, and what is dead-lettered. What the handlers then do
(one task per step, the members projection) is proven on the real broker in test_consumers.py."""

import uuid
from datetime import UTC, datetime

import pytest
from byte_contracts import Envelope, new_event, topic_for, topics
from byte_contracts.identity import (
    Member,
    MembershipCreated,
    MembershipDeleted,
    MembershipUpdated,
    Organization,
    OrganizationCreated,
    UserDeleted,
    UserUpdated,
)
from byte_contracts.workflow import TaskRequested
from byte_platform.broker import make_broker
from byte_tasks import consumers
from byte_tasks.commands import CreateRequestedTask, RecordMember, RemoveMember
from byte_testing.subscribers import RecordedHandlers, dead_letters
from faststream.kafka import TestKafkaBroker

AT = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def wiring():
    """(broker, handlers, dead letters by topic): the service's own subscribers on a broker
    that never connects."""
    broker = make_broker("127.0.0.1:9", client_id="tasks-test")
    handlers = RecordedHandlers()
    consumers.register(broker, handlers, "tasks")
    return broker, handlers, {t: dead_letters(broker, t) for t in (topics.WORKFLOW, topics.IDENTITY)}


async def deliver(broker, *envelopes: Envelope) -> None:
    async with TestKafkaBroker(broker) as test_broker:
        for e in envelopes:
            await test_broker.publish(e.to_bytes(), topic=topic_for(e.type), key=e.subject.encode())


def event(event_type: str, org_id: str, subject: str, data, actor: str = "system:gateway") -> Envelope:
    return new_event(
        event_type,
        org_id=org_id,
        subject=subject,
        actor=actor,
        data=data,
        occurred_at=AT,
        correlation_id=f"corr-{uuid.uuid4().hex[:6]}",
    )


async def test_a_task_request_becomes_a_create_requested_command(wiring, org_id):
    broker, handlers, parked = wiring
    execution = uuid.uuid4()
    request = TaskRequested(
        execution_id=execution, step_id="review", title="Review", assigned_role="reviewer", due_in_seconds=3600
    )
    asked = event("workflow.task_requested", org_id, str(execution), request, actor="system:worker")
    await deliver(broker, asked)

    [call] = handlers.calls
    assert (call.handler, call.command) == ("create_requested", CreateRequestedTask(request=request, requested_at=AT))
    assert (call.ctx.org_id, call.ctx.actor, call.ctx.is_system) == (org_id, "system:worker", True)
    assert call.ctx.causation_id == str(asked.id) and call.ctx.correlation_id == asked.correlation_id
    assert call.correlation_id == asked.correlation_id
    assert parked == {topics.WORKFLOW: [], topics.IDENTITY: []}


async def test_identity_events_keep_the_members_projection(wiring, org_id):
    broker, handlers, _ = wiring
    dana = Member(
        user_id="user_dana",
        org_id=org_id,
        roles=["reviewer"],
        email="dana@example.com",
        first_name="Dana",
        last_name="Diaz",
    )
    events = [
        event("identity.membership.created", org_id, "user_dana", MembershipCreated(member=dana)),
        event("identity.membership.updated", org_id, "user_dana", MembershipUpdated(member=dana)),
        event("identity.user.updated", org_id, "user_dana", UserUpdated(member=dana)),
        event("identity.membership.deleted", org_id, "user_dana", MembershipDeleted(user_id="user_dana")),
        event("identity.user.deleted", org_id, "user_dana", UserDeleted(user_id="user_dana")),
    ]
    await deliver(broker, *events)

    recorded = RecordMember(
        user_id="user_dana", roles=["reviewer"], email="dana@example.com", first_name="Dana", last_name="Diaz", as_of=AT
    )
    removed = RemoveMember(user_id="user_dana", as_of=AT)
    assert [(c.handler, c.command) for c in handlers.calls] == [
        ("record_member", recorded),
        ("record_member", recorded),
        ("record_member", recorded),
        ("remove_member", removed),
        ("remove_member", removed),
    ]
    for call, cause in zip(handlers.calls, events, strict=True):
        # the projection is the service's own work, done in the event's org because of it
        assert (call.ctx.org_id, call.ctx.actor, call.ctx.causation_id) == (org_id, "system:tasks", str(cause.id))


async def test_invalid_payloads_are_dead_lettered_on_their_topic(wiring, org_id):
    broker, handlers, parked = wiring
    execution = str(uuid.uuid4())
    asked = event(
        "workflow.task_requested",
        org_id,
        execution,
        TaskRequested(execution_id=uuid.UUID(execution), step_id="s", title="t"),
    )
    no_step = asked.model_copy(update={"data": {"execution_id": execution, "title": "t"}})
    joined = event(
        "identity.membership.created", org_id, "u", MembershipCreated(member=Member(user_id="u", org_id=org_id))
    )
    no_member = joined.model_copy(update={"data": {"user_id": "u"}})
    await deliver(broker, no_step, no_member)

    assert handlers.calls == []
    [workflow_letter], [identity_letter] = parked[topics.WORKFLOW], parked[topics.IDENTITY]
    assert workflow_letter.body == no_step.to_bytes() and identity_letter.body == no_member.to_bytes()
    assert (workflow_letter.headers["dlq_reason"], workflow_letter.headers["dlq_group"]) == (
        "refused",
        "tasks.workflow",
    )
    assert (identity_letter.headers["dlq_reason"], identity_letter.headers["dlq_group"]) == (
        "refused",
        "tasks.identity",
    )
    assert "step_id" in workflow_letter.headers["dlq_error"] and "member" in identity_letter.headers["dlq_error"]


async def test_types_it_does_not_subscribe_to_are_ignored(wiring, org_id):
    broker, handlers, parked = wiring
    await deliver(
        broker,
        event(
            "identity.organization.created",
            org_id,
            org_id,
            OrganizationCreated(organization=Organization(org_id=org_id, name="Sheriff")),
        ),
    )
    assert handlers.calls == [] and parked == {topics.WORKFLOW: [], topics.IDENTITY: []}
