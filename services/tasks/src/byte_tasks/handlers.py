"""Commands in, rows and events out: each handler is one unit of work (rows + outbox commit
together). api.py (HTTP) and consumers.py (workflow requests, identity events) build the
commands; neither is seen here.

Locking (docs/adr/0005-tasks-claim-and-kanban.md):
- a task is claimed by exactly one user: claim is one conditional UPDATE, no lock taken first;
  PostgreSQL's row lock and re-check of the WHERE clause let exactly one of any number of
  concurrent claimers match;
- everything that changes a task's status or position first takes the advisory lock of every
  kanban column involved (source and target, in name order), then the task's row lock. Column
  locks are never taken after a row lock, so concurrent moves cannot deadlock, and positions in
  a column are computed by one transaction at a time.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

import sqlalchemy as sa
from byte_contracts.enums import TaskOutcome, TaskStatus
from byte_contracts.errors import Conflict, NotFound
from byte_contracts.tasks import (
    TaskClaimed,
    TaskCompleted,
    TaskCreated,
    TaskDeleted,
    TaskSnapshot,
    TaskStatusChanged,
    TaskUnclaimed,
    TaskUpdated,
)
from byte_platform.context import Context, require_writer
from byte_platform.db import row_in_org
from byte_platform.unit_of_work import UnitOfWork, Work
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncSession

from byte_tasks import domain
from byte_tasks.commands import (
    ApplyContactMerge,
    ChangeTaskStatus,
    ClaimTask,
    CreateRequestedTask,
    CreateTask,
    DecideTask,
    DeleteTask,
    MoveTask,
    RecordMember,
    RemoveMember,
    UnclaimTask,
    UpdateRequestedTask,
    UpdateTask,
)
from byte_tasks.domain import InvalidInput, TaskState
from byte_tasks.models import STEP_UNIQUE, members, tasks
from byte_tasks.schemas import Move

log = logging.getLogger(__name__)

PUBLIC_COLUMNS = [c for c in tasks.c if c.name != "org_id"]
SYSTEM_ACTOR = "system:tasks"
WORKFLOW_CONSUMER = "tasks.workflow"
IDENTITY_CONSUMER = "tasks.identity"
CONTACTS_CONSUMER = "tasks.contacts"

T = TypeVar("T")


def snapshot(row: Any) -> TaskSnapshot:
    return TaskSnapshot.model_validate(dict(row._mapping))


class _Retry(Exception):
    """The task changed column between reading its status and locking it: start over."""


# --- locks and positions ----------------------------------------------------------------------


async def lock_columns(session: AsyncSession, org_id: str, statuses: Iterable[str]) -> None:
    """Transaction-scoped advisory locks on kanban columns, always in name order."""
    for status in sorted({str(s) for s in statuses}):
        await session.execute(
            sa.select(
                sa.func.pg_advisory_xact_lock(sa.func.hashtextextended(f"byte-tasks-column:{org_id}:{status}", 0))
            )
        )


def _in_column(org_id: str, status: str, exclude: uuid.UUID | None) -> list[sa.ColumnElement]:
    clauses = [tasks.c.org_id == org_id, tasks.c.status == status]
    if exclude is not None:
        clauses.append(tasks.c.id != exclude)
    return clauses


async def bottom_of(session: AsyncSession, org_id: str, status: str, exclude: uuid.UUID | None = None) -> float:
    """Below the last card of a column. The caller holds the column's lock."""
    last = await session.scalar(sa.select(sa.func.max(tasks.c.position)).where(*_in_column(org_id, status, exclude)))
    position = domain.position_between(last, None)
    assert position is not None
    return position


async def renumber(session: AsyncSession, org_id: str, status: str) -> None:
    """Spreads a column's cards GAP apart, keeping their order. The caller holds the column's lock.
    Presentation only: no event (every event carries its task's position as it is then)."""
    await session.execute(
        sa.text(
            "UPDATE tasks SET position = r.rn * :gap FROM ("
            "  SELECT id, row_number() OVER (ORDER BY position, id) AS rn FROM tasks"
            "  WHERE org_id = :org AND status = :status) AS r "
            "WHERE tasks.id = r.id AND tasks.org_id = :org"
        ),
        {"gap": domain.GAP, "org": org_id, "status": status},
    )


