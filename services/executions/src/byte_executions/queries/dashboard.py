"""Reads of the dashboard: cases by status (the counts projection), opened and closed per day
(the per-day projection), the recent cases, where the cases of a definition version wait and
how many are decided per week (the step and status spans). Each reads a projection through an
index: a row per status, day or span in the asked window, never every case."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from byte_contracts.enums import DEFAULT_EXECUTION_STATUSES, ExecutionStatus
from byte_platform.context import Context
from byte_platform.db import Database
from sqlalchemy.ext.asyncio import AsyncSession

from byte_executions import domain
from byte_executions.commands import DefinitionRef
from byte_executions.models import (
    case_counts,
    case_days,
    case_status_spans,
    case_step_spans,
    contact_summaries,
    workflow_definitions,
    workflow_executions,
)
from byte_executions.queries.cases import CaseFilter, _page
from byte_executions.queries.definitions import find_version
from byte_executions.schemas import (
    CasesByStatus,
    CasesPerDay,
    DayCount,
    StatusWait,
    StepWait,
    Throughput,
    WaitingCase,
    Waits,
    WeekCount,
)

definitions = workflow_definitions
cases = workflow_executions
DECISIONS = (ExecutionStatus.APPROVED.value, ExecutionStatus.REJECTED.value)


def _key(org_id: str, ref: DefinitionRef | None) -> Any:
    return CaseFilter(definition=ref).definition_key(org_id) if ref is not None else None


async def _statuses(session: AsyncSession, org_id: str, ref: DefinitionRef | None) -> list[dict[str, Any]]:
    """The statuses of the named definition's latest version, else of every latest version."""
    if ref is not None:
        return list((await find_version(session, org_id, ref, None)).statuses)
    listed: list[dict[str, Any]] = []
    for statuses in await session.scalars(
        sa.select(definitions.c.statuses)
        .where(definitions.c.org_id == org_id, definitions.c.is_latest)
        .order_by(definitions.c.created_at)
    ):
        listed += statuses
    return listed or list(DEFAULT_EXECUTION_STATUSES)


def _label(statuses: list[dict[str, Any]], key: str) -> str:
    return next((s["label"] for s in statuses if s["key"] == key), key.replace("_", " ").title())


@dataclass(frozen=True)
class Period:
    """UTC days `first`..`last`, inclusive."""

    first: date
    last: date

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first, datetime.min.time(), UTC)

    @property
    def end(self) -> datetime:
        return datetime.combine(self.last + timedelta(days=1), datetime.min.time(), UTC)


def week_of(day: date) -> date:
    return day - timedelta(days=day.weekday())


