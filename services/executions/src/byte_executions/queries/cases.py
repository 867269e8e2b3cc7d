"""Reads of cases: a filtered keyset page (with each contact's summary), the board (counts and
first page per status), and one case with its definition version and where it stands."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from byte_contracts.enums import DEFAULT_EXECUTION_STATUSES
from byte_contracts.errors import NotFound
from byte_platform.context import Context
from byte_platform.db import Database
from byte_platform.pagination import Keyset, dump_time, parse_time
from sqlalchemy.ext.asyncio import AsyncSession

from byte_executions import domain
from byte_executions.commands import DefinitionRef
from byte_executions.domain import CaseSort
from byte_executions.models import case_counts, contact_summaries, workflow_definitions, workflow_executions
from byte_executions.queries.definitions import find_version
from byte_executions.schemas import Board, BoardColumn, ExecutionDetail, ExecutionPublic

cases = workflow_executions
summaries = contact_summaries
definitions = workflow_definitions

CASE_FIELDS = [name for name in ExecutionPublic.model_fields if name != "contact"]
CONTACT_FIELDS = ("first_name", "last_name", "email", "phone", "deleted")
COLUMNS = [
    *(cases.c[name] for name in CASE_FIELDS),
    summaries.c.contact_id.label("contact_known"),
    *(summaries.c[name].label(f"contact_{name}") for name in CONTACT_FIELDS),
]
JOINED = cases.outerjoin(
    summaries, sa.and_(summaries.c.org_id == cases.c.org_id, summaries.c.contact_id == cases.c.contact_id)
)
SORT_KEYS = {CaseSort.STARTED_AT: cases.c.started_at, CaseSort.UPDATED_AT: cases.c.updated_at}


@dataclass(frozen=True)
class CaseFilter:
    statuses: tuple[str, ...] = ()
    definition: DefinitionRef | None = None
    contact_id: uuid.UUID | None = None
    source: str | None = None
    run_state: str | None = None
    opened_from: datetime | None = None
    opened_to: datetime | None = None
    closed_from: datetime | None = None
    closed_to: datetime | None = None
    q: str | None = None
    sort: CaseSort = CaseSort.STARTED_AT
    descending: bool = True

    def where(self, org_id: str) -> list[sa.ColumnElement]:
        clauses: list[sa.ColumnElement] = [cases.c.org_id == org_id]
        if self.statuses:
            clauses.append(cases.c.status.in_(self.statuses))
        if self.definition is not None:
            clauses.append(cases.c.definition_key == self.definition_key(org_id))
        if self.contact_id is not None:
            clauses.append(cases.c.contact_id == self.contact_id)
        if self.source:
            clauses.append(cases.c.source == self.source)
        if self.run_state:
            clauses.append(cases.c.run_state == self.run_state)
        if self.opened_from:
            clauses.append(cases.c.started_at >= self.opened_from)
        if self.opened_to:
            clauses.append(cases.c.started_at < self.opened_to)
        if self.closed_from:
            clauses.append(cases.c.completed_at >= self.closed_from)
        if self.closed_to:
            clauses.append(cases.c.completed_at < self.closed_to)
        if self.q:
            needle = self.q.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            clauses.append(summaries.c.search_text.like(f"%{needle}%", escape="\\"))
        return clauses

    @property
    def by_definition_only(self) -> bool:
        """Whether the cases it keeps are those of an org, or of one definition: what the
        counts projection counts."""
        narrowing = (self.statuses, self.contact_id, self.source, self.run_state, self.opened_from, self.opened_to,
                     self.closed_from, self.closed_to, self.q)  # fmt: skip
        return not any(narrowing)

    def definition_key(self, org_id: str) -> Any:
        if isinstance(self.definition, uuid.UUID):
            return (
                sa.select(definitions.c.definition_key)
                .where(definitions.c.org_id == org_id, definitions.c.id == self.definition)
                .scalar_subquery()
            )
        return self.definition

    @property
    def keyset(self) -> Keyset:
        param = ("-" if self.descending else "") + self.sort.value
        return Keyset(SORT_KEYS[self.sort], cases.c.id, self.descending, param, parse_time, dump_time)


def item(row: Any) -> dict[str, Any]:
    """A case as the API shows it, with its contact's summary."""
    m = row._mapping
    out = {name: m[name] for name in CASE_FIELDS}
    out["contact"] = (
        {"id": m["contact_id"], **{name: m[f"contact_{name}"] for name in CONTACT_FIELDS}}
        if m["contact_known"] is not None
        else None
    )
    return out