async def drop_position(session: AsyncSession, org_id: str, moving: uuid.UUID, cmd: Move) -> float:
    """Where a dropped card goes in column `cmd.status`. The caller holds the column's lock."""
    column = str(cmd.status)
    for _ in range(2):
        key = sa.tuple_(tasks.c.position, tasks.c.id)
        if cmd.after_id is not None or cmd.before_id is not None:
            field = "after_id" if cmd.after_id is not None else "before_id"
            anchor_id = cmd.after_id or cmd.before_id
            if anchor_id == moving:
                raise InvalidInput(field, "a card cannot be placed next to itself")
            anchor = (
                await session.execute(
                    sa.select(tasks.c.position, tasks.c.status).where(tasks.c.id == anchor_id, tasks.c.org_id == org_id)
                )
            ).one_or_none()
            if anchor is None:
                raise InvalidInput(field, "no such task in this organization")
            if anchor.status != column:
                raise InvalidInput(field, f"that task is in the {anchor.status} column, not in {column}")
            bound = sa.tuple_(
                sa.literal(anchor.position, type_=tasks.c.position.type), sa.literal(anchor_id, type_=tasks.c.id.type)
            )
            if cmd.after_id is not None:
                above = anchor.position
                below = await session.scalar(
                    sa.select(sa.func.min(tasks.c.position)).where(*_in_column(org_id, column, moving), key > bound)
                )
            else:
                below = anchor.position
                above = await session.scalar(
                    sa.select(sa.func.max(tasks.c.position)).where(*_in_column(org_id, column, moving), key < bound)
                )
        else:
            above = await session.scalar(
                sa.select(sa.func.max(tasks.c.position)).where(*_in_column(org_id, column, moving))
            )
            below = None
        position = domain.position_between(above, below)
        if position is not None:
            return position
        await renumber(session, org_id, column)
    raise AssertionError("a renumbered column always has room")


# --- the handlers -----------------------------------------------------------------------------


