"""Cases opened from intake forms: a case flagged as a possible duplicate of another contact
(`metadata.possible_duplicate_of`) is looked at by staff, who dismiss the flag."""

from __future__ import annotations

import uuid

from byte_platform.http import CurrentContext
from fastapi import APIRouter, Depends, Request

from byte_executions.api.deps import CaseReads, provisioned
from byte_executions.commands import DismissDuplicate
from byte_executions.handlers import IntakeHandlers
from byte_executions.schemas import ExecutionDetail

router = APIRouter(prefix="/v1/executions", tags=["executions"], dependencies=[Depends(provisioned)])


@router.post("/{execution_id:uuid}/duplicate/dismiss", response_model=ExecutionDetail)
async def dismiss_duplicate(
    ctx: CurrentContext, queries: CaseReads, request: Request, execution_id: uuid.UUID
) -> ExecutionDetail:
    """The applicant is not the contact the case was flagged against: the flag is cleared."""
    handlers: IntakeHandlers = request.app.state.intake_handlers
    await handlers.dismiss_duplicate(ctx, DismissDuplicate(execution_id))
    return await queries.get(ctx, execution_id)
