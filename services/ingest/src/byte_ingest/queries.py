"""Reads: the org's forms, and its submissions with where each got to."""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from byte_platform.context import Context, require_admin
from byte_platform.db import Database, row_in_org
from byte_platform.pagination import Keyset, dump_time, parse_time

from byte_ingest.handlers import CONFIG_COLUMNS, SUBMISSION_COLUMNS, configs, public_form, submissions
from byte_ingest.schemas import SubmissionDetail, SubmissionSummary

SUMMARY_COLUMNS = [
    c for c in SUBMISSION_COLUMNS if c.name not in ("raw_body", "raw_truncated", "payload", "content_type")
]
NEWEST_FIRST = Keyset(submissions.c.received_at, submissions.c.id, True, "-received_at", parse_time, dump_time)


@dataclass(frozen=True)
class SubmissionFilter:
    status: str | None = None
    config_id: uuid.UUID | None = None
    submission_id: str | None = None


def detail(row: Any) -> SubmissionDetail:
    raw = bytes(row.raw_body)
    values = {c.name: getattr(row, c.name) for c in SUMMARY_COLUMNS}
    return SubmissionDetail(
        **values,
        content_type=row.content_type,
        raw_body=raw.decode("utf-8", errors="replace"),
        raw_body_base64=base64.b64encode(raw).decode(),
        raw_truncated=row.raw_truncated,
        payload=row.payload,
    )


@dataclass
class IngestQueries:
    db: Database

    async def forms(self, ctx: Context) -> list[dict[str, Any]]:
        require_admin(ctx)
        async with self.db.scoped(ctx.org_id) as session:
            rows = (
                await session.execute(
                    sa.select(*CONFIG_COLUMNS).where(configs.c.org_id == ctx.org_id).order_by(configs.c.created_at)
                )
            ).all()
        return [public_form(row) for row in rows]

    async def form(self, ctx: Context, config_id: uuid.UUID) -> dict[str, Any]:
        require_admin(ctx)
        async with self.db.scoped(ctx.org_id) as session:
            return public_form(await row_in_org(session, configs, CONFIG_COLUMNS, config_id, ctx.org_id, "form"))

    async def submissions(
        self, ctx: Context, f: SubmissionFilter, limit: int, cursor: str | None
    ) -> tuple[list[SubmissionSummary], str | None]:
        require_admin(ctx)
        stmt = sa.select(*SUMMARY_COLUMNS).where(submissions.c.org_id == ctx.org_id)
        if f.status:
            stmt = stmt.where(submissions.c.status == f.status)
        if f.config_id:
            stmt = stmt.where(submissions.c.config_id == f.config_id)
        if f.submission_id:
            stmt = stmt.where(submissions.c.submission_id == f.submission_id)
        async with self.db.scoped(ctx.org_id) as session:
            rows = (await session.execute(NEWEST_FIRST.page(stmt, cursor, limit))).all()
        page, next_cursor = NEWEST_FIRST.split(rows, limit)
        return [SubmissionSummary.model_validate(dict(r._mapping)) for r in page], next_cursor

    async def submission(self, ctx: Context, submission: uuid.UUID) -> SubmissionDetail:
        require_admin(ctx)
        async with self.db.scoped(ctx.org_id) as session:
            row = await row_in_org(session, submissions, SUBMISSION_COLUMNS, submission, ctx.org_id, "submission")
        return detail(row)
