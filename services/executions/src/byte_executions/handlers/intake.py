"""Intake: a Formstack submission becomes a case once both halves are in, in either order
(ADR 7): `submission.received` (what ingest mapped) and `contact.upserted` naming the submission
(the contact contacts took in). Each half is one upsert of the submission's row; the one that
completes the row opens the case. Opening is once per (org, formstack, submission id), so a
redelivered or replayed half, or both halves completing concurrently, open nothing twice."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from byte_platform.context import Context
from byte_platform.unit_of_work import UnitOfWork
from sqlalchemy.dialects.postgresql import insert

from byte_executions import domain
from byte_executions.commands import OpenCase, RecordApplicant, RecordSubmission
from byte_executions.handlers.cases import CaseHandlers
from byte_executions.handlers.definitions import Provisioning
from byte_executions.models import intake_submissions as intake

FORMSTACK = "formstack"


@dataclass
class IntakeHandlers:
    uow: UnitOfWork
    cases: CaseHandlers
    provisioning: Provisioning

    async def submission_received(self, ctx: Context, cmd: RecordSubmission) -> bool:
        """True when this half completed the intake and the case is open."""
        async with self.uow.begin(ctx) as work:
            stmt = insert(intake).values(
                org_id=ctx.org_id,
                submission_id=cmd.submission_id,
                received=True,
                form_id=cmd.form_id,
                definition_id=cmd.definition_id,
                variables=cmd.variables,
            )
            row = (
                await work.session.execute(
                    stmt.on_conflict_do_update(
                        index_elements=[intake.c.org_id, intake.c.submission_id],
                        set_={
                            "received": True,
                            "form_id": stmt.excluded.form_id,
                            "definition_id": stmt.excluded.definition_id,
                            "variables": stmt.excluded.variables,
                            "updated_at": sa.func.now(),
                        },
                    ).returning(*intake.c)
                )
            ).one()
        return await self._open_when_complete(ctx, row)

    async def applicant_upserted(self, ctx: Context, cmd: RecordApplicant) -> bool:
        """True when this half completed the intake and the case is open. The first contact
        named for a submission is its contact."""
        async with self.uow.begin(ctx) as work:
            stmt = insert(intake).values(org_id=ctx.org_id, submission_id=cmd.submission_id, contact_id=cmd.contact_id)
            row = (
                await work.session.execute(
                    stmt.on_conflict_do_update(
                        index_elements=[intake.c.org_id, intake.c.submission_id],
                        set_={
                            "contact_id": sa.func.coalesce(intake.c.contact_id, stmt.excluded.contact_id),
                            "updated_at": sa.func.now(),
                        },
                    ).returning(*intake.c)
                )
            ).one()
        return await self._open_when_complete(ctx, row)

    async def _open_when_complete(self, ctx: Context, row: Any) -> bool:
        # A separate unit of work from the row's upsert: should this fail (a refusal, a crash),
        # the event is delivered again, its upsert finds the row complete and opening is retried;
        # opening itself is once per source id.
        if not (row.received and row.contact_id):
            return False
        definition: Any = row.definition_id
        if definition is None:
            await self.provisioning.ensure(ctx)
            definition = domain.APPLICANT_REVIEW_KEY
        await self.cases.open(
            ctx,
            OpenCase(
                contact_id=row.contact_id,
                definition=definition,
                variables=row.variables,
                metadata={"form_id": row.form_id, "submission_id": row.submission_id},
                source=FORMSTACK,
                source_id=row.submission_id,
            ),
        )
        return True