@dataclass
class DashboardQueries:
    db: Database
    waiting_longest_limit: int = field(default=10)

    async def by_status(self, ctx: Context, ref: DefinitionRef | None) -> CasesByStatus:
        async with self.db.scoped(ctx.org_id) as session:
            statuses = await _statuses(session, ctx.org_id, ref)
            stmt = sa.select(case_counts.c.status, sa.func.sum(case_counts.c.count)).where(
                case_counts.c.org_id == ctx.org_id, case_counts.c.count > 0
            )
            if ref is not None:
                stmt = stmt.where(case_counts.c.definition_key == _key(ctx.org_id, ref))
            counts = {s: int(n) for s, n in (await session.execute(stmt.group_by(case_counts.c.status))).all()}
        listed: dict[str, dict[str, Any]] = {}
        for status in statuses:
            listed.setdefault(status["key"], {"status": status["key"], "label": status["label"],
                                              "color": status.get("color")})  # fmt: skip
        for key in sorted(set(counts) - set(listed)):
            listed[key] = {"status": key, "label": _label([], key), "color": None}
        for key, status in listed.items():
            status["count"] = counts.get(key, 0)
        return CasesByStatus.model_validate({"statuses": list(listed.values()), "total": sum(counts.values())})

    async def per_day(self, ctx: Context, period: Period, ref: DefinitionRef | None) -> CasesPerDay:
        stmt = (
            sa.select(case_days.c.day, sa.func.sum(case_days.c.opened), sa.func.sum(case_days.c.closed))
            .where(case_days.c.org_id == ctx.org_id, case_days.c.day.between(period.first, period.last))
            .group_by(case_days.c.day)
        )
        if ref is not None:
            stmt = stmt.where(case_days.c.definition_key == _key(ctx.org_id, ref))
        async with self.db.scoped(ctx.org_id) as session:
            found = {day: (int(o), int(c)) for day, o, c in (await session.execute(stmt)).all()}
        days = []
        day = period.first
        while day <= period.last:
            opened, closed = found.get(day, (0, 0))
            days.append(DayCount(day=day, opened=opened, closed=closed))
            day += timedelta(days=1)
        return CasesPerDay(days=days, opened=sum(d.opened for d in days), closed=sum(d.closed for d in days))

    async def recent(self, ctx: Context, limit: int, ref: DefinitionRef | None) -> list[dict[str, Any]]:
        async with self.db.scoped(ctx.org_id) as session:
            items, _ = await _page(session, ctx.org_id, CaseFilter(definition=ref), limit, None)
        return items

    async def waits(self, ctx: Context, ref: DefinitionRef | None, version: int | None, since: datetime) -> Waits:
        """Where the cases of one definition version (the latest of `ref`; of the org's first
        definition when none is named) wait: per step and per status, and the cases waiting
        longest in their current step."""
        now = datetime.now(UTC)
        async with self.db.scoped(ctx.org_id) as session:
            if ref is None:
                ref = await session.scalar(
                    sa.select(definitions.c.definition_key)
                    .where(definitions.c.org_id == ctx.org_id, definitions.c.is_latest)
                    .order_by(definitions.c.created_at)
                    .limit(1)
                )
            row = await find_version(session, ctx.org_id, ref, version)  # type: ignore[arg-type]
            key, number = row.definition_key, row.version
            steps = await _wait_stats(session, ctx.org_id, case_step_spans, case_step_spans.c.step_id, key, number,
                                      since, now)  # fmt: skip
            statuses = await _wait_stats(session, ctx.org_id, case_status_spans, case_status_spans.c.status, key,
                                         number, since, now)  # fmt: skip
            longest = await _waiting_longest(session, ctx.org_id, key, number, self.waiting_longest_limit)
        # the definition's order: steps as written, statuses as listed
        step_order = {s["id"]: i for i, s in enumerate(row.steps)}
        status_order = {s["key"]: i for i, s in enumerate(row.statuses)}
        return Waits(
            definition_key=key,
            definition_version=number,
            definition_name=row.name,
            since=since,
            steps=[
                StepWait(
                    step_id=step_id,
                    step_name=(domain.step_of(row.steps, step_id) or {}).get("name"),
                    phase_id=(domain.step_of(row.steps, step_id) or {}).get("phase_id"),
                    **stats,
                )
                for step_id, stats in sorted(steps.items(), key=lambda kv: (step_order.get(kv[0], 1 << 30), kv[0]))
            ],
            statuses=[
                StatusWait(status=status, label=_label(row.statuses, status), **stats)
                for status, stats in sorted(statuses.items(), key=lambda kv: (status_order.get(kv[0], 1 << 30), kv[0]))
            ],
            waiting_longest=[
                WaitingCase(
                    execution_id=w.execution_id,
                    contact_id=w.contact_id,
                    contact_name=" ".join(p for p in (w.first_name, w.last_name) if p) or None,
                    step_id=w.step_id,
                    step_name=(domain.step_of(row.steps, w.step_id) or {}).get("name"),
                    waiting_for=w.waiting_for,
                    since=w.entered_at,
                    waiting_seconds=max((now - w.entered_at).total_seconds(), 0.0),
                )
                for w in longest
            ],
        )

    async def throughput(self, ctx: Context, period: Period, ref: DefinitionRef | None) -> Throughput:
        """Per ISO week of `period` (widened to whole weeks): cases opened, and cases decided."""
        period = Period(week_of(period.first), week_of(period.last) + timedelta(days=6))
        week = sa.func.date_trunc("week", case_days.c.day).cast(sa.Date)
        opened_stmt = (
            sa.select(week, sa.func.sum(case_days.c.opened))
            .where(case_days.c.org_id == ctx.org_id, case_days.c.day.between(period.first, period.last))
            .group_by(week)
        )
        spans = case_status_spans
        decided_week = sa.func.date_trunc("week", spans.c.entered_at, "UTC").cast(sa.Date)
        decided_stmt = (
            sa.select(decided_week, spans.c.status, sa.func.count(sa.distinct(spans.c.execution_id)))
            .where(
                spans.c.org_id == ctx.org_id,
                spans.c.status.in_(DECISIONS),
                spans.c.entered_at >= period.start,
                spans.c.entered_at < period.end,
            )
            .group_by(decided_week, spans.c.status)
        )
        if ref is not None:
            opened_stmt = opened_stmt.where(case_days.c.definition_key == _key(ctx.org_id, ref))
            decided_stmt = decided_stmt.where(spans.c.definition_key == _key(ctx.org_id, ref))
        async with self.db.scoped(ctx.org_id) as session:
            opened = {w: int(n) for w, n in (await session.execute(opened_stmt)).all()}
            decided: dict[tuple[date, str], int] = {
                (w, s): int(n) for w, s, n in (await session.execute(decided_stmt)).all()
            }
        weeks = []
        monday = period.first
        while monday <= period.last:
            approved = decided.get((monday, ExecutionStatus.APPROVED.value), 0)
            rejected = decided.get((monday, ExecutionStatus.REJECTED.value), 0)
            weeks.append(WeekCount(week=monday, opened=opened.get(monday, 0), decided=approved + rejected,
                                   approved=approved, rejected=rejected))  # fmt: skip
            monday += timedelta(days=7)
        approved, rejected = sum(w.approved for w in weeks), sum(w.rejected for w in weeks)
        return Throughput(
            weeks=weeks,
            approved=approved,
            rejected=rejected,
            approve_ratio=approved / (approved + rejected) if approved + rejected else None,
        )


