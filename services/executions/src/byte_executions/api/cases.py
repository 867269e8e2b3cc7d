"""`/v1/executions`: cases. A status change or a cancellation is a request to the case's
workflow (202); the case changes when the workflow confirms."""

from __future__ import annotations

import uuid
from typing import Annotated

from byte_contracts.definitions.models import StatusKey
from byte_contracts.enums import ExecutionSource
from byte_platform.http import CurrentContext
from byte_platform.responses import JsonBytes
from byte_platform.validation import AwareDatetime
from fastapi import APIRouter, Depends, Query, Request, Response, status

from byte_executions import domain
from byte_executions.api.deps import CaseCommands, CaseReads, LiveReads, provisioned
from byte_executions.commands import (
    CancelCase,
    DeleteCase,
    OpenCase,
    RequestStatusChange,
    UpdateCase,
)
from byte_executions.domain import CaseSort, RunState
from byte_executions.queries import CaseFilter
from byte_executions.schemas import (
    PAGE_SIZE_MAX,
    Board,
    CancelAccepted,
    CancelRequest,
    ExecutionCreate,
    ExecutionDeletedAnswer,
    ExecutionDetail,
    ExecutionPage,
    ExecutionUpdate,
    StatusChangeAccepted,
    StatusChangeRequest,
)

router = APIRouter(prefix="/v1/executions", tags=["executions"], dependencies=[Depends(provisioned)])

SORT_PATTERN = "^-?(" + "|".join(s.value for s in CaseSort) + ")$"


async def case_filter(
    # status keys have a shape (the definition language's): anything else is a 422, not an empty board
    status: Annotated[list[StatusKey] | None, Query(max_length=20, description="one or more statuses")] = None,
    definition_id: Annotated[
        str | None,
        Query(max_length=100, pattern=domain.DEFINITION_REF_PATTERN, description="any version's id, or the key"),
    ] = None,
    contact_id: uuid.UUID | None = None,
    source: ExecutionSource | None = None,
    run_state: RunState | None = None,
    opened_from: AwareDatetime | None = None,
    opened_to: AwareDatetime | None = None,
    closed_from: AwareDatetime | None = None,
    closed_to: AwareDatetime | None = None,
    q: Annotated[str | None, Query(max_length=200, description="substring of the contact's name or email")] = None,
    sort: Annotated[str, Query(pattern=SORT_PATTERN, description="field, `-` prefix for descending")] = "-started_at",
) -> CaseFilter:
    key, descending = domain.parse_sort(sort, CaseSort)
    return CaseFilter(
        statuses=tuple(status or ()),
        definition=domain.definition_ref(definition_id, field="definition_id", location="query")
        if definition_id
        else None,
        contact_id=contact_id,
        source=source.value if source else None,
        run_state=run_state.value if run_state else None,
        opened_from=opened_from,
        opened_to=opened_to,
        closed_from=closed_from,
        closed_to=closed_to,
        q=q or None,
        sort=key,
        descending=descending,
    )


Filter = Annotated[CaseFilter, Depends(case_filter)]


@router.get("", response_model=ExecutionPage, response_class=JsonBytes)
async def list_executions(
    ctx: CurrentContext,
    queries: CaseReads,
    f: Filter,
    request: Request,
    limit: Annotated[int | None, Query(ge=1, le=PAGE_SIZE_MAX)] = None,
    cursor: Annotated[str | None, Query(max_length=1024)] = None,
) -> JsonBytes:
    items, next_cursor = await queries.page(ctx, f, limit or request.app.state.settings.page_size_default, cursor)
    return JsonBytes({"items": items, "next_cursor": next_cursor})


@router.get("/board", response_model=Board)
async def board(
    ctx: CurrentContext,
    queries: CaseReads,
    f: Filter,
    limit: Annotated[int, Query(ge=1, le=PAGE_SIZE_MAX, description="cases per column")] = 20,
) -> Board:
    """A kanban: a column per status with its count and first page (`status` filters are
    ignored here; the others apply)."""
    return await queries.board(ctx, f, limit)


@router.post("", response_model=ExecutionDetail, status_code=status.HTTP_201_CREATED)
async def open_case(
    ctx: CurrentContext, handlers: CaseCommands, queries: CaseReads, body: ExecutionCreate, response: Response
) -> ExecutionDetail:
    """Opens a case (status: the definition's first) and emits `execution.created`. With a
    `source_id` already used for this source, answers that case (200) and opens nothing."""
    execution, created = await handlers.open(
        ctx,
        OpenCase(
            contact_id=body.contact_id,
            definition=domain.definition_ref(body.definition_id, field="definition_id", location="body"),
            variables=body.variables,
            metadata=body.metadata,
            source=body.source.value,
            source_id=body.source_id,
        ),
    )
    if not created:
        response.status_code = status.HTTP_200_OK
    response.headers["Location"] = f"/v1/executions/{execution.id}"
    return await queries.get(ctx, execution.id)


@router.get("/{execution_id:uuid}", response_model=ExecutionDetail)
async def get_case(
    ctx: CurrentContext, queries: CaseReads, live: LiveReads, execution_id: uuid.UUID
) -> ExecutionDetail:
    """The case, its definition version and `standing` (what its workflow last reported), and
    `state`: live from its workflow (current step, what it waits for since when, every step so
    far), or from the last report when the workflow cannot answer (`state.source`)."""
    case = await queries.get(ctx, execution_id)
    return case.model_copy(update={"state": await live.of(case)})


@router.patch("/{execution_id:uuid}", response_model=ExecutionDetail)
async def update_case(
    ctx: CurrentContext, handlers: CaseCommands, queries: CaseReads, execution_id: uuid.UUID, body: ExecutionUpdate
) -> ExecutionDetail:
    await handlers.update(ctx, UpdateCase(execution_id, variables=body.variables, metadata=body.metadata))
    return await queries.get(ctx, execution_id)


@router.post("/{execution_id:uuid}/status", response_model=StatusChangeAccepted, status_code=status.HTTP_202_ACCEPTED)
async def request_status_change(
    ctx: CurrentContext, handlers: CaseCommands, execution_id: uuid.UUID, body: StatusChangeRequest
) -> StatusChangeAccepted:
    """Asks the case's workflow for `status`; the case shows it as `pending_status` until the
    workflow confirms."""
    pending = await handlers.request_status(ctx, RequestStatusChange(execution_id, body.status, body.reason))
    return StatusChangeAccepted(
        execution_id=execution_id,
        request_id=pending.request_id,
        status=pending.status,
        current_status=pending.execution.status,
        requested_at=pending.requested_at,
    )


@router.post("/{execution_id:uuid}/cancel", response_model=CancelAccepted, status_code=status.HTTP_202_ACCEPTED)
async def cancel_case(
    ctx: CurrentContext, handlers: CaseCommands, execution_id: uuid.UUID, body: CancelRequest | None = None
) -> CancelAccepted:
    pending = await handlers.cancel(ctx, CancelCase(execution_id, body.reason if body else None))
    return CancelAccepted(execution_id=execution_id, request_id=pending.request_id, requested_at=pending.requested_at)


@router.delete("/{execution_id:uuid}", response_model=ExecutionDeletedAnswer)
async def delete_case(ctx: CurrentContext, handlers: CaseCommands, execution_id: uuid.UUID) -> ExecutionDeletedAnswer:
    """Admins only. A running case's workflow is asked to cancel first; the answer says so."""
    cancelled = await handlers.delete(ctx, DeleteCase(execution_id))
    return ExecutionDeletedAnswer(execution_id=execution_id, deleted=True, workflow_cancelled=cancelled)
