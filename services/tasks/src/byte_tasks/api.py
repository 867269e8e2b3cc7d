"""HTTP routes: parse, check the caller may write, call a handler or query, shape the answer.

Actions on a task are PATCHes of a sub-resource:
`PATCH /v1/tasks/{id}/status|claim|unclaim|approve|reject|move`.
"""

from __future__ import annotations

import json
import uuid
from typing import Annotated, Any

from byte_contracts.enums import TaskOutcome, TaskPriority, TaskStatus, TaskType
from byte_platform.http import CurrentContext
from byte_platform.responses import JsonBytes, page_response
from byte_platform.validation import AwareDatetime
from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response, status
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from byte_tasks.commands import (
    ChangeTaskStatus,
    ClaimTask,
    CreateTask,
    DecideTask,
    DeleteTask,
    MoveTask,
    UnclaimTask,
    UpdateTask,
)
from byte_tasks.domain import Sort, parse_sort
from byte_tasks.handlers import PUBLIC_COLUMNS, TaskHandlers
from byte_tasks.queries import TaskFilter, TaskQueries
from byte_tasks.schemas import (
    PAGE_SIZE_MAX,
    Approval,
    Move,
    Rejection,
    StatusChange,
    TaskCreate,
    TaskPage,
    TaskPublic,
    TaskUpdate,
)

router = APIRouter(prefix="/v1/tasks", tags=["tasks"])

SORT_PATTERN = "^-?(" + "|".join(s.value for s in Sort) + ")$"


def _handlers(request: Request) -> TaskHandlers:
    return request.app.state.handlers


def _queries(request: Request) -> TaskQueries:
    return request.app.state.queries


Handlers = Annotated[TaskHandlers, Depends(_handlers)]
Queries = Annotated[TaskQueries, Depends(_queries)]
Limit = Annotated[int | None, Query(ge=1, le=PAGE_SIZE_MAX)]
Cursor = Annotated[str | None, Query(max_length=1024)]
SortParam = Annotated[str, Query(pattern=SORT_PATTERN, description="field, `-` prefix for descending")]


def public(task) -> TaskPublic:
    return TaskPublic.model_validate(task.model_dump())


def _page_size(request: Request, limit: int | None) -> int:
    return limit or request.app.state.settings.page_size_default


@router.get("", response_model=TaskPage, response_class=JsonBytes)
async def list_tasks(
    ctx: CurrentContext,
    queries: Queries,
    request: Request,
    assignee: Annotated[
        str | None, Query(min_length=1, max_length=200, description="`me`, `none` (unassigned) or a user id")
    ] = None,
    status: Annotated[list[TaskStatus] | None, Query(description="repeat for several")] = None,
    role: Annotated[str | None, Query(min_length=1, max_length=100)] = None,
    execution: uuid.UUID | None = None,
    contact: uuid.UUID | None = None,
    task_type: TaskType | None = None,
    priority: TaskPriority | None = None,
    due_before: AwareDatetime | None = None,
    due_after: AwareDatetime | None = None,
    overdue: bool | None = None,
    sort: SortParam = "-created_at",
    limit: Limit = None,
    cursor: Cursor = None,
) -> JsonBytes:
    key, descending = parse_sort(sort)
    f = TaskFilter(
        assignee=ctx.user_id if assignee == "me" else (None if assignee in (None, "none") else assignee),
        unassigned=assignee == "none",
        statuses=tuple(status or ()),
        role=role,
        execution=execution,
        contact=contact,
        task_type=task_type,
        priority=priority,
        due_before=due_before,
        due_after=due_after,
        overdue=overdue,
        sort=key,
        descending=descending,
    )
    rows, next_cursor = await queries.page(ctx, f, _page_size(request, limit), cursor)
    return page_response(rows, PUBLIC_COLUMNS, next_cursor)


@router.get("/available", response_model=TaskPage, response_class=JsonBytes)
async def available_tasks(
    ctx: CurrentContext,
    queries: Queries,
    request: Request,
    sort: SortParam = "-created_at",
    limit: Limit = None,
    cursor: Cursor = None,
) -> JsonBytes:
    """Unclaimed, open tasks assigned to one of the caller's roles: what they may claim."""
    key, descending = parse_sort(sort)
    f = TaskFilter(available_for=frozenset(ctx.roles), sort=key, descending=descending)
    rows, next_cursor = await queries.page(ctx, f, _page_size(request, limit), cursor)
    return page_response(rows, PUBLIC_COLUMNS, next_cursor)


