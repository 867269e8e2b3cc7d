"""`/v1/activity`: the audit trail (per case, contact or task, or the org's feed), and the
dashboard's parts built on it and on the task projection: `/v1/dashboard/my-tasks` and
`/v1/dashboard/activity` (the feed again). Read-only: nothing changes or deletes the trail."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from byte_platform.http import CurrentContext
from byte_platform.responses import JsonBytes
from byte_platform.validation import AwareDatetime
from fastapi import APIRouter, Depends, Query, Request

from byte_executions.api.deps import ActivityReads, provisioned
from byte_executions.queries.activity import ActivityFilter
from byte_executions.schemas import PAGE_SIZE_MAX, ActivityPage, MyTasks

router = APIRouter(prefix="/v1/activity", tags=["activity"], dependencies=[Depends(provisioned)])
dashboard = APIRouter(prefix="/v1/dashboard", tags=["dashboard"], dependencies=[Depends(provisioned)])

Limit = Annotated[int | None, Query(ge=1, le=PAGE_SIZE_MAX)]
Cursor = Annotated[str | None, Query(max_length=1024)]


async def activity_filter(
    actor: Annotated[str | None, Query(max_length=200, description="a user id or `system:<service>`")] = None,
    action: Annotated[
        str | None, Query(max_length=100, pattern=r"^[a-z_]+(\.[a-z_]+)+$", description="an event type")
    ] = None,
    occurred_from: Annotated[AwareDatetime | None, Query(alias="from", description="inclusive")] = None,
    occurred_to: Annotated[AwareDatetime | None, Query(alias="to", description="exclusive")] = None,
) -> ActivityFilter:
    return ActivityFilter(actor=actor, action=action, occurred_from=occurred_from, occurred_to=occurred_to)


Filter = Annotated[ActivityFilter, Depends(activity_filter)]


async def _page(ctx, queries, f: ActivityFilter, request: Request, limit: int | None, cursor: str | None) -> JsonBytes:
    items, next_cursor = await queries.trail(ctx, f, limit or request.app.state.settings.page_size_default, cursor)
    return JsonBytes({"items": items, "next_cursor": next_cursor})


@router.get("", response_model=ActivityPage, response_class=JsonBytes)
async def feed(
    ctx: CurrentContext, queries: ActivityReads, f: Filter, request: Request, limit: Limit = None, cursor: Cursor = None
) -> JsonBytes:
    """The org's feed, newest first: one entry per event of any service."""
    return await _page(ctx, queries, f, request, limit, cursor)


@router.get("/cases/{execution_id:uuid}", response_model=ActivityPage, response_class=JsonBytes)
async def case_trail(
    ctx: CurrentContext,
    queries: ActivityReads,
    f: Filter,
    request: Request,
    execution_id: uuid.UUID,
    limit: Limit = None,
    cursor: Cursor = None,
) -> JsonBytes:
    """A case's trail: the case, its tasks, its notes, its contact and its submission."""
    scoped = ActivityFilter(
        await queries.case_scope(ctx, execution_id), f.actor, f.action, f.occurred_from, f.occurred_to
    )
    return await _page(ctx, queries, scoped, request, limit, cursor)


@router.get("/contacts/{contact_id:uuid}", response_model=ActivityPage, response_class=JsonBytes)
async def contact_trail(
    ctx: CurrentContext,
    queries: ActivityReads,
    f: Filter,
    request: Request,
    contact_id: uuid.UUID,
    limit: Limit = None,
    cursor: Cursor = None,
) -> JsonBytes:
    """A contact's trail, its cases' and tasks' included."""
    scoped = ActivityFilter(("contact_id", contact_id), f.actor, f.action, f.occurred_from, f.occurred_to)
    return await _page(ctx, queries, scoped, request, limit, cursor)


@router.get("/tasks/{task_id:uuid}", response_model=ActivityPage, response_class=JsonBytes)
async def task_trail(
    ctx: CurrentContext,
    queries: ActivityReads,
    f: Filter,
    request: Request,
    task_id: uuid.UUID,
    limit: Limit = None,
    cursor: Cursor = None,
) -> JsonBytes:
    scoped = ActivityFilter(("task_id", task_id), f.actor, f.action, f.occurred_from, f.occurred_to)
    return await _page(ctx, queries, scoped, request, limit, cursor)


@dashboard.get("/my-tasks", response_model=MyTasks)
async def my_tasks(
    ctx: CurrentContext, queries: ActivityReads, limit: Annotated[int, Query(ge=1, le=PAGE_SIZE_MAX)] = 10
) -> MyTasks:
    """The caller's open tasks (claimed or assigned to them): how many, how many overdue, how
    many due within 7 days, and the first `limit`, soonest due first. From the task projection
    this service keeps of `task.*` events, so it may lag the tasks service by a moment."""
    return MyTasks.model_validate(await queries.my_tasks(ctx, datetime.now(UTC), limit))


@dashboard.get("/activity", response_model=ActivityPage, response_class=JsonBytes)
async def dashboard_feed(
    ctx: CurrentContext, queries: ActivityReads, f: Filter, request: Request, limit: Limit = None, cursor: Cursor = None
) -> JsonBytes:
    """The org's activity feed: the same as `GET /v1/activity`."""
    return await _page(ctx, queries, f, request, limit, cursor)
