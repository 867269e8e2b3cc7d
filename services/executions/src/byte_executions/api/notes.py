"""`/v1/notes`: notes on a case, a contact or a task. Members write; the author or an admin
edits and deletes; guests read."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from byte_platform.http import CurrentContext
from byte_platform.responses import JsonBytes
from fastapi import APIRouter, Depends, Query, Request, Response, status

from byte_executions.api.deps import ActivityReads, NoteCommands, provisioned
from byte_executions.commands import DeleteNote, EditNote, WriteNote
from byte_executions.schemas import PAGE_SIZE_MAX, NoteCreate, NotePage, NotePublic, NoteUpdate

router = APIRouter(prefix="/v1/notes", tags=["notes"], dependencies=[Depends(provisioned)])


@router.get("", response_model=NotePage, response_class=JsonBytes)
async def list_notes(
    ctx: CurrentContext,
    queries: ActivityReads,
    request: Request,
    entity_type: Literal["case", "contact", "task"],
    entity_id: uuid.UUID,
    limit: Annotated[int | None, Query(ge=1, le=PAGE_SIZE_MAX)] = None,
    cursor: Annotated[str | None, Query(max_length=1024)] = None,
) -> JsonBytes:
    """An entity's notes, newest first."""
    items, next_cursor = await queries.notes(
        ctx, entity_type, entity_id, limit or request.app.state.settings.page_size_default, cursor
    )
    return JsonBytes({"items": items, "next_cursor": next_cursor})


@router.post("", response_model=NotePublic, status_code=status.HTTP_201_CREATED)
async def write_note(ctx: CurrentContext, handlers: NoteCommands, body: NoteCreate, response: Response) -> NotePublic:
    """A note on a case, contact or task of the caller's org (404 for any other); emits
    `note.created`."""
    note = await handlers.write(ctx, WriteNote(body.entity_type, body.entity_id, body.content, body.is_internal))
    response.headers["Location"] = f"/v1/notes/{note.id}"
    return NotePublic.model_validate(note.model_dump())


@router.patch("/{note_id:uuid}", response_model=NotePublic)
async def edit_note(ctx: CurrentContext, handlers: NoteCommands, note_id: uuid.UUID, body: NoteUpdate) -> NotePublic:
    """Its author or an admin only (403 for others); emits `note.updated` when something changed."""
    note = await handlers.edit(ctx, EditNote(note_id, content=body.content, is_internal=body.is_internal))
    return NotePublic.model_validate(note.model_dump())


@router.delete("/{note_id:uuid}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_note(ctx: CurrentContext, handlers: NoteCommands, note_id: uuid.UUID) -> Response:
    """Its author or an admin only (403 for others); emits `note.deleted`."""
    await handlers.delete(ctx, DeleteNote(note_id))
    return Response(status_code=status.HTTP_204_NO_CONTENT)
