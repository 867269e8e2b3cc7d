"""The audit trail and the task projection, fed by every service's events.

An event is recorded once: the envelope id is the row's key, so a redelivery (or a rebuild over
rows already there) inserts nothing. Links an event does not name are resolved from what this
service keeps (the task projection, the cases) and else from the trail's own earlier rows,
which a rebuild replays first (same key, same partition), so a rebuild resolves them alike.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace

import sqlalchemy as sa
from byte_contracts import Envelope
from byte_platform.context import Context
from byte_platform.unit_of_work import UnitOfWork
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from byte_executions.activity import Entry, actor_type, entry_of
from byte_executions.commands import ForgetTask, RecordTask
from byte_executions.models import activity_log, task_summaries, workflow_executions


async def _earlier(session: AsyncSession, key: sa.ColumnElement, value: uuid.UUID, wanted: sa.Column):
    return await session.scalar(
        sa.select(wanted).where(key == value, wanted.isnot(None)).order_by(activity_log.c.occurred_at).limit(1)
    )


async def resolve(session: AsyncSession, entry: Entry) -> Entry:
    if entry.task_id and not (entry.execution_id and entry.contact_id):
        known = (
            await session.execute(
                sa.select(task_summaries.c.execution_id, task_summaries.c.contact_id).where(
                    task_summaries.c.task_id == entry.task_id
                )
            )
        ).one_or_none()
        entry = replace(
            entry,
            execution_id=entry.execution_id
            or (known and known.execution_id)
            or await _earlier(session, activity_log.c.task_id, entry.task_id, activity_log.c.execution_id),
            contact_id=entry.contact_id
            or (known and known.contact_id)
            or await _earlier(session, activity_log.c.task_id, entry.task_id, activity_log.c.contact_id),
        )
    if entry.execution_id and not entry.contact_id:
        entry = replace(
            entry,
            contact_id=await session.scalar(
                sa.select(workflow_executions.c.contact_id).where(workflow_executions.c.id == entry.execution_id)
            )
            or await _earlier(session, activity_log.c.execution_id, entry.execution_id, activity_log.c.contact_id),
        )
    return entry


@dataclass
class ActivityHandlers:
    uow: UnitOfWork

    async def record(self, ctx: Context, envelope: Envelope) -> bool:
        """Appends `envelope` to its org's trail; False when it was there already."""
        entry = entry_of(envelope)
        async with self.uow.begin(ctx) as work:
            entry = await resolve(work.session, entry)
            inserted = await work.session.scalar(
                insert(activity_log)
                .values(
                    id=envelope.id,
                    org_id=envelope.org_id,
                    occurred_at=envelope.occurred_at,
                    actor=envelope.actor,
                    actor_type=actor_type(envelope.actor),
                    action=envelope.type,
                    entity_type=entry.entity_type,
                    entity_id=entry.entity_id,
                    execution_id=entry.execution_id,
                    contact_id=entry.contact_id,
                    task_id=entry.task_id,
                    submission_id=entry.submission_id,
                    details=entry.details,
                    correlation_id=envelope.correlation_id,
                )
                .on_conflict_do_nothing(index_elements=[activity_log.c.id])
                .returning(activity_log.c.id)
            )
            return inserted is not None


@dataclass
class TaskProjection:
    uow: UnitOfWork

    async def record_task(self, ctx: Context, cmd: RecordTask) -> None:
        """Keeps the newest snapshot by its `updated_at`, whatever order events arrive in; a
        deletion stays."""
        values = {
            "execution_id": cmd.execution_id,
            "contact_id": cmd.contact_id,
            "title": cmd.title,
            "status": cmd.status,
            "assigned_to": cmd.assigned_to,
            "assigned_role": cmd.assigned_role,
            "due_date": cmd.due_date,
            "priority": cmd.priority,
            "step_id": cmd.step_id,
            "created_at": cmd.created_at,
            "updated_at": cmd.as_of,
            "as_of": cmd.as_of,
        }
        async with self.uow.begin(ctx) as work:
            stmt = insert(task_summaries).values(org_id=ctx.org_id, task_id=cmd.task_id, **values)
            await work.session.execute(
                stmt.on_conflict_do_update(
                    index_elements=[task_summaries.c.org_id, task_summaries.c.task_id],
                    set_={name: stmt.excluded[name] for name in values},
                    where=sa.or_(task_summaries.c.as_of.is_(None), task_summaries.c.as_of < stmt.excluded.as_of),
                )
            )

    async def forget_task(self, ctx: Context, cmd: ForgetTask) -> None:
        async with self.uow.begin(ctx) as work:
            stmt = insert(task_summaries).values(
                org_id=ctx.org_id, task_id=cmd.task_id, execution_id=cmd.execution_id, deleted=True
            )
            await work.session.execute(
                stmt.on_conflict_do_update(
                    index_elements=[task_summaries.c.org_id, task_summaries.c.task_id], set_={"deleted": True}
                )
            )
