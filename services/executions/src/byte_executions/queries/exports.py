"""Exports: cases as CSV (filtered like the case list, one contact's cases too), streamed from a
server-side cursor with flat memory and the platform's completeness trailer; and what the
pipeline report shows, gathered from the dashboard's projections."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from byte_contracts.errors import NotFound
from byte_platform.context import Context
from byte_platform.db import Database
from byte_platform.exports import stream_csv

from byte_executions.domain import RunState
from byte_executions.models import contact_summaries, workflow_definitions, workflow_executions
from byte_executions.queries.cases import CaseFilter
from byte_executions.queries.dashboard import DashboardQueries, Period
from byte_executions.schemas import CasesByStatus, CasesPerDay, Waits

cases = workflow_executions
summaries = contact_summaries
definitions = workflow_definitions

# `id` first: no row may start with the trailer's '#'
CSV_COLUMNS = [
    ("id", cases.c.id),
    ("contact_id", cases.c.contact_id),
    ("contact_first_name", summaries.c.first_name),
    ("contact_last_name", summaries.c.last_name),
    ("contact_email", summaries.c.email),
    ("definition_key", cases.c.definition_key),
    ("definition_version", cases.c.definition_version),
    ("definition_name", definitions.c.name),
    ("status", cases.c.status),
    ("run_state", cases.c.run_state),
    ("current_step_id", cases.c.current_step_id),
    ("source", cases.c.source),
    ("started_at", cases.c.started_at),
    ("completed_at", cases.c.completed_at),
    ("updated_at", cases.c.updated_at),
]
CSV_HEADER = [name for name, _ in CSV_COLUMNS]
JOINED = cases.outerjoin(
    summaries, sa.and_(summaries.c.org_id == cases.c.org_id, summaries.c.contact_id == cases.c.contact_id)
).join(definitions, definitions.c.id == cases.c.definition_id)
BATCH = 500
# the report lists the open cases oldest first, up to this many (and says how many more)
REPORT_OPEN_CASES = 200


@dataclass(frozen=True)
class PipelineReport:
    org_id: str
    generated_at: datetime
    by_status: CasesByStatus
    per_day: CasesPerDay
    open_cases: list[Any]
    more_open_cases: bool
    waits: Waits | None


@dataclass
class ExportQueries:
    db: Database
    dashboard: DashboardQueries

    async def contact_known(self, ctx: Context, contact_id: uuid.UUID) -> None:
        async with self.db.scoped(ctx.org_id) as session:
            known = await session.scalar(
                sa.select(summaries.c.contact_id).where(
                    summaries.c.org_id == ctx.org_id, summaries.c.contact_id == contact_id
                )
            )
        if known is None:
            raise NotFound("contact")

    def cases_csv(self, ctx: Context, f: CaseFilter) -> AsyncIterator[str]:
        """The cases the filter keeps, in its order, as CSV text a batch at a time."""
        stmt = f.keyset.ordered(
            sa.select(*(column.label(name) for name, column in CSV_COLUMNS))
            .select_from(JOINED)
            .where(*f.where(ctx.org_id))
        )

        async def batches() -> AsyncIterator[list[Any]]:
            async with self.db.scoped(ctx.org_id) as session:
                result = await session.stream(stmt.execution_options(yield_per=BATCH))
                async for partition in result.partitions():
                    yield [tuple(row) for row in partition]

        return stream_csv(CSV_HEADER, batches())

    async def report(self, ctx: Context, days: int) -> PipelineReport:
        today = datetime.now(UTC).date()
        period = Period(today - timedelta(days=days - 1), today)
        by_status = await self.dashboard.by_status(ctx, None)
        per_day = await self.dashboard.per_day(ctx, period, None)
        try:
            waits: Waits | None = await self.dashboard.waits(ctx, None, None, datetime.now(UTC) - timedelta(days=90))
        except NotFound:  # an org without a definition yet
            waits = None
        running = replace(CaseFilter(run_state=RunState.RUNNING.value), descending=False)
        async with self.db.scoped(ctx.org_id) as session:
            open_cases = (
                await session.execute(
                    running.keyset.ordered(
                        sa.select(*(column.label(name) for name, column in CSV_COLUMNS))
                        .select_from(JOINED)
                        .where(*running.where(ctx.org_id))
                    ).limit(REPORT_OPEN_CASES + 1)
                )
            ).all()
        more = len(open_cases) > REPORT_OPEN_CASES
        return PipelineReport(
            ctx.org_id, datetime.now(UTC), by_status, per_day, list(open_cases[:REPORT_OPEN_CASES]), more, waits
        )
