"""`/v1/definitions`: versioned workflow definitions. Writes are for admins."""

from __future__ import annotations

from typing import Annotated, Any

from byte_contracts.definitions import VariableRef, definition_json_schema, validate_definition
from byte_platform.http import CurrentContext
from byte_platform.responses import JsonBytes, page_response
from byte_platform.validation import storable_json
from fastapi import APIRouter, Body, Depends, Header, Path, Query, Request, Response, status

from byte_executions import domain
from byte_executions.api.deps import DefinitionCommands, DefinitionReads, provisioned
from byte_executions.commands import CreateDefinition, DefinitionRef, EditDefinition, SetDefinitionActive
from byte_executions.domain import DefinitionSort
from byte_executions.queries import DefinitionFilter
from byte_executions.queries.definitions import SUMMARY_COLUMNS
from byte_executions.schemas import (
    PAGE_SIZE_MAX,
    DefinitionHistory,
    DefinitionPage,
    DefinitionPublic,
    ValidationReport,
)

router = APIRouter(prefix="/v1/definitions", tags=["definitions"], dependencies=[Depends(provisioned)])

SORT_PATTERN = "^-?(" + "|".join(s.value for s in DefinitionSort) + ")$"
DOCUMENT = Body(
    description="a definition document (GET /v1/definitions/schema), with `key` (create) or `expected_version` (edit)"
)
# Checked for what PostgreSQL cannot store (U+0000, lone surrogates, NaN, absurd depth) before
# the definition language's own rules see it: a 422 naming the place, never a 500.
DEFINITION_MAX_BYTES = 1_048_576
Document = Annotated[dict[str, Any], storable_json(max_bytes=DEFINITION_MAX_BYTES), DOCUMENT]


async def _ref(
    definition: Annotated[
        str, Path(max_length=100, pattern=domain.DEFINITION_REF_PATTERN, description="any version's id, or the key")
    ],
) -> DefinitionRef:
    return domain.definition_ref(definition)


Ref = Annotated[DefinitionRef, Depends(_ref)]
VERSION_MAX = domain.VERSION_MAX


def _with_version(response: Response, definition: DefinitionPublic) -> DefinitionPublic:
    response.headers["ETag"] = f'"{definition.version}"'
    return definition


@router.get("", response_model=DefinitionPage, response_class=JsonBytes)
async def list_definitions(
    ctx: CurrentContext,
    queries: DefinitionReads,
    request: Request,
    active: bool | None = None,
    sort: Annotated[str, Query(pattern=SORT_PATTERN, description="field, `-` prefix for descending")] = "-created_at",
    limit: Annotated[int | None, Query(ge=1, le=PAGE_SIZE_MAX)] = None,
    cursor: Annotated[str | None, Query(max_length=1024)] = None,
) -> JsonBytes:
    """The latest version of each definition, with its version count."""
    key, descending = domain.parse_sort(sort, DefinitionSort)
    f = DefinitionFilter(active=active, sort=key, descending=descending)
    rows, next_cursor = await queries.page(ctx, f, limit or request.app.state.settings.page_size_default, cursor)
    return page_response(rows, SUMMARY_COLUMNS, next_cursor)


@router.get("/schema", response_class=JsonBytes, responses={200: {"content": {"application/json": {}}}})
async def definition_schema() -> JsonBytes:
    """The JSON Schema (2020-12) of a definition document, for a builder. It covers the
    structure; `POST /v1/definitions/validate` checks the rules too."""
    return JsonBytes(definition_json_schema())


@router.post("/validate", response_model=ValidationReport)
async def validate(ctx: CurrentContext, body: Document) -> ValidationReport:
    """A dry run: every error the document has (`path`, `message`). Nothing is stored."""
    document, _ = domain.split_request(body)
    errors = validate_definition(document)
    return ValidationReport.model_validate({"valid": not errors, "errors": [e.model_dump() for e in errors]})


@router.post("", response_model=DefinitionPublic, status_code=status.HTTP_201_CREATED)
async def create_definition(
    ctx: CurrentContext,
    handlers: DefinitionCommands,
    queries: DefinitionReads,
    body: Document,
    response: Response,
) -> DefinitionPublic:
    document, extras = domain.split_request(body)
    key = domain.requested_key(extras.get("key"))
    created = await handlers.create(ctx, CreateDefinition(document=document, key=key))
    response.headers["Location"] = f"/v1/definitions/{created.id}"
    return _with_version(response, await queries.get(ctx, created.id))


@router.get("/{definition}", response_model=DefinitionPublic)
async def get_definition(
    ctx: CurrentContext,
    queries: DefinitionReads,
    ref: Ref,
    response: Response,
    version: Annotated[
        int | None, Query(ge=1, le=VERSION_MAX, description="a version; the latest when left out")
    ] = None,
) -> DefinitionPublic:
    return _with_version(response, await queries.get(ctx, ref, version))


@router.put("/{definition}", response_model=DefinitionPublic)
async def edit_definition(
    ctx: CurrentContext,
    handlers: DefinitionCommands,
    queries: DefinitionReads,
    ref: Ref,
    body: Document,
    response: Response,
    if_match: Annotated[str | None, Header(max_length=40, description='the version being edited: "3"')] = None,
) -> DefinitionPublic:
    """A new version from the document. The version being edited must still be the latest
    (`If-Match` or `expected_version`): otherwise 409, and nothing is written."""
    document, extras = domain.split_request(body)
    expected = domain.expected_version(if_match, extras.get("expected_version"))
    new = await handlers.edit(ctx, EditDefinition(definition=ref, document=document, expected_version=expected))
    response.headers["Location"] = f"/v1/definitions/{new.id}"
    return _with_version(response, await queries.get(ctx, new.id))


@router.get("/{definition}/versions", response_model=DefinitionHistory)
async def definition_versions(ctx: CurrentContext, queries: DefinitionReads, ref: Ref) -> DefinitionHistory:
    return await queries.history(ctx, ref)


@router.post("/{definition}/deactivate", response_model=DefinitionPublic)
async def deactivate_definition(
    ctx: CurrentContext, handlers: DefinitionCommands, queries: DefinitionReads, ref: Ref, response: Response
) -> DefinitionPublic:
    """No new case may start on it; running cases go on."""
    changed = await handlers.set_active(ctx, SetDefinitionActive(definition=ref, active=False))
    return _with_version(response, await queries.get(ctx, changed.id))


@router.post("/{definition}/reactivate", response_model=DefinitionPublic)
async def reactivate_definition(
    ctx: CurrentContext, handlers: DefinitionCommands, queries: DefinitionReads, ref: Ref, response: Response
) -> DefinitionPublic:
    changed = await handlers.set_active(ctx, SetDefinitionActive(definition=ref, active=True))
    return _with_version(response, await queries.get(ctx, changed.id))


@router.get("/{definition}/variables", response_model=list[VariableRef])
async def step_variables(
    ctx: CurrentContext,
    queries: DefinitionReads,
    ref: Ref,
    step: Annotated[str, Query(min_length=1, max_length=100, description="a step id")],
    version: Annotated[int | None, Query(ge=1, le=VERSION_MAX)] = None,
) -> list[VariableRef]:
    """What a template of `step` may read (`{{ path }}`), in picker order."""
    return await queries.variables(ctx, ref, step, version)