async def _wait_stats(
    session: AsyncSession,
    org_id: str,
    spans: sa.Table,
    kind: sa.Column,
    key: str,
    version: int,
    since: datetime,
    now: datetime,
) -> dict[str, dict[str, Any]]:
    """Per step (or status): percentiles of each case's total time there, over the spans that
    ended since `since`; and the cases there now."""
    of_version = (spans.c.org_id == org_id, spans.c.definition_key == key, spans.c.definition_version == version)
    per_case = (
        sa.select(
            kind.label("kind"),
            sa.func.sum(sa.extract("epoch", spans.c.left_at - spans.c.entered_at)).label("seconds"),
        )
        .where(*of_version, spans.c.left_at >= since)
        .group_by(kind, spans.c.execution_id)
        .subquery()
    )
    done = (
        await session.execute(
            sa.select(
                per_case.c.kind,
                sa.func.count(),
                sa.func.percentile_disc(0.5).within_group(per_case.c.seconds),
                sa.func.percentile_disc(0.9).within_group(per_case.c.seconds),
                sa.func.max(per_case.c.seconds),
            ).group_by(per_case.c.kind)
        )
    ).all()
    waiting = (
        await session.execute(
            sa.select(kind, sa.func.count(), sa.func.min(spans.c.entered_at))
            .where(*of_version, spans.c.left_at.is_(None))
            .group_by(kind)
        )
    ).all()
    stats: dict[str, dict[str, Any]] = {}
    empty = {"cases": 0, "p50_seconds": None, "p90_seconds": None, "max_seconds": None, "waiting_now": 0,
             "longest_waiting_seconds": None}  # fmt: skip
    for name, count, p50, p90, longest in done:
        stats[name] = {**empty, "cases": count, "p50_seconds": float(p50), "p90_seconds": float(p90),
                       "max_seconds": float(longest)}  # fmt: skip
    for name, count, oldest in waiting:
        stats.setdefault(name, dict(empty)).update(
            waiting_now=count, longest_waiting_seconds=max((now - oldest).total_seconds(), 0.0)
        )
    return stats


async def _waiting_longest(session: AsyncSession, org_id: str, key: str, version: int, limit: int) -> list[Any]:
    spans = case_step_spans
    summaries = contact_summaries
    stmt = (
        sa.select(
            spans.c.execution_id,
            spans.c.step_id,
            spans.c.waiting_for,
            spans.c.entered_at,
            cases.c.contact_id,
            summaries.c.first_name,
            summaries.c.last_name,
        )
        .select_from(
            spans.join(cases, sa.and_(cases.c.org_id == spans.c.org_id, cases.c.id == spans.c.execution_id)).outerjoin(
                summaries,
                sa.and_(summaries.c.org_id == cases.c.org_id, summaries.c.contact_id == cases.c.contact_id),
            )
        )
        .where(
            spans.c.org_id == org_id,
            spans.c.left_at.is_(None),
            spans.c.definition_key == key,
            spans.c.definition_version == version,
        )
        .order_by(spans.c.entered_at, spans.c.execution_id)
        .limit(limit)
    )
    return list((await session.execute(stmt)).all())
