"""`/v1/dashboard`: the state of the pipeline (cases by status, opened and closed per day,
recent cases) and where cases wait (per step and status of a definition version, the cases
waiting longest, decisions per week). Every role reads it, guests included."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated

from byte_platform.http import CurrentContext
from byte_platform.validation import AwareDatetime, IsoDate
from fastapi import APIRouter, Depends, Query, Request

from byte_executions import domain
from byte_executions.api.deps import provisioned
from byte_executions.commands import DefinitionRef
from byte_executions.queries.dashboard import DashboardQueries, Period
from byte_executions.schemas import CasesByStatus, CasesPerDay, RecentCases, Throughput, Waits

router = APIRouter(prefix="/v1/dashboard", tags=["dashboard"], dependencies=[Depends(provisioned)])

MAX_DAYS = 366
MAX_WEEKS = 104
# Days a case can have: the bounds keep a range's arithmetic (whole weeks, the day after) in
# what dates can hold.
FIRST_DAY, LAST_DAY = date(1970, 1, 1), date(9999, 1, 1)


async def _queries(request: Request) -> DashboardQueries:
    return request.app.state.dashboard_queries


Reads = Annotated[DashboardQueries, Depends(_queries)]


async def definition_filter(
    definition_id: Annotated[
        str | None,
        Query(max_length=100, pattern=domain.DEFINITION_REF_PATTERN, description="any version's id, or the key"),
    ] = None,
) -> DefinitionRef | None:
    return domain.definition_ref(definition_id, field="definition_id", location="query") if definition_id else None


Definition = Annotated[DefinitionRef | None, Depends(definition_filter)]


def period(first: date | None, last: date | None, default_days: int, max_days: int) -> Period:
    """The days asked for, as the case list reads its date filters: a `from` after `to` keeps
    no day (an empty answer, not an error); a range longer than `max_days` keeps its last
    `max_days`."""
    last = min(max(last or datetime.now(UTC).date(), FIRST_DAY), LAST_DAY)
    first = first or last - timedelta(days=default_days - 1)
    return Period(max(first, FIRST_DAY, last - timedelta(days=max_days - 1)), last)


@router.get("/cases-by-status", response_model=CasesByStatus)
async def cases_by_status(ctx: CurrentContext, reads: Reads, definition: Definition) -> CasesByStatus:
    """Every status (of the named definition, or of all the org's), with its case count: for a chart."""
    return await reads.by_status(ctx, definition)


@router.get("/cases-per-day", response_model=CasesPerDay)
async def cases_per_day(
    ctx: CurrentContext,
    reads: Reads,
    definition: Definition,
    first: Annotated[
        IsoDate | None, Query(alias="from", description="first UTC day; default: 29 days before `to`")
    ] = None,
    last: Annotated[IsoDate | None, Query(alias="to", description="last UTC day (inclusive); default: today")] = None,
) -> CasesPerDay:
    """Cases opened and closed (their workflow ended) per UTC day, every day of the range listed
    (at most the last 366 days of it)."""
    return await reads.per_day(ctx, period(first, last, 30, MAX_DAYS), definition)


@router.get("/recent-cases", response_model=RecentCases)
async def recent_cases(
    ctx: CurrentContext, reads: Reads, definition: Definition, limit: Annotated[int, Query(ge=1, le=50)] = 10
) -> RecentCases:
    """The newest cases, with their contacts."""
    return RecentCases.model_validate({"items": await reads.recent(ctx, limit, definition)})


@router.get("/waits", response_model=Waits)
async def waits(
    ctx: CurrentContext,
    reads: Reads,
    definition: Definition,
    version: Annotated[int | None, Query(ge=1, le=1_000_000, description="default: the latest")] = None,
    since: Annotated[
        AwareDatetime | None, Query(description="count the cases that left a step since then; default: 90 days ago")
    ] = None,
) -> Waits:
    """Where the cases of one definition version wait: per step and per status the time cases
    spent there (p50, p90, max, each case's visits summed), how many are there now and for how
    long, and the cases waiting longest in their current step. The org's first definition when
    none is named."""
    since = since or datetime.now(UTC) - timedelta(days=90)
    return await reads.waits(ctx, definition, version, since)


@router.get("/throughput", response_model=Throughput)
async def throughput(
    ctx: CurrentContext,
    reads: Reads,
    definition: Definition,
    first: Annotated[IsoDate | None, Query(alias="from", description="default: 12 weeks before `to`")] = None,
    last: Annotated[IsoDate | None, Query(alias="to", description="default: today")] = None,
) -> Throughput:
    """Cases opened and decided (approved or rejected) per ISO week (the weeks holding `from`
    and `to` included; at most 104 weeks), and the approve/reject ratio."""
    return await reads.throughput(ctx, period(first, last, 12 * 7, MAX_WEEKS * 7), definition)
