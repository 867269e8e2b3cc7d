"""Intake: a Formstack submission becomes a case once both halves are in, in either order
(ADR 7): `submission.received` (what ingest mapped) and `contact.upserted` naming the submission
(the contact contacts took in). Each half is one upsert of the submission's row; the one that
completes the row opens the case. Opening is once per (org, formstack, submission id), so a
redelivered or replayed half, or both halves completing concurrently, open nothing twice."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from byte_contracts.errors import Conflict
from byte_contracts.executions import ExecutionSnapshot
from byte_platform.context import Context, require_writer
from byte_platform.unit_of_work import UnitOfWork
from sqlalchemy.dialects.postgresql import insert

from byte_executions import domain
from byte_executions.commands import ApplyContactMerge, DismissDuplicate, OpenCase, RecordApplicant, RecordSubmission
from byte_executions.handlers.cases import ROW_COLUMNS, CaseHandlers
from byte_executions.handlers.definitions import Provisioning
from byte_executions.handlers.projections import contact_gone
from byte_executions.models import contact_summaries as summaries
from byte_executions.models import intake_submissions as intake
from byte_executions.models import notes
from byte_executions.models import workflow_executions as cases

FORMSTACK = "formstack"
# The case's metadata key that flags it: the id of the contact the applicant may already be.
POSSIBLE_DUPLICATE = "possible_duplicate_of"
MERGES_CONSUMER = "executions.contact_merges"


def _digits(column: Any) -> Any:
    return sa.func.right(sa.func.regexp_replace(column, r"\D", "", "g"), 10)


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
        metadata: dict[str, Any] = {"form_id": row.form_id, "submission_id": row.submission_id}
        if duplicate := await self._possible_duplicate(ctx, row.contact_id):
            metadata[POSSIBLE_DUPLICATE] = duplicate
        await self.cases.open(
            ctx,
            OpenCase(
                contact_id=row.contact_id,
                definition=definition,
                variables=row.variables,
                metadata=metadata,
                source=FORMSTACK,
                source_id=row.submission_id,
            ),
        )
        return True

    async def _possible_duplicate(self, ctx: Context, contact_id: Any) -> str | None:
        """Another contact of the org this applicant may be: the same phone (its last 10 digits),
        or the same first and last name with the same zip, but not the same email (by email,
        contacts would have matched them already). The oldest such contact, or None."""
        async with self.uow.begin(ctx) as work:
            me = (
                await work.session.execute(
                    sa.select(summaries).where(summaries.c.org_id == ctx.org_id, summaries.c.contact_id == contact_id)
                )
            ).one_or_none()
            if me is None:
                return None
            same: list[Any] = []
            if me.phone and len(_phone_digits(me.phone)) >= 7:
                same.append(_digits(summaries.c.phone) == _phone_digits(me.phone)[-10:])
            if me.first_name and me.last_name and me.zip:
                same.append(
                    sa.and_(
                        sa.func.lower(summaries.c.first_name) == me.first_name.lower(),
                        sa.func.lower(summaries.c.last_name) == me.last_name.lower(),
                        summaries.c.zip == me.zip,
                    )
                )
            if not same:
                return None
            other = await work.session.scalar(
                sa.select(summaries.c.contact_id)
                .where(
                    summaries.c.org_id == ctx.org_id,
                    summaries.c.contact_id != contact_id,
                    sa.not_(summaries.c.deleted),
                    sa.or_(*same),
                    # contacts match one email already: the same email in another row is
                    # the same person seen twice, not a possible duplicate
                    *(
                        [sa.or_(summaries.c.email.is_(None), sa.func.lower(summaries.c.email) != me.email.lower())]
                        if me.email
                        else []
                    ),
                )
                .order_by(summaries.c.as_of, summaries.c.contact_id)
                .limit(1)
            )
        return str(other) if other else None

    async def dismiss_duplicate(self, ctx: Context, cmd: DismissDuplicate) -> ExecutionSnapshot:
        """Staff looked: the applicant is not the flagged contact. The flag is cleared
        (`execution.updated`); a case without one is refused."""
        require_writer(ctx)
        async with self.uow.begin(ctx) as work:
            row = await self.cases._locked(work, cmd.execution_id)
            if POSSIBLE_DUPLICATE not in row.metadata:
                raise Conflict("this case is not flagged as a possible duplicate")
            metadata = {k: v for k, v in row.metadata.items() if k != POSSIBLE_DUPLICATE}
            return await self.cases._changed(work, row, {"metadata": metadata}, ["metadata"])

    async def contact_merged(self, ctx: Context, cmd: ApplyContactMerge) -> int:
        """Once per `contact.merged` (the inbox): the merged contact's cases name the survivor,
        and so does an intake still waiting for its other half; a possible-duplicate flag
        between the two is settled (cleared), one naming the merged contact on a third
        person's case names the survivor. Each changed case is an `execution.updated`. Notes on
        the merged contact are the survivor's (staff wrote them about the same person). The
        merged contact's summary is marked deleted (no new case opens on it). How many cases
        changed."""
        gone, survivor = cmd.from_contact_id, cmd.into_contact_id
        async with self.uow.begin(ctx) as work:
            if ctx.causation_id and not await work.first_time(MERGES_CONSUMER, ctx.causation_id):
                return 0
            await contact_gone(work, gone, cmd.at)
            await work.session.execute(
                sa.update(intake)
                .where(intake.c.org_id == ctx.org_id, intake.c.contact_id == gone)
                .values(contact_id=survivor, updated_at=sa.func.now())
            )
            await work.session.execute(
                sa.update(notes)
                .where(notes.c.org_id == ctx.org_id, notes.c.contact_id == gone)
                .values(contact_id=survivor)
            )
            await work.session.execute(
                sa.update(notes)
                .where(notes.c.org_id == ctx.org_id, notes.c.entity_type == "contact", notes.c.entity_id == gone)
                .values(entity_id=survivor)
            )
            flag = cases.c.metadata[POSSIBLE_DUPLICATE].astext
            affected = (
                await work.session.execute(
                    sa.select(*ROW_COLUMNS)
                    .where(
                        cases.c.org_id == ctx.org_id,
                        sa.or_(cases.c.contact_id == gone, flag.in_([str(gone), str(survivor)])),
                    )
                    .order_by(cases.c.id)
                    .with_for_update()
                )
            ).all()
            for row in affected:
                values: dict[str, Any] = {}
                contact_id = survivor if row.contact_id == gone else row.contact_id
                if contact_id != row.contact_id:
                    values["contact_id"] = contact_id
                flagged = row.metadata.get(POSSIBLE_DUPLICATE)
                if flagged in (str(gone), str(survivor)):
                    metadata = {k: v for k, v in row.metadata.items() if k != POSSIBLE_DUPLICATE}
                    if contact_id != survivor:
                        metadata[POSSIBLE_DUPLICATE] = str(survivor)
                    if metadata != row.metadata:
                        values["metadata"] = metadata
                if values:
                    await self.cases._changed(work, row, values, sorted(values))
        return len(affected)


def _phone_digits(phone: str) -> str:
    return "".join(ch for ch in phone if ch.isdigit())
