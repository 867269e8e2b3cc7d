"""Where cases wait: the spans a case spent in each workflow step and each status, written in
the transaction of the case write that reports them (handlers/cases.py).

A span is keyed by its case, its start and its step (or status), so a redelivered event, even
under a new envelope id, inserts nothing. Its end is not taken from the event: after every
insert, the case's spans are ended again from scratch (each where the next one begins, the last
when the case ended), so events arriving in any order leave the same spans."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from byte_platform.unit_of_work import Work
from sqlalchemy.dialects.postgresql import insert

from byte_executions.models import case_status_spans, case_step_spans

Spans = sa.Table


async def _end_spans(work: Work, spans: Spans, kind: sa.Column, execution_id: Any, ended_at: datetime | None) -> None:
    following = (
        sa.select(
            spans.c.entered_at,
            kind,
            sa.func.coalesce(
                sa.func.lead(spans.c.entered_at).over(order_by=(spans.c.entered_at, kind)), ended_at
            ).label("left_at"),
        )
        .where(spans.c.org_id == work.ctx.org_id, spans.c.execution_id == execution_id)
        .subquery()
    )
    await work.session.execute(
        sa.update(spans)
        .where(
            spans.c.org_id == work.ctx.org_id,
            spans.c.execution_id == execution_id,
            spans.c.entered_at == following.c.entered_at,
            kind == following.c[kind.name],
            spans.c.left_at.is_distinct_from(following.c.left_at),
        )
        .values(left_at=following.c.left_at)
    )


async def step_entered(
    work: Work, case: Any, step_id: str, phase_id: str | None, waiting_for: str | None, entered_at: datetime
) -> None:
    """`case`: the case's row (locked)."""
    await work.session.execute(
        insert(case_step_spans)
        .values(
            org_id=work.ctx.org_id,
            execution_id=case.id,
            entered_at=entered_at,
            step_id=step_id,
            phase_id=phase_id,
            waiting_for=waiting_for,
            definition_key=case.definition_key,
            definition_version=case.definition_version,
        )
        .on_conflict_do_nothing()
    )
    await _end_spans(work, case_step_spans, case_step_spans.c.step_id, case.id, case.completed_at)


async def status_entered(work: Work, case: Any, status: str, entered_at: datetime) -> None:
    await work.session.execute(
        insert(case_status_spans)
        .values(
            org_id=work.ctx.org_id,
            execution_id=case.id,
            entered_at=entered_at,
            status=status,
            definition_key=case.definition_key,
            definition_version=case.definition_version,
        )
        .on_conflict_do_nothing()
    )
    await _end_spans(work, case_status_spans, case_status_spans.c.status, case.id, case.completed_at)


async def case_ended(work: Work, case: Any, ended_at: datetime) -> None:
    """The case's last step and status end when the case does."""
    await _end_spans(work, case_step_spans, case_step_spans.c.step_id, case.id, ended_at)
    await _end_spans(work, case_status_spans, case_status_spans.c.status, case.id, ended_at)


async def case_deleted(work: Work, execution_id: Any) -> None:
    for spans in (case_step_spans, case_status_spans):
        await work.session.execute(
            sa.delete(spans).where(spans.c.org_id == work.ctx.org_id, spans.c.execution_id == execution_id)
        )
