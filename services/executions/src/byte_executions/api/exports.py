"""`/v1/exports`: cases as CSV (filtered like the case list; one contact's cases) and the
pipeline report as a PDF. Exports take an org's data out in bulk, so they are for members:
guests (read-only) are refused here and at the gateway (docs/roles.md)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Annotated

from byte_platform.exports import EXPORT_FORMAT, EXPORT_HEADERS, EXPORT_TRAILER_FORMAT, require_exporter
from byte_platform.http import CurrentContext
from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import StreamingResponse

from byte_executions import report as pdf_report
from byte_executions.api.cases import Filter
from byte_executions.api.deps import provisioned
from byte_executions.queries.exports import ExportQueries

router = APIRouter(prefix="/v1/exports", tags=["exports"], dependencies=[Depends(provisioned)])


async def _queries(request: Request) -> ExportQueries:
    return request.app.state.export_queries


Reads = Annotated[ExportQueries, Depends(_queries)]


CSV_DESCRIPTION = f"""streamed (no `Content-Length`): a header row, one row per case, then one
trailer line `{EXPORT_TRAILER_FORMAT}` once every row was sent. A download is complete only when
its last line is the trailer and `<n>` equals the number of rows before it (no row starts with
`#`: `id` is the first column). Cells starting with `= + - @`, tab or carriage return are
prefixed with `'` so that spreadsheets show them as text. See docs/errors.md."""
CSV_RESPONSES = {
    200: {
        "content": {"text/csv": {"schema": {"type": "string"}}},
        "headers": {
            "X-Export-Format": {
                "description": f"`{EXPORT_FORMAT}`: the body ends with `{EXPORT_TRAILER_FORMAT}`",
                "schema": {"type": "string", "enum": [EXPORT_FORMAT]},
            }
        },
    }
}


def _csv(body: AsyncIterator[str], filename: str) -> StreamingResponse:
    return StreamingResponse(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"', **EXPORT_HEADERS},
    )


@router.get(
    "/cases.csv",
    response_class=StreamingResponse,
    responses=CSV_RESPONSES,  # type: ignore[arg-type]
    description="The cases the filters keep (those of `GET /v1/executions`), in its order, as CSV, " + CSV_DESCRIPTION,
)
async def export_cases(ctx: CurrentContext, reads: Reads, f: Filter) -> StreamingResponse:
    require_exporter(ctx)
    return _csv(reads.cases_csv(ctx, f), "cases.csv")


@router.get(
    "/contacts/{contact_id:uuid}/cases.csv",
    response_class=StreamingResponse,
    responses=CSV_RESPONSES,  # type: ignore[arg-type]
    description="One contact's cases (the other filters of `GET /v1/executions` apply), as CSV, " + CSV_DESCRIPTION,
)
async def export_contact_cases(
    ctx: CurrentContext, reads: Reads, f: Filter, contact_id: uuid.UUID
) -> StreamingResponse:
    require_exporter(ctx)
    await reads.contact_known(ctx, contact_id)
    f = replace(f, contact_id=contact_id)
    return _csv(reads.cases_csv(ctx, f), f"contact-{contact_id}-cases.csv")


@router.get(
    "/report.pdf",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}}}},
)
async def export_report(
    ctx: CurrentContext,
    reads: Reads,
    days: Annotated[int, Query(ge=1, le=366, description="days in the cases-per-day chart, up to today")] = 30,
) -> Response:
    """The pipeline report: cases by status, cases opened and closed per day, where the cases
    of the org's first definition wait, and the open cases (oldest first, up to 200)."""
    require_exporter(ctx)
    report = await reads.report(ctx, days)
    # laying out pages is CPU work: off the event loop
    body = await asyncio.to_thread(pdf_report.render, report)
    return Response(
        body,
        media_type="application/pdf",
        headers={"Content-Disposition": 'attachment; filename="pipeline-report.pdf"'},
    )