@router.post("", response_model=TaskPublic, status_code=status.HTTP_201_CREATED)
async def create_task(ctx: CurrentContext, handlers: Handlers, body: TaskCreate, response: Response) -> TaskPublic:
    task = await handlers.create(ctx, CreateTask(body))
    response.headers["Location"] = f"/v1/tasks/{task.id}"
    return public(task)


@router.get("/{task_id:uuid}", response_model=TaskPublic)
async def get_task(ctx: CurrentContext, queries: Queries, task_id: uuid.UUID) -> TaskPublic:
    return public(await queries.get(ctx, task_id))


@router.patch("/{task_id:uuid}", response_model=TaskPublic)
async def update_task(ctx: CurrentContext, handlers: Handlers, task_id: uuid.UUID, body: TaskUpdate) -> TaskPublic:
    return public(await handlers.update(ctx, UpdateTask(task_id, body)))


@router.delete("/{task_id:uuid}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_task(ctx: CurrentContext, handlers: Handlers, task_id: uuid.UUID) -> Response:
    await handlers.delete(ctx, DeleteTask(task_id))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.patch("/{task_id:uuid}/status", response_model=TaskPublic)
async def change_status(ctx: CurrentContext, handlers: Handlers, task_id: uuid.UUID, body: StatusChange) -> TaskPublic:
    return public(await handlers.change_status(ctx, ChangeTaskStatus(task_id, body.status, body.comment)))


CLAIM_RESPONSES: dict[int | str, dict[str, Any]] = {
    409: {"description": "already claimed (the problem's `assigned_to` names who holds it) or done"},
    403: {"description": "the task's role is not one of yours"},
}


@router.patch("/{task_id:uuid}/claim", response_model=TaskPublic, responses=CLAIM_RESPONSES)
async def claim_task(ctx: CurrentContext, handlers: Handlers, task_id: uuid.UUID) -> TaskPublic:
    return public(await handlers.claim(ctx, ClaimTask(task_id)))


@router.patch("/{task_id:uuid}/unclaim", response_model=TaskPublic)
async def unclaim_task(ctx: CurrentContext, handlers: Handlers, task_id: uuid.UUID) -> TaskPublic:
    return public(await handlers.unclaim(ctx, UnclaimTask(task_id)))


async def _optional_approval(request: Request) -> Approval:
    """approve takes an optional body: none at all means no comment. Otherwise it is read as
    FastAPI reads any body (Python's json, then the model), so a lone surrogate escape is
    refused at the field that holds it, as everywhere else."""
    raw = await request.body()
    if not raw.strip():
        return Approval()
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise RequestValidationError(
            [
                {
                    "type": "json_invalid",
                    "loc": ("body", exc.pos),
                    "msg": "JSON decode error",
                    "input": {},
                    "ctx": {"error": exc.msg},
                }
            ]
        ) from None
    except (ValueError, RecursionError) as exc:
        raise HTTPException(400, "There was an error parsing the body") from exc
    try:
        return Approval.model_validate(data)
    except ValidationError as exc:
        raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]) from None


@router.patch(
    "/{task_id:uuid}/approve",
    response_model=TaskPublic,
    openapi_extra={"requestBody": {"content": {"application/json": {"schema": Approval.model_json_schema()}}}},
)
async def approve_task(
    ctx: CurrentContext, handlers: Handlers, task_id: uuid.UUID, body: Annotated[Approval, Depends(_optional_approval)]
) -> TaskPublic:
    return public(await handlers.decide(ctx, DecideTask(task_id, TaskOutcome.APPROVED, body.comment)))


@router.patch("/{task_id:uuid}/reject", response_model=TaskPublic)
async def reject_task(ctx: CurrentContext, handlers: Handlers, task_id: uuid.UUID, body: Rejection) -> TaskPublic:
    return public(await handlers.decide(ctx, DecideTask(task_id, TaskOutcome.REJECTED, body.comment)))


@router.patch("/{task_id:uuid}/move", response_model=TaskPublic)
async def move_task(ctx: CurrentContext, handlers: Handlers, task_id: uuid.UUID, body: Move) -> TaskPublic:
    return public(await handlers.move(ctx, MoveTask(task_id, body)))
