"""Reads of notes, the audit trail and the caller's tasks. Each is one index range of its
table, newest first (or soonest due), walked by keyset; `statement`s are public so a test can
EXPLAIN exactly what runs."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from byte_platform.context import Context
from byte_platform.db import Database
from byte_platform.pagination import Keyset, dump_time, parse_time
from byte_platform.responses import row_dicts

from byte_executions.models import activity_log, notes, task_summaries

NOTE_COLUMNS = [c for c in notes.c if c.name != "org_id"]
ACTIVITY_COLUMNS = [c for c in activity_log.c if c.name not in ("org_id", "recorded_at")]
TASK_COLUMNS = [
    task_summaries.c.task_id,
    task_summaries.c.title,
    task_summaries.c.status,
    task_summaries.c.priority,
    task_summaries.c.due_date,
    task_summaries.c.execution_id,
    task_summaries.c.contact_id,
    task_summaries.c.step_id,
    task_summaries.c.created_at,
    task_summaries.c.updated_at,
]
NOTES_KEYSET = Keyset(notes.c.created_at, notes.c.id, True, "-created_at", parse_time, dump_time)
ACTIVITY_KEYSET = Keyset(activity_log.c.occurred_at, activity_log.c.id, True, "-occurred_at", parse_time, dump_time)
DUE_SOON = timedelta(days=7)


@dataclass(frozen=True)
class ActivityFilter:
    """Narrows a trail; `scope` is what it concerns (None: the org's whole feed)."""

    scope: tuple[str, Any] | None = None
    """(`execution_id` | `contact_id` | `task_id`, id) or (`case`, (execution, contact, submission))."""
    actor: str | None = None
    action: str | None = None
    occurred_from: datetime | None = None
    occurred_to: datetime | None = None

    def statement(self, org_id: str) -> sa.Select:
        stmt = sa.select(*ACTIVITY_COLUMNS).where(activity_log.c.org_id == org_id)
        if self.scope is not None:
            link, value = self.scope
            if link == "case":
                execution_id, contact_id, submission_id = value
                either = [activity_log.c.execution_id == execution_id]
                if contact_id is not None:
                    either.append(activity_log.c.contact_id == contact_id)
                if submission_id is not None:
                    either.append(activity_log.c.submission_id == submission_id)
                stmt = stmt.where(sa.or_(*either))
            else:
                stmt = stmt.where(activity_log.c[link] == value)
        if self.actor is not None:
            stmt = stmt.where(activity_log.c.actor == self.actor)
        if self.action is not None:
            stmt = stmt.where(activity_log.c.action == self.action)
        if self.occurred_from is not None:
            stmt = stmt.where(activity_log.c.occurred_at >= self.occurred_from)
        if self.occurred_to is not None:
            stmt = stmt.where(activity_log.c.occurred_at < self.occurred_to)
        return stmt


def my_open_tasks(org_id: str, user_id: str) -> list[sa.ColumnElement]:
    """The partial index `task_summaries_open_by_assignee`'s predicate, and its leading columns."""
    return [
        task_summaries.c.org_id == org_id,
        task_summaries.c.assigned_to == user_id,
        task_summaries.c.status != "done",
        sa.not_(task_summaries.c.deleted),
    ]


def my_task_counts(org_id: str, user_id: str, now: datetime) -> sa.Select:
    return sa.select(
        sa.func.count().label("open"),
        sa.func.count().filter(task_summaries.c.due_date < now).label("overdue"),
        sa.func.count()
        .filter(task_summaries.c.due_date >= now, task_summaries.c.due_date < now + DUE_SOON)
        .label("due_this_week"),
    ).where(*my_open_tasks(org_id, user_id))


def my_task_page(org_id: str, user_id: str, limit: int) -> sa.Select:
    # the index's own order (due date ascending, undated last), so the page is its first entries
    return (
        sa.select(*TASK_COLUMNS)
        .where(*my_open_tasks(org_id, user_id))
        .order_by(task_summaries.c.due_date.asc().nulls_last(), task_summaries.c.task_id)
        .limit(limit)
    )


@dataclass
class ActivityQueries:
    db: Database

    async def notes(
        self, ctx: Context, entity_type: str, entity_id: uuid.UUID, limit: int, cursor: str | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        stmt = sa.select(*NOTE_COLUMNS).where(
            notes.c.org_id == ctx.org_id, notes.c.entity_type == entity_type, notes.c.entity_id == entity_id
        )
        rows, next_cursor = await NOTES_KEYSET.read(self.db, ctx.org_id, stmt, cursor, limit)
        return row_dicts(rows, NOTE_COLUMNS), next_cursor

    async def case_scope(self, ctx: Context, execution_id: uuid.UUID) -> tuple[str, Any]:
        """A case's trail takes in its contact's and its submission's, as its own first rows
        named them (the trail outlives a deleted case)."""
        links = await self.db.read(
            ctx.org_id,
            sa.select(
                sa.select(activity_log.c.contact_id)
                .where(activity_log.c.org_id == ctx.org_id, activity_log.c.execution_id == execution_id)
                .where(activity_log.c.contact_id.isnot(None))
                .limit(1)
                .scalar_subquery()
                .label("contact_id"),
                sa.select(activity_log.c.submission_id)
                .where(activity_log.c.org_id == ctx.org_id, activity_log.c.execution_id == execution_id)
                .where(activity_log.c.submission_id.isnot(None))
                .limit(1)
                .scalar_subquery()
                .label("submission_id"),
            ),
        )
        return ("case", (execution_id, links[0]["contact_id"], links[0]["submission_id"]))

    async def trail(
        self, ctx: Context, f: ActivityFilter, limit: int, cursor: str | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        rows, next_cursor = await ACTIVITY_KEYSET.read(self.db, ctx.org_id, f.statement(ctx.org_id), cursor, limit)
        return row_dicts(rows, ACTIVITY_COLUMNS), next_cursor

    async def my_tasks(self, ctx: Context, now: datetime, limit: int) -> dict[str, Any]:
        counts = (await self.db.read(ctx.org_id, my_task_counts(ctx.org_id, ctx.user_id, now)))[0]
        rows = await self.db.read(ctx.org_id, my_task_page(ctx.org_id, ctx.user_id, limit))
        return {
            "open": counts["open"],
            "overdue": counts["overdue"],
            "due_this_week": counts["due_this_week"],
            "items": row_dicts(rows, TASK_COLUMNS),
        }
