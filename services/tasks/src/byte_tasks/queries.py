"""Reads: one task, a filtered keyset page (the list, "available for my roles", kanban columns)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from byte_contracts.enums import TaskPriority, TaskStatus, TaskType
from byte_contracts.tasks import TaskSnapshot
from byte_platform.context import Context
from byte_platform.db import Database, row_in_org
from byte_platform.pagination import Keyset, dump_time, parse_time

from byte_tasks.domain import Sort
from byte_tasks.handlers import PUBLIC_COLUMNS, snapshot
from byte_tasks.models import tasks

# Tasks without a due date sort after every dated one; the same expression is indexed.
NO_DUE_DATE = sa.literal_column("'9999-12-31 00:00:00+00'::timestamptz", type_=tasks.c.due_date.type)

SORT_KEYS: dict[Sort, sa.ColumnElement] = {
    Sort.CREATED_AT: tasks.c.created_at,
    Sort.UPDATED_AT: tasks.c.updated_at,
    Sort.DUE_DATE: sa.func.coalesce(tasks.c.due_date, NO_DUE_DATE),
    Sort.POSITION: tasks.c.position,
}
TIME_SORTS = {Sort.CREATED_AT, Sort.UPDATED_AT, Sort.DUE_DATE}


@dataclass(frozen=True)
class TaskFilter:
    """`assignee`: a user id, or None; `unassigned`: only tasks nobody holds. `available_for`:
    unclaimed open tasks whose role is one of these."""

    assignee: str | None = None
    unassigned: bool = False
    statuses: tuple[TaskStatus, ...] = ()
    role: str | None = None
    execution: uuid.UUID | None = None
    contact: uuid.UUID | None = None
    task_type: TaskType | None = None
    priority: TaskPriority | None = None
    due_before: datetime | None = None
    due_after: datetime | None = None
    overdue: bool | None = None
    available_for: frozenset[str] | None = None
    sort: Sort = Sort.CREATED_AT
    descending: bool = True

    @property
    def sort_param(self) -> str:
        return ("-" if self.descending else "") + self.sort.value

    def where(self, org_id: str) -> list[sa.ColumnElement]:
        t = tasks.c
        clauses: list[sa.ColumnElement] = [t.org_id == org_id]
        if self.assignee is not None:
            clauses.append(t.assigned_to == self.assignee)
        if self.unassigned:
            clauses.append(t.assigned_to.is_(None))
        if self.statuses:
            clauses.append(t.status.in_([str(s) for s in self.statuses]))
        if self.role is not None:
            clauses.append(t.assigned_role == self.role)
        if self.execution is not None:
            clauses.append(t.workflow_execution_id == self.execution)
        if self.contact is not None:
            clauses.append(t.contact_id == self.contact)
        if self.task_type is not None:
            clauses.append(t.task_type == str(self.task_type))
        if self.priority is not None:
            clauses.append(t.priority == str(self.priority))
        if self.due_before is not None:
            clauses.append(t.due_date < self.due_before)
        if self.due_after is not None:
            clauses.append(t.due_date >= self.due_after)
        if self.overdue is not None:
            overdue = sa.and_(t.due_date < sa.func.now(), t.status != str(TaskStatus.DONE))
            clauses.append(overdue if self.overdue else sa.not_(sa.func.coalesce(overdue, False)))
        if self.available_for is not None:
            clauses += [
                t.assigned_to.is_(None),
                t.status != str(TaskStatus.DONE),
                t.assigned_role.in_(sorted(self.available_for)) if self.available_for else sa.false(),
            ]
        return clauses

    @property
    def keyset(self) -> Keyset:
        if self.sort in TIME_SORTS:
            return Keyset(SORT_KEYS[self.sort], tasks.c.id, self.descending, self.sort_param, parse_time, dump_time)
        return Keyset(SORT_KEYS[self.sort], tasks.c.id, self.descending, self.sort_param, _number)


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("not a number")
    return float(value)


@dataclass
class TaskQueries:
    db: Database

    async def get(self, ctx: Context, task_id: uuid.UUID) -> TaskSnapshot:
        async with self.db.scoped(ctx.org_id) as session:
            return snapshot(await row_in_org(session, tasks, PUBLIC_COLUMNS, task_id, ctx.org_id, "task"))

    async def page(
        self, ctx: Context, f: TaskFilter, limit: int, cursor: str | None
    ) -> tuple[Sequence[Any], str | None]:
        """A page of rows (the public columns, plus the sort key) and the next page's cursor."""
        stmt = sa.select(*PUBLIC_COLUMNS).where(*f.where(ctx.org_id))
        return await f.keyset.read(self.db, ctx.org_id, stmt, cursor, limit)
