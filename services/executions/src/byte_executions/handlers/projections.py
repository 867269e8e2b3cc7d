"""Projections of other services' data this service reads without calling them: the contact
summaries a case list shows (from `contact.*`)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from byte_platform.context import Context
from byte_platform.unit_of_work import UnitOfWork, Work
from sqlalchemy.dialects.postgresql import insert

from byte_executions.commands import ForgetContact, RecordContact
from byte_executions.models import contact_summaries

CONTACTS_CONSUMER = "executions.contacts"
summaries = contact_summaries


@dataclass
class ProjectionHandlers:
    uow: UnitOfWork

    async def record_contact(self, ctx: Context, cmd: RecordContact) -> bool:
        """Keeps the newest snapshot by its `updated_at`, whatever order events arrive in; a
        deletion seen earlier stays. True when this snapshot was applied."""
        async with self.uow.begin(ctx) as work:
            if ctx.causation_id and not await work.first_time(CONTACTS_CONSUMER, ctx.causation_id):
                return False
            stmt = insert(summaries).values(
                org_id=ctx.org_id,
                contact_id=cmd.contact_id,
                first_name=cmd.first_name,
                last_name=cmd.last_name,
                email=cmd.email,
                phone=cmd.phone,
                zip=cmd.zip,
                as_of=cmd.as_of,
            )
            upsert = stmt.on_conflict_do_update(
                index_elements=[summaries.c.org_id, summaries.c.contact_id],
                set_={
                    name: stmt.excluded[name] for name in ("first_name", "last_name", "email", "phone", "zip", "as_of")
                },
                where=sa.or_(summaries.c.as_of.is_(None), summaries.c.as_of < stmt.excluded.as_of),
            ).returning(summaries.c.contact_id)
            return (await work.session.scalar(upsert)) is not None

    async def forget_contact(self, ctx: Context, cmd: ForgetContact) -> None:
        """Marks the contact deleted, keeping its last known name (a deletion that arrives
        before the contact's creation leaves a nameless row the creation then names)."""
        async with self.uow.begin(ctx) as work:
            if ctx.causation_id and not await work.first_time(CONTACTS_CONSUMER, ctx.causation_id):
                return
            await contact_gone(work, cmd.contact_id, cmd.at)


async def contact_gone(work: Work, contact_id: uuid.UUID, at: datetime) -> None:
    """The contact's summary marked deleted, its last known name kept (no new case opens on it);
    the first time it went is the time kept."""
    stmt = insert(summaries).values(org_id=work.ctx.org_id, contact_id=contact_id, deleted=True, deleted_at=at)
    await work.session.execute(
        stmt.on_conflict_do_update(
            index_elements=[summaries.c.org_id, summaries.c.contact_id],
            set_={
                "deleted": True,
                "deleted_at": sa.func.coalesce(summaries.c.deleted_at, stmt.excluded.deleted_at),
            },
        )
    )
