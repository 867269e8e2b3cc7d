"""Cases: open, update, ask the workflow for a status change or a cancellation, delete; and
apply what the workflow reports (the step it entered, a status it set, its end).

The workflow is authoritative: a manual status change or a cancellation is a request (an
event the worker acts on); the case changes when the worker confirms."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from byte_contracts.errors import Conflict, Invalid, NotFound
from byte_contracts.executions import (
    CaseContact,
    DefinitionSnapshot,
    ExecutionCancelRequested,
    ExecutionCreated,
    ExecutionDeleted,
    ExecutionSnapshot,
    ExecutionStatusChangeRequested,
    ExecutionUpdated,
)
from byte_platform.context import Context, require_admin, require_writer
from byte_platform.db import row_in_org
from byte_platform.unit_of_work import UnitOfWork, Work
from sqlalchemy.dialects.postgresql import insert

from byte_executions import domain
from byte_executions.commands import (
    ApplyStatusChange,
    CancelCase,
    DeleteCase,
    EndCase,
    OpenCase,
    RecordStepEntered,
    RequestStatusChange,
    UpdateCase,
)
from byte_executions.domain import RunState
from byte_executions.handlers import spans
from byte_executions.handlers.definitions import SNAPSHOT_COLUMNS as DEFINITION_COLUMNS
from byte_executions.handlers.definitions import snapshot as definition_snapshot
from byte_executions.models import (
    SOURCE_UNIQUE,
    case_counts,
    contact_summaries,
    provisioned_orgs,
    workflow_definitions,
    workflow_executions,
)

cases = workflow_executions
definitions = workflow_definitions
SNAPSHOT_COLUMNS = [cases.c[name] for name in ExecutionSnapshot.model_fields]
ROW_COLUMNS = [c for c in cases.c if c.name != "org_id"]
WORKFLOW_CONSUMER = "executions.workflow"


def snapshot(row: Any) -> ExecutionSnapshot:
    values = row._mapping
    return ExecutionSnapshot.model_validate({name: values[name] for name in ExecutionSnapshot.model_fields})


async def shift_counts(work: Work, deltas: dict[tuple[str, str], int]) -> None:
    """Shifts the board's counts by `deltas` ((definition key, status) -> change), in the
    case write's transaction. Rows are taken in one order whatever the change, so two writes
    moving cases in opposite directions wait for each other instead of deadlocking."""
    for (key, status), delta in sorted(deltas.items()):
        if delta > 0:
            stmt = insert(case_counts).values(org_id=work.ctx.org_id, definition_key=key, status=status, count=delta)
            await work.session.execute(
                stmt.on_conflict_do_update(
                    index_elements=[case_counts.c.org_id, case_counts.c.definition_key, case_counts.c.status],
                    set_={"count": case_counts.c.count + stmt.excluded.count},
                )
            )
        elif delta < 0:
            # the row exists: the case being counted out was counted in (an upsert's insert of
            # a negative count would trip the non-negative check before its conflict is seen)
            await work.session.execute(
                sa.update(case_counts)
                .where(
                    case_counts.c.org_id == work.ctx.org_id,
                    case_counts.c.definition_key == key,
                    case_counts.c.status == status,
                )
                .values(count=case_counts.c.count + delta)
            )


@dataclass(frozen=True)
class StatusChangePending:
    execution: ExecutionSnapshot
    request_id: uuid.UUID
    status: str
    requested_at: datetime


@dataclass(frozen=True)
class CancelPending:
    execution: ExecutionSnapshot
    request_id: uuid.UUID
    requested_at: datetime


async def _definition_version(work: Work, definition_id: uuid.UUID) -> DefinitionSnapshot:
    row = (
        await work.session.execute(
            sa.select(*DEFINITION_COLUMNS).where(
                definitions.c.org_id == work.ctx.org_id, definitions.c.id == definition_id
            )
        )
    ).one()
    return definition_snapshot(row)


async def _latest_definition(work: Work, cmd: OpenCase) -> DefinitionSnapshot:
    key: Any
    if isinstance(cmd.definition, uuid.UUID):
        key = (
            sa.select(definitions.c.definition_key)
            .where(definitions.c.org_id == work.ctx.org_id, definitions.c.id == cmd.definition)
            .scalar_subquery()
        )
    else:
        key = cmd.definition
    row = (
        await work.session.execute(
            sa.select(*DEFINITION_COLUMNS).where(
                definitions.c.org_id == work.ctx.org_id, definitions.c.definition_key == key, definitions.c.is_latest
            )
        )
    ).one_or_none()
    if row is None:
        raise Invalid("definition_id", "no such definition in this organization")
    return definition_snapshot(row)


@dataclass
class CaseHandlers:
    uow: UnitOfWork

    async def _locked(self, work: Work, execution_id: uuid.UUID) -> Any:
        return await row_in_org(
            work.session, cases, ROW_COLUMNS, execution_id, work.ctx.org_id, "execution", for_update=True
        )

    async def _changed(
        self, work: Work, row: Any, values: dict[str, Any], changed_fields: list[str]
    ) -> ExecutionSnapshot:
        updated = (
            await work.session.execute(
                sa.update(cases)
                .where(cases.c.id == row.id, cases.c.org_id == work.ctx.org_id)
                .values(**values, updated_at=sa.func.now())
                .returning(*ROW_COLUMNS)
            )
        ).one()
        execution = snapshot(updated)
        if execution.status != row.status:
            await shift_counts(work, {(row.definition_key, row.status): -1, (row.definition_key, execution.status): 1})
        if changed_fields:
            await work.emit(
                "execution.updated", execution.id, ExecutionUpdated(execution=execution, changed_fields=changed_fields)
            )
        return execution

    async def open(self, ctx: Context, cmd: OpenCase) -> tuple[ExecutionSnapshot, bool]:
        """The case, and whether this call opened it (False: the case already opened for the
        same source id)."""
        require_writer(ctx)
        async with self.uow.begin(ctx) as work:
            definition = await _latest_definition(work, cmd)
            if not definition.is_active:
                raise Invalid("definition_id", "this definition is deactivated: no new case may start on it")
            domain.check_trigger(definition.steps, cmd.source)
            summary = contact_summaries.c
            contact = (
                await work.session.execute(
                    sa.select(
                        summary.deleted, summary.first_name, summary.last_name, summary.email, summary.phone
                    ).where(summary.org_id == ctx.org_id, summary.contact_id == cmd.contact_id)
                )
            ).one_or_none()
            if contact is None:
                raise Invalid("contact_id", "no such contact in this organization")
            if contact.deleted:
                raise Invalid("contact_id", "this contact was deleted")
            variables = domain.check_variables(definition.variables, cmd.variables)
            execution_id = uuid.uuid4()
            row = (
                await work.session.execute(
                    insert(cases)
                    .values(
                        id=execution_id,
                        org_id=ctx.org_id,
                        definition_id=definition.id,
                        definition_key=definition.definition_key,
                        definition_version=definition.version,
                        contact_id=cmd.contact_id,
                        status=domain.status_keys(definition.statuses)[0],
                        run_state=RunState.RUNNING,
                        source=cmd.source,
                        source_id=cmd.source_id,
                        temporal_workflow_id=domain.workflow_id(execution_id),
                        variables=variables,
                        metadata=cmd.metadata,
                        created_by=ctx.actor,
                    )
                    .on_conflict_do_nothing(constraint=SOURCE_UNIQUE)
                    .returning(*ROW_COLUMNS)
                )
            ).one_or_none()
            if row is None:
                existing = (
                    await work.session.execute(
                        sa.select(*ROW_COLUMNS).where(
                            cases.c.org_id == ctx.org_id,
                            cases.c.source == cmd.source,
                            cases.c.source_id == cmd.source_id,
                        )
                    )
                ).one()
                return snapshot(existing), False
            execution = snapshot(row)
            await shift_counts(work, {(execution.definition_key, execution.status): 1})
            await spans.status_entered(work, row, execution.status, execution.started_at)
            await work.emit(
                "execution.created",
                execution.id,
                ExecutionCreated(
                    execution=execution,
                    definition=definition.document(),
                    # what the case's templates read, as known now: the worker starts from this
                    contact=CaseContact(
                        id=cmd.contact_id,
                        first_name=contact.first_name,
                        last_name=contact.last_name,
                        email=contact.email,
                        phone=contact.phone,
                    ),
                    org_name=await work.session.scalar(
                        sa.select(provisioned_orgs.c.name).where(provisioned_orgs.c.org_id == ctx.org_id)
                    ),
                ),
            )
        return execution, True

    async def update(self, ctx: Context, cmd: UpdateCase) -> ExecutionSnapshot:
        require_writer(ctx)
        async with self.uow.begin(ctx) as work:
            row = await self._locked(work, cmd.execution_id)
            values: dict[str, Any] = {}
            if cmd.variables is not None:
                definition = await _definition_version(work, row.definition_id)
                variables = domain.check_variables(definition.variables, cmd.variables)
                if variables != row.variables:
                    values["variables"] = variables
            if cmd.metadata is not None and cmd.metadata != row.metadata:
                values["metadata"] = cmd.metadata
            if not values:
                return snapshot(row)
            return await self._changed(work, row, values, sorted(values))

    async def request_status(self, ctx: Context, cmd: RequestStatusChange) -> StatusChangePending:
        """Asks the case's workflow to move it to `status`; the case changes when the workflow
        confirms (`execution.status_changed`)."""
        require_writer(ctx)
        async with self.uow.begin(ctx) as work:
            row = await self._locked(work, cmd.execution_id)
            if row.run_state != RunState.RUNNING:
                raise Conflict(f"the case's workflow is {row.run_state}: its status can no longer change")
            definition = await _definition_version(work, row.definition_id)
            domain.check_status(definition.statuses, cmd.status)
            if cmd.status == row.status and row.pending_status is None:
                raise Conflict(f"the case is already {cmd.status}")
            request_id, now = uuid.uuid4(), datetime.now(UTC)
            execution = await self._changed(
                work,
                row,
                {"pending_status": cmd.status, "pending_request_id": request_id, "pending_requested_at": now},
                [],
            )
            await work.emit(
                "execution.status_change_requested",
                execution.id,
                ExecutionStatusChangeRequested(
                    execution_id=execution.id,
                    request_id=request_id,
                    status=cmd.status,
                    current_status=row.status,
                    reason=cmd.reason,
                    temporal_workflow_id=row.temporal_workflow_id,
                ),
            )
        return StatusChangePending(execution, request_id, cmd.status, now)

    async def cancel(self, ctx: Context, cmd: CancelCase) -> CancelPending:
        """Asks the case's workflow to stop; the case is `cancelled` when it confirms. Asking
        again while the request is pending answers the same request."""
        require_writer(ctx)
        async with self.uow.begin(ctx) as work:
            row = await self._locked(work, cmd.execution_id)
            if row.run_state != RunState.RUNNING:
                raise Conflict(f"the case's workflow is {row.run_state}: there is nothing to cancel")
            if row.cancel_request_id is not None:
                return CancelPending(snapshot(row), row.cancel_request_id, row.cancel_requested_at)
            execution, request_id, at = await self._request_cancel(work, row, cmd.reason)
        return CancelPending(execution, request_id, at)

    async def _request_cancel(
        self, work: Work, row: Any, reason: str | None
    ) -> tuple[ExecutionSnapshot, uuid.UUID, datetime]:
        request_id, now = uuid.uuid4(), datetime.now(UTC)
        execution = await self._changed(work, row, {"cancel_request_id": request_id, "cancel_requested_at": now}, [])
        await work.emit(
            "execution.cancel_requested",
            execution.id,
            ExecutionCancelRequested(
                execution_id=execution.id,
                request_id=request_id,
                reason=reason,
                temporal_workflow_id=row.temporal_workflow_id,
            ),
        )
        return execution, request_id, now

    async def delete(self, ctx: Context, cmd: DeleteCase) -> bool:
        """Deletes the case; a running one's workflow is asked to cancel first. True when it
        was (the answer says so)."""
        require_admin(ctx)
        async with self.uow.begin(ctx) as work:
            row = await self._locked(work, cmd.execution_id)
            cancelled = row.run_state == RunState.RUNNING
            if cancelled and row.cancel_request_id is None:
                await self._request_cancel(work, row, "the case was deleted")
            await work.session.execute(sa.delete(cases).where(cases.c.id == row.id, cases.c.org_id == ctx.org_id))
            await shift_counts(work, {(row.definition_key, row.status): -1})
            await spans.case_deleted(work, row.id)
            await work.emit(
                "execution.deleted",
                row.id,
                ExecutionDeleted(execution_id=row.id, contact_id=row.contact_id, workflow_cancelled=cancelled),
            )
        return cancelled

    # --- what the workflow reports --------------------------------------------------------

    async def _reported(self, work: Work, execution_id: uuid.UUID, *, required: bool) -> Any:
        """The case a report is about, locked; None (or NotFound when `required`) when there
        is none: a case deleted since its workflow was asked to cancel."""
        row = (
            await work.session.execute(
                sa.select(*ROW_COLUMNS)
                .where(cases.c.org_id == work.ctx.org_id, cases.c.id == execution_id)
                .with_for_update()
            )
        ).one_or_none()
        if row is None and required:
            raise NotFound("execution")
        return row

    async def step_entered(self, ctx: Context, cmd: RecordStepEntered) -> ExecutionSnapshot | None:
        async with self.uow.begin(ctx) as work:
            if ctx.causation_id and not await work.first_time(WORKFLOW_CONSUMER, ctx.causation_id):
                return None
            row = await self._reported(work, cmd.execution_id, required=False)
            if row is None:
                return None
            # a late report still tells how long the case stayed in that step
            await spans.step_entered(work, row, cmd.step_id, cmd.phase_id, cmd.waiting_for, cmd.entered_at)
            if row.step_entered_at is not None and row.step_entered_at > cmd.entered_at:
                return None
            values = {
                "current_step_id": cmd.step_id,
                "current_phase_id": cmd.phase_id,
                "step_entered_at": cmd.entered_at,
                "waiting_for": cmd.waiting_for,
                "updated_by_temporal": True,
            }
            if cmd.temporal_run_id:
                values["temporal_run_id"] = cmd.temporal_run_id
            return await self._changed(work, row, values, ["current_phase_id", "current_step_id", "waiting_for"])

    async def status_changed(self, ctx: Context, cmd: ApplyStatusChange) -> ExecutionSnapshot | None:
        """The workflow set the case's status. A case that does not exist, or a status its
        definition version lacks, is refused (the platform dead-letters the event)."""
        async with self.uow.begin(ctx) as work:
            if ctx.causation_id and not await work.first_time(WORKFLOW_CONSUMER, ctx.causation_id):
                return None
            row = await self._reported(work, cmd.execution_id, required=True)
            definition = await _definition_version(work, row.definition_id)
            domain.check_status(definition.statuses, cmd.status, location="event")
            await spans.status_entered(work, row, cmd.status, cmd.changed_at or datetime.now(UTC))
            values: dict[str, Any] = {"status": cmd.status, "updated_by_temporal": True}
            if row.pending_status is not None and (
                cmd.request_id == row.pending_request_id or cmd.status == row.pending_status
            ):
                values.update(pending_status=None, pending_request_id=None, pending_requested_at=None)
            return await self._changed(work, row, values, ["status"] if cmd.status != row.status else [])

    async def ended(self, ctx: Context, cmd: EndCase) -> ExecutionSnapshot | None:
        async with self.uow.begin(ctx) as work:
            if ctx.causation_id and not await work.first_time(WORKFLOW_CONSUMER, ctx.causation_id):
                return None
            row = await self._reported(work, cmd.execution_id, required=False)
            if row is None or row.run_state != RunState.RUNNING:
                return None
            values: dict[str, Any] = {
                "run_state": cmd.run_state,
                "completed_at": cmd.at,
                "updated_by_temporal": True,
                "pending_status": None,
                "pending_request_id": None,
                "pending_requested_at": None,
                "waiting_for": None,
            }
            changed = ["completed_at", "run_state"]
            if cmd.run_state == RunState.CANCELLED:
                values["status"] = domain.CANCELLED_STATUS
            elif cmd.final_status and cmd.final_status != row.status:
                definition = await _definition_version(work, row.definition_id)
                values["status"] = domain.check_status(definition.statuses, cmd.final_status, location="event")
            if cmd.failure:
                values["failure"] = cmd.failure
            if values.get("status", row.status) != row.status:
                changed.append("status")
                await spans.status_entered(work, row, values["status"], cmd.at)
            await spans.case_ended(work, row, cmd.at)
            return await self._changed(work, row, values, sorted(changed))
