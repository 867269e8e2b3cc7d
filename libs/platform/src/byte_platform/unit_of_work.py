"""One unit of work: a transaction scoped to the caller's org, the events it emits (outbox) and
the messages it has consumed (inbox), all committed together or not at all.

    async with self.uow.begin(ctx) as work:
        row = (await work.session.execute(...)).one()
        await work.emit("contact.created", row.id, ContactCreated(...))

Every event carries the context's org, actor, correlation and causation ids, so a handler never
assembles an envelope itself.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import sqlalchemy as sa
from byte_contracts import new_event
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from byte_platform.context import Context
from byte_platform.db import Database, set_org
from byte_platform.inbox import first_time
from byte_platform.outbox import Outbox


@dataclass
class Work:
    session: AsyncSession
    ctx: Context
    outbox: Outbox
    inbox_table: sa.Table | None

    async def emit(
        self, event_type: str, subject: uuid.UUID | str, data: BaseModel, *, event_id: uuid.UUID | None = None
    ) -> None:
        """Adds the event to the outbox; it is published once this unit of work commits.

        `event_id` is for callers that must be deterministic (a redelivered webhook, a retried
        activity): the same id again is a duplicate every consumer drops."""
        await self.outbox.add(
            self.session,
            new_event(
                event_type,
                org_id=self.ctx.org_id,
                subject=str(subject),
                actor=self.ctx.actor,
                data=data,
                correlation_id=self.ctx.correlation_id,
                causation_id=self.ctx.causation_id,
                event_id=event_id,
            ),
        )

    async def first_time(self, consumer: str, key: str | uuid.UUID) -> bool:
        """Records that `consumer` handled the message `key` (an envelope id, a Svix id, a
        Formstack UniqueID); False when it already had, and the caller must change nothing."""
        assert self.inbox_table is not None, "this unit of work has no inbox table"
        return await first_time(self.session, self.inbox_table, consumer, str(key))

    async def switch_org(self, org_id: str) -> None:
        """For the rare work that spans orgs (a Clerk user in several): later statements and
        events belong to `org_id`."""
        await set_org(self.session, org_id)
        self.ctx = self.ctx.in_org(org_id)


@dataclass
class UnitOfWork:
    db: Database
    outbox: Outbox
    inbox_table: sa.Table | None = None

    @asynccontextmanager
    async def begin(self, ctx: Context) -> AsyncIterator[Work]:
        async with self.db.scoped(ctx.org_id) as session:
            yield Work(session, ctx, self.outbox, self.inbox_table)

    @asynccontextmanager
    async def unscoped(self, ctx: Context) -> AsyncIterator[Work]:
        """No org bound yet: only plumbing tables and org-less tables are visible until
        `switch_org` (a webhook names its org inside the body)."""
        async with self.db.unscoped() as session:
            yield Work(session, ctx, self.outbox, self.inbox_table)
