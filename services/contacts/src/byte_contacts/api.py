"""HTTP routes: parse the request into a command (or a query), call the handler, shape the answer.
Refusals are the handlers' `DomainError`s; the platform renders them as problem+json."""

from __future__ import annotations

import uuid
from typing import Annotated

from byte_contracts.enums import ContactStatus
from byte_platform.exports import EXPORT_FORMAT, EXPORT_TRAILER_FORMAT, require_exporter
from byte_platform.http import CurrentContext
from byte_platform.responses import JsonBytes, page_response
from fastapi import APIRouter, Depends, Query, Request, Response, status
from fastapi.responses import StreamingResponse

from byte_contacts.commands import CreateContact, DeleteContact, MergeContact, UpdateContact, UpsertContact
from byte_contacts.domain import Sort, parse_sort
from byte_contacts.handlers import PUBLIC_COLUMNS, ContactHandlers
from byte_contacts.queries import ContactFilter, ContactQueries
from byte_contacts.schemas import (
    PAGE_SIZE_MAX,
    ContactCreate,
    ContactMerge,
    ContactPage,
    ContactPublic,
    ContactUpdate,
    ContactUpsert,
    ContactUpserted,
)

router = APIRouter(prefix="/v1/contacts", tags=["contacts"])

SORT_PATTERN = "^-?(" + "|".join(s.value for s in Sort) + ")$"


# Dependencies are `async def` so FastAPI runs them on the event loop, not in a thread.
async def _handlers(request: Request) -> ContactHandlers:
    return request.app.state.handlers


async def _queries(request: Request) -> ContactQueries:
    return request.app.state.queries


Handlers = Annotated[ContactHandlers, Depends(_handlers)]
Queries = Annotated[ContactQueries, Depends(_queries)]


async def contact_filter(
    q: Annotated[
        str | None, Query(max_length=200, description="case-insensitive substring of name, email or phone")
    ] = None,
    status: ContactStatus | None = None,
    tag: Annotated[str | None, Query(min_length=1, max_length=50)] = None,
    sort: Annotated[str, Query(pattern=SORT_PATTERN, description="field, `-` prefix for descending")] = "-created_at",
) -> ContactFilter:
    key, descending = parse_sort(sort)
    return ContactFilter(q=q or None, status=status, tag=tag, sort=key, descending=descending)


Filter = Annotated[ContactFilter, Depends(contact_filter)]


@router.get("", response_model=ContactPage, response_class=JsonBytes)
async def list_contacts(
    ctx: CurrentContext,
    queries: Queries,
    f: Filter,
    request: Request,
    limit: Annotated[int | None, Query(ge=1, le=PAGE_SIZE_MAX)] = None,
    cursor: Annotated[str | None, Query(max_length=1024)] = None,
) -> JsonBytes:
    rows, next_cursor = await queries.page(ctx, f, limit or request.app.state.settings.page_size_default, cursor)
    return page_response(rows, PUBLIC_COLUMNS, next_cursor)


EXPORT_DESCRIPTION = f"""The filtered list as CSV, streamed (no `Content-Length`): a header row, one row per
contact, then one trailer line `{EXPORT_TRAILER_FORMAT}` once every row was sent.

A stream cut short (the service or a proxy failed mid-body) can look like a complete file; the
trailer is how to tell: a download is complete only when its last line is the trailer and `<n>`
equals the number of rows before it. Drop the trailer before reading the CSV (no row starts with
`#`: `id` is the first column). `X-Export-Format: {EXPORT_FORMAT}` announces this layout.
See docs/errors.md."""


@router.get(
    "/export",
    response_class=StreamingResponse,
    description=EXPORT_DESCRIPTION,
    responses={
        200: {
            "content": {"text/csv": {"schema": {"type": "string"}}},
            "headers": {
                "X-Export-Format": {
                    "description": "`rows-trailer`: the body ends with `# rows=<n> complete`",
                    "schema": {"type": "string", "enum": [EXPORT_FORMAT]},
                }
            },
        }
    },
)
async def export_contacts(ctx: CurrentContext, queries: Queries, f: Filter) -> StreamingResponse:
    require_exporter(ctx)
    return StreamingResponse(
        queries.export_csv(ctx, f),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="contacts.csv"', "X-Export-Format": EXPORT_FORMAT},
    )


@router.post("", response_model=ContactPublic, status_code=status.HTTP_201_CREATED)
async def create_contact(
    ctx: CurrentContext, handlers: Handlers, body: ContactCreate, response: Response
) -> ContactPublic:
    contact = await handlers.create(ctx, CreateContact(body))
    response.headers["Location"] = f"/v1/contacts/{contact.id}"
    return ContactPublic.model_validate(contact.model_dump())


@router.post(
    "/upsert",
    response_model=ContactUpserted,
    responses={201: {"model": ContactUpserted, "description": "no contact had this email: created"}},
)
async def upsert_contact(
    ctx: CurrentContext, handlers: Handlers, body: ContactUpsert, response: Response
) -> ContactUpserted:
    contact, created = await handlers.upsert(ctx, UpsertContact(body))
    if created:
        response.status_code = status.HTTP_201_CREATED
    return ContactUpserted(contact=ContactPublic.model_validate(contact.model_dump()), created=created)


@router.get("/{contact_id:uuid}", response_model=ContactPublic)
async def get_contact(ctx: CurrentContext, queries: Queries, contact_id: uuid.UUID) -> ContactPublic:
    return await queries.get(ctx, contact_id)


@router.patch("/{contact_id:uuid}", response_model=ContactPublic)
async def update_contact(
    ctx: CurrentContext, handlers: Handlers, contact_id: uuid.UUID, body: ContactUpdate
) -> ContactPublic:
    contact = await handlers.update(ctx, UpdateContact(contact_id, body))
    return ContactPublic.model_validate(contact.model_dump())


@router.delete("/{contact_id:uuid}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_contact(ctx: CurrentContext, handlers: Handlers, contact_id: uuid.UUID) -> Response:
    await handlers.delete(ctx, DeleteContact(contact_id))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/{contact_id:uuid}/merge",
    response_model=ContactPublic,
    responses={409: {"description": "one of the two was merged already (`merged_into` says where)"}},
)
async def merge_contact(
    ctx: CurrentContext, handlers: Handlers, contact_id: uuid.UUID, body: ContactMerge
) -> ContactPublic:
    """The contact in the path is the same person as `into`: it is merged into `into` (which keeps
    its own values and gains the ones it lacked, tags and metadata combined) and is gone; cases
    and tasks that named it name `into` shortly after (`contact.merged`). Answers the survivor."""
    contact = await handlers.merge(ctx, MergeContact(contact_id, body.into))
    return ContactPublic.model_validate(contact.model_dump())