async def _page(
    session: AsyncSession, org_id: str, f: CaseFilter, limit: int, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    keyset = f.keyset
    stmt = keyset.page(sa.select(*COLUMNS).select_from(JOINED).where(*f.where(org_id)), cursor, limit)
    rows, next_cursor = keyset.split((await session.execute(stmt)).all(), limit)
    return [item(r) for r in rows], next_cursor


async def _counts(session: AsyncSession, org_id: str, f: CaseFilter) -> dict[str, int]:
    """Cases per status: from the counts projection (a few rows per definition, however many
    cases) when the filter keeps an org's or a definition's cases; else counted over the cases
    the filter keeps (contact, source, dates, text narrow them first)."""
    if f.by_definition_only:
        stmt = sa.select(case_counts.c.status, sa.func.sum(case_counts.c.count)).where(
            case_counts.c.org_id == org_id, case_counts.c.count > 0
        )
        if f.definition is not None:
            stmt = stmt.where(case_counts.c.definition_key == f.definition_key(org_id))
        rows = (await session.execute(stmt.group_by(case_counts.c.status))).all()
    else:
        rows = (
            await session.execute(
                sa.select(cases.c.status, sa.func.count())
                .select_from(JOINED)
                .where(*f.where(org_id))
                .group_by(cases.c.status)
            )
        ).all()
    return {status: int(count) for status, count in rows}


@dataclass
class CaseQueries:
    db: Database

    async def page(
        self, ctx: Context, f: CaseFilter, limit: int, cursor: str | None
    ) -> tuple[Sequence[dict[str, Any]], str | None]:
        async with self.db.scoped(ctx.org_id) as session:
            return await _page(session, ctx.org_id, f, limit, cursor)

    async def get(self, ctx: Context, execution_id: uuid.UUID) -> ExecutionDetail:
        async with self.db.scoped(ctx.org_id) as session:
            row = (
                await session.execute(
                    sa.select(*COLUMNS)
                    .select_from(JOINED)
                    .where(cases.c.org_id == ctx.org_id, cases.c.id == execution_id)
                )
            ).one_or_none()
            if row is None:
                raise NotFound("execution")
            version = (
                await session.execute(
                    sa.select(
                        definitions.c.id,
                        definitions.c.definition_key,
                        definitions.c.version,
                        definitions.c.name,
                        definitions.c.phases,
                        definitions.c.steps,
                        definitions.c.statuses,
                        definitions.c.variables,
                    ).where(definitions.c.org_id == ctx.org_id, definitions.c.id == row.definition_id)
                )
            ).one()
        case = item(row)
        step = domain.step_of(version.steps, case["current_step_id"])
        phase = next((p for p in version.phases if p["id"] == case["current_phase_id"]), None)
        label = next((s["label"] for s in version.statuses if s["key"] == case["status"]), case["status"].title())
        standing = {
            "status": case["status"],
            "status_label": label,
            "run_state": case["run_state"],
            "phase_id": case["current_phase_id"],
            "phase_name": phase["name"] if phase else None,
            "step_id": case["current_step_id"],
            "step_name": step["name"] if step else None,
            "step_type": step["type"] if step else None,
            "waiting_for": case["waiting_for"],
            "since": case["step_entered_at"],
        }
        return ExecutionDetail.model_validate({**case, "definition": dict(version._mapping), "standing": standing})

    async def board(self, ctx: Context, f: CaseFilter, per_column: int) -> Board:
        """A column per status (the definition's when one is named, else every status of the
        org's definitions), each with its count and first page."""
        f = replace(f, statuses=(), sort=CaseSort.STARTED_AT, descending=True)
        async with self.db.scoped(ctx.org_id) as session:
            if f.definition is not None:
                statuses = list((await find_version(session, ctx.org_id, f.definition, None)).statuses)
            else:
                statuses = []
                for listed in await session.scalars(
                    sa.select(definitions.c.statuses)
                    .where(definitions.c.org_id == ctx.org_id, definitions.c.is_latest)
                    .order_by(definitions.c.created_at)
                ):
                    statuses += listed
                statuses = statuses or list(DEFAULT_EXECUTION_STATUSES)
            counts = await _counts(session, ctx.org_id, f)
            columns: dict[str, dict[str, Any]] = {}
            for status in statuses:
                columns.setdefault(status["key"], {"status": status["key"], "label": status["label"],
                                                   "color": status.get("color")})  # fmt: skip
            for key in sorted(set(counts) - set(columns)):
                columns[key] = {"status": key, "label": key.replace("_", " ").title(), "color": None}
            for key, column in columns.items():
                column["count"] = counts.get(key, 0)
                if column["count"]:
                    column["items"], column["next_cursor"] = await _page(
                        session, ctx.org_id, replace(f, statuses=(key,)), per_column, None
                    )
                else:
                    column["items"], column["next_cursor"] = [], None
        return Board(columns=[BoardColumn.model_validate(c) for c in columns.values()])