@dataclass
class TaskHandlers:
    uow: UnitOfWork

    async def _locked(self, work: Work, task_id: uuid.UUID) -> Row:
        return await row_in_org(work.session, tasks, PUBLIC_COLUMNS, task_id, work.ctx.org_id, "task", for_update=True)

    async def _is_member(self, work: Work, user_id: str) -> bool:
        found = await work.session.scalar(
            sa.select(sa.literal(1)).where(
                members.c.org_id == work.ctx.org_id, members.c.user_id == user_id, members.c.active
            )
        )
        return found is not None

    async def _check_assignable(self, work: Work, user_id: str, field: str) -> None:
        """The caller always counts as a member (their identity is verified; their membership
        event may not have arrived yet); anyone else must be in the members projection."""
        if user_id != work.ctx.user_id and not await self._is_member(work, user_id):
            raise InvalidInput(field, f"{user_id} is not a member of this organization")

    async def _changing_status(
        self,
        ctx: Context,
        task_id: uuid.UUID,
        targets: Callable[[str], Iterable[str]],
        then: Callable[[Work, Row], Awaitable[T]],
    ) -> T:
        """A unit of work that may move the task between columns: column locks (source and
        targets), then the row lock, then `then`."""
        for _ in range(5):
            try:
                async with self.uow.begin(ctx) as work:
                    status = await work.session.scalar(
                        sa.select(tasks.c.status).where(tasks.c.id == task_id, tasks.c.org_id == ctx.org_id)
                    )
                    if status is None:
                        raise NotFound("task")
                    await lock_columns(work.session, ctx.org_id, {status, *targets(status)})
                    row = await self._locked(work, task_id)
                    if row.status != status:
                        raise _Retry
                    return await then(work, row)
            except _Retry:
                continue
        raise Conflict("the task kept changing while this request ran; try again")

    async def _to_status(
        self,
        work: Work,
        row: Row,
        to: TaskStatus,
        *,
        outcome: TaskOutcome | None = None,
        comment: str | None = None,
        position: float | None = None,
        extra: dict[str, Any] | None = None,
    ) -> TaskSnapshot:
        """Moves a task to another column (the caller holds both columns' locks) and emits
        task.status_changed, plus task.completed when it reached done."""
        org_id = work.ctx.org_id
        values: dict[str, Any] = {"status": str(to), "updated_at": sa.func.now(), **(extra or {})}
        values["position"] = (
            position if position is not None else await bottom_of(work.session, org_id, str(to), row.id)
        )
        if to == TaskStatus.DONE:
            assert outcome is not None
            values.update(outcome=str(outcome), outcome_comment=comment, completed_at=sa.func.now())
        new = (
            await work.session.execute(
                sa.update(tasks)
                .where(tasks.c.id == row.id, tasks.c.org_id == org_id)
                .values(**values)
                .returning(*PUBLIC_COLUMNS)
            )
        ).one()
        task = snapshot(new)
        await work.emit("task.status_changed", task.id, TaskStatusChanged(task=task, previous_status=row.status))
        if to == TaskStatus.DONE:
            assert outcome is not None
            await work.emit(
                "task.completed",
                task.id,
                TaskCompleted(
                    task=task,
                    outcome=outcome,
                    comment=comment,
                    completed_by=work.ctx.actor,
                    workflow_execution_id=task.workflow_execution_id,
                    created_by_step_id=task.created_by_step_id,
                    iteration=task.created_by_iteration,
                ),
            )
        return task

    # --- create / edit / delete ---

    async def create(self, ctx: Context, cmd: CreateTask) -> TaskSnapshot:
        require_writer(ctx)
        async with self.uow.begin(ctx) as work:
            if cmd.task.assigned_to is not None:
                await self._check_assignable(work, cmd.task.assigned_to, "assigned_to")
            await lock_columns(work.session, ctx.org_id, {TaskStatus.TODO})
            position = await bottom_of(work.session, ctx.org_id, TaskStatus.TODO)
            row = (
                await work.session.execute(
                    sa.insert(tasks)
                    .values(
                        id=uuid.uuid4(),
                        org_id=ctx.org_id,
                        **cmd.task.model_dump(mode="python"),
                        status=str(TaskStatus.TODO),
                        position=position,
                        created_by=ctx.user_id,
                    )
                    .returning(*PUBLIC_COLUMNS)
                )
            ).one()
            task = snapshot(row)
            await work.emit("task.created", task.id, TaskCreated(task=task))
        return task

    async def update(self, ctx: Context, cmd: UpdateTask) -> TaskSnapshot:
        require_writer(ctx)
        requested = cmd.changes.model_dump(exclude_unset=True)
        async with self.uow.begin(ctx) as work:
            current = await self._locked(work, cmd.task_id)
            domain.check_edit(TaskState.of(current), ctx, set(requested))
            changed = domain.changes(dict(current._mapping), requested)
            if not changed:
                return snapshot(current)
            if changed.get("assigned_to") is not None:
                await self._check_assignable(work, changed["assigned_to"], "assigned_to")
            if "priority" in changed:
                changed["priority"] = str(changed["priority"])
            row = (
                await work.session.execute(
                    sa.update(tasks)
                    .where(tasks.c.id == cmd.task_id, tasks.c.org_id == ctx.org_id)
                    .values(**changed, updated_at=sa.func.now())
                    .returning(*PUBLIC_COLUMNS)
                )
            ).one()
            task = snapshot(row)
            await work.emit("task.updated", task.id, TaskUpdated(task=task, changed_fields=sorted(changed)))
        return task

    async def delete(self, ctx: Context, cmd: DeleteTask) -> None:
        require_writer(ctx)
        async with self.uow.begin(ctx) as work:
            current = await self._locked(work, cmd.task_id)
            domain.check_delete(TaskState.of(current), ctx)
            await work.session.execute(sa.delete(tasks).where(tasks.c.id == cmd.task_id, tasks.c.org_id == ctx.org_id))
            await work.emit(
                "task.deleted",
                cmd.task_id,
                TaskDeleted(
                    task_id=cmd.task_id,
                    workflow_execution_id=current.workflow_execution_id,
                    created_by_step_id=current.created_by_step_id,
                    iteration=current.created_by_iteration,
                ),
            )

    # --- claiming ---

    async def claim(self, ctx: Context, cmd: ClaimTask) -> TaskSnapshot:
        """One conditional UPDATE. Concurrent claimers queue on the row lock; the first commits,
        every other re-checks `assigned_to IS NULL` against the committed row, matches nothing
        and is told who holds it."""
        require_writer(ctx)
        stmt = sa.update(tasks).where(
            tasks.c.id == cmd.task_id,
            tasks.c.org_id == ctx.org_id,
            tasks.c.assigned_to.is_(None),
            tasks.c.status != str(TaskStatus.DONE),
        )
        if not ctx.is_admin:
            stmt = stmt.where(sa.or_(tasks.c.assigned_role.is_(None), tasks.c.assigned_role.in_(sorted(ctx.roles))))
        stmt = stmt.values(assigned_to=ctx.user_id, updated_at=sa.func.now()).returning(*PUBLIC_COLUMNS)
        async with self.uow.begin(ctx) as work:
            row = (await work.session.execute(stmt)).one_or_none()
            if row is None:
                current = await row_in_org(work.session, tasks, PUBLIC_COLUMNS, cmd.task_id, ctx.org_id, "task")
                raise domain.claim_refusal(TaskState.of(current), ctx)
            task = snapshot(row)
            await work.emit("task.claimed", task.id, TaskClaimed(task=task, claimed_by=ctx.user_id))
        return task

    async def unclaim(self, ctx: Context, cmd: UnclaimTask) -> TaskSnapshot:
        """Back to the pool: unassigned, and in_progress goes back to todo."""
        require_writer(ctx)

        async def then(work: Work, row: Row) -> TaskSnapshot:
            domain.check_unclaim(TaskState.of(row), ctx)
            return await self._release(work, row, "unclaimed")

        return await self._changing_status(ctx, cmd.task_id, lambda _: {TaskStatus.TODO}, then)

    async def _release(self, work: Work, row: Row, reason: str) -> TaskSnapshot:
        """Unassigns a task whose columns (its own and todo) the caller has locked."""
        if row.status == TaskStatus.IN_PROGRESS:
            task = await self._to_status(work, row, TaskStatus.TODO, extra={"assigned_to": None})
        else:
            new = (
                await work.session.execute(
                    sa.update(tasks)
                    .where(tasks.c.id == row.id, tasks.c.org_id == work.ctx.org_id)
                    .values(assigned_to=None, updated_at=sa.func.now())
                    .returning(*PUBLIC_COLUMNS)
                )
            ).one()
            task = snapshot(new)
        await work.emit(
            "task.unclaimed", task.id, TaskUnclaimed(task=task, previous_assignee=row.assigned_to, reason=reason)
        )
        return task

    # --- working it ---

    async def change_status(self, ctx: Context, cmd: ChangeTaskStatus) -> TaskSnapshot:
        require_writer(ctx)
        if cmd.comment is not None and cmd.status != TaskStatus.DONE:
            raise InvalidInput("comment", "only a change to done takes a comment")

        async def then(work: Work, row: Row) -> TaskSnapshot:
            effect = domain.check_status_change(TaskState.of(row), ctx, cmd.status)
            if effect == "noop":
                return snapshot(row)
            outcome = TaskOutcome.COMPLETED if effect == "complete" else None
            return await self._to_status(work, row, cmd.status, outcome=outcome, comment=cmd.comment)

        return await self._changing_status(ctx, cmd.task_id, lambda _: {cmd.status}, then)

    async def decide(self, ctx: Context, cmd: DecideTask) -> TaskSnapshot:
        """approve / reject an approval task (a rejection needs a comment unless the task's
        workflow step waived it)."""
        require_writer(ctx)

        async def then(work: Work, row: Row) -> TaskSnapshot:
            domain.check_decision(TaskState.of(row), ctx, cmd.outcome, cmd.comment)
            return await self._to_status(work, row, TaskStatus.DONE, outcome=cmd.outcome, comment=cmd.comment)

        return await self._changing_status(ctx, cmd.task_id, lambda _: {TaskStatus.DONE}, then)

    async def move(self, ctx: Context, cmd: MoveTask) -> TaskSnapshot:
        """Kanban drop: a reorder within a column (task.updated, `position`), or a status change
        to another column at the dropped place."""
        require_writer(ctx)
        move = cmd.move

        async def then(work: Work, row: Row) -> TaskSnapshot:
            effect = domain.check_move(TaskState.of(row), ctx, move.status)
            position = await drop_position(work.session, ctx.org_id, row.id, move)
            if effect == "reorder":
                new = (
                    await work.session.execute(
                        sa.update(tasks)
                        .where(tasks.c.id == row.id, tasks.c.org_id == ctx.org_id)
                        .values(position=position, updated_at=sa.func.now())
                        .returning(*PUBLIC_COLUMNS)
                    )
                ).one()
                task = snapshot(new)
                await work.emit("task.updated", task.id, TaskUpdated(task=task, changed_fields=["position"]))
                return task
            outcome = TaskOutcome.COMPLETED if effect == "complete" else None
            return await self._to_status(work, row, move.status, outcome=outcome, position=position)

        return await self._changing_status(ctx, cmd.task_id, lambda _: {move.status}, then)

    # --- from other services ---

    async def create_requested(self, ctx: Context, cmd: CreateRequestedTask) -> TaskSnapshot | None:
        """Creates the step's task once per entry into the step. The inbox drops a redelivered
        envelope; the (org, execution, step, iteration) unique key drops a retried request under
        a new id."""
        request = cmd.request
        title = domain.check_requested_title(request.title)
        org_id = ctx.org_id
        async with self.uow.begin(ctx) as work:
            if ctx.causation_id and not await work.first_time(WORKFLOW_CONSUMER, ctx.causation_id):
                return None
            assigned_to, metadata = request.assigned_to, dict(request.metadata)
            if assigned_to is not None and not await self._is_member(work, assigned_to):
                metadata["unresolved_assignee"] = assigned_to
                assigned_to = None
            await lock_columns(work.session, org_id, {TaskStatus.TODO})
            position = await bottom_of(work.session, org_id, TaskStatus.TODO)
            row = (
                await work.session.execute(
                    insert(tasks)
                    .values(
                        id=uuid.uuid4(),
                        org_id=org_id,
                        workflow_execution_id=request.execution_id,
                        created_by_step_id=request.step_id,
                        created_by_iteration=request.iteration,
                        contact_id=request.contact_id,
                        title=title,
                        description=(request.description or None) and request.description[: domain.DESCRIPTION_MAX],
                        task_type=str(request.task_type),
                        priority=str(request.priority),
                        status=str(TaskStatus.TODO),
                        assigned_to=assigned_to,
                        assigned_role=request.assigned_role,
                        position=position,
                        due_date=domain.requested_due_date(request.due_date, request.due_in_seconds, cmd.requested_at),
                        created_by=ctx.actor,
                        metadata=metadata,
                    )
                    .on_conflict_do_nothing(constraint=STEP_UNIQUE)
                    .returning(*PUBLIC_COLUMNS)
                )
            ).one_or_none()
            if row is None:
                return None
            task = snapshot(row)
            await work.emit("task.created", task.id, TaskCreated(task=task))
        return task

    async def update_requested(self, ctx: Context, cmd: UpdateRequestedTask) -> TaskSnapshot | None:
        """Changes the task a step created, once per request (the inbox). A finished task stays
        as it was; a task that is gone (deleted) is nothing to change.

        Reassigning a claimed task to another role (an escalation) puts it back in the pool: the
        claimant may not hold the new role, and the point is that someone who does picks it up.
        A task given to a named user (`assigned_to`) in the same request goes to that user."""
        request = cmd.request
        async with self.uow.begin(ctx) as work:
            task_id = await work.session.scalar(
                sa.select(tasks.c.id).where(
                    tasks.c.org_id == ctx.org_id,
                    tasks.c.workflow_execution_id == request.execution_id,
                    tasks.c.created_by_step_id == request.step_id,
                    tasks.c.created_by_iteration == request.iteration,
                )
            )
        if task_id is None:
            log.info(
                "no task of step %s (iteration %d) of case %s to update; request dropped",
                request.step_id,
                request.iteration,
                request.execution_id,
            )
            return None

        async def then(work: Work, row: Row) -> TaskSnapshot:
            if ctx.causation_id and not await work.first_time(WORKFLOW_CONSUMER, ctx.causation_id):
                return snapshot(row)
            if row.status == TaskStatus.DONE:
                return snapshot(row)
            requested: dict[str, Any] = {
                k: v
                for k, v in {
                    "title": request.title and domain.check_requested_title(request.title),
                    "description": request.description and request.description[: domain.DESCRIPTION_MAX],
                    "assigned_role": request.assigned_role,
                    "priority": request.priority and str(request.priority),
                    "due_date": domain.requested_due_date(request.due_date, request.due_in_seconds, cmd.requested_at),
                }.items()
                if v is not None
            }
            metadata = dict(row._mapping["metadata"])
            if request.assigned_to is not None:
                if await self._is_member(work, request.assigned_to):
                    requested["assigned_to"] = request.assigned_to
                else:
                    metadata["unresolved_assignee"] = request.assigned_to
            changed = domain.changes(dict(row._mapping), requested)
            if metadata != row._mapping["metadata"]:
                changed["metadata"] = metadata
            task = snapshot(row)
            if "assigned_role" in changed and row.assigned_to is not None and "assigned_to" not in changed:
                task = await self._release(work, row, "reassigned")
            if changed:
                new = (
                    await work.session.execute(
                        sa.update(tasks)
                        .where(tasks.c.id == row.id, tasks.c.org_id == ctx.org_id)
                        .values(**changed, updated_at=sa.func.now())
                        .returning(*PUBLIC_COLUMNS)
                    )
                ).one()
                task = snapshot(new)
                await work.emit("task.updated", task.id, TaskUpdated(task=task, changed_fields=sorted(changed)))
            return task

        return await self._changing_status(ctx, task_id, lambda _: {TaskStatus.TODO}, then)

    async def record_member(self, ctx: Context, cmd: RecordMember) -> None:
        """The gateway's membership events into the `members` projection."""
        async with self.uow.begin(ctx) as work:
            if ctx.causation_id and not await work.first_time(IDENTITY_CONSUMER, ctx.causation_id):
                return
            await self._put_member(
                work,
                cmd.user_id,
                cmd.as_of,
                active=True,
                roles=cmd.roles,
                email=cmd.email,
                first_name=cmd.first_name,
                last_name=cmd.last_name,
            )

    async def remove_member(self, ctx: Context, cmd: RemoveMember) -> None:
        """A removed member's open tasks go back to the pool (task.unclaimed, reason
        `member_removed`)."""
        async with self.uow.begin(ctx) as work:
            if ctx.causation_id and not await work.first_time(IDENTITY_CONSUMER, ctx.causation_id):
                return
            if not await self._put_member(work, cmd.user_id, cmd.as_of, active=False, roles=[]):
                return  # an older removal than what we know: nothing to undo
            await lock_columns(work.session, ctx.org_id, {TaskStatus.TODO, TaskStatus.IN_PROGRESS})
            rows = (
                await work.session.execute(
                    sa.select(*PUBLIC_COLUMNS)
                    .where(
                        tasks.c.org_id == ctx.org_id,
                        tasks.c.assigned_to == cmd.user_id,
                        tasks.c.status != str(TaskStatus.DONE),
                    )
                    .order_by(tasks.c.created_at, tasks.c.id)
                    .with_for_update()
                )
            ).all()
            for row in rows:
                await self._release(work, row, "member_removed")

    async def contact_merged(self, ctx: Context, cmd: ApplyContactMerge) -> int:
        """Once per `contact.merged` (the inbox): every task of the merged contact, done or not,
        names the survivor; each is a `task.updated` (`contact_id`), as an edit is. Neither
        status nor position changes, so no column lock is taken. How many tasks changed."""
        async with self.uow.begin(ctx) as work:
            if ctx.causation_id and not await work.first_time(CONTACTS_CONSUMER, ctx.causation_id):
                return 0
            rows = (
                await work.session.execute(
                    sa.update(tasks)
                    .where(tasks.c.org_id == ctx.org_id, tasks.c.contact_id == cmd.from_contact_id)
                    .values(contact_id=cmd.into_contact_id, updated_at=sa.func.now())
                    .returning(*PUBLIC_COLUMNS)
                )
            ).all()
            for row in rows:
                task = snapshot(row)
                await work.emit("task.updated", task.id, TaskUpdated(task=task, changed_fields=["contact_id"]))
        return len(rows)

    async def _put_member(
        self, work: Work, user_id: str, as_of: Any, *, active: bool, roles: list[str], **profile: Any
    ) -> bool:
        """Last writer by event time wins; returns whether this change was applied."""
        stmt = insert(members).values(
            org_id=work.ctx.org_id, user_id=user_id, roles=roles, active=active, as_of=as_of, **profile
        )
        update = {"roles": stmt.excluded.roles, "active": stmt.excluded.active, "as_of": stmt.excluded.as_of}
        update.update({k: stmt.excluded[k] for k in profile})
        upsert = stmt.on_conflict_do_update(
            index_elements=[members.c.org_id, members.c.user_id],
            set_=update,
            where=members.c.as_of <= stmt.excluded.as_of,
        ).returning(members.c.user_id)
        return (await work.session.scalar(upsert)) is not None
