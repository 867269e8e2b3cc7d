"""HTTP routes: the admin API (`/v1/formstack/...`, through the gateway, admins only) and the
public webhook (`/webhooks/formstack/{org}/{token}`, forwarded by the gateway without a session:
the delivery authenticates itself by its signature or handshake key)."""

from __future__ import annotations

import re
import time
import uuid
from collections import deque
from typing import Annotated

from byte_platform.context import Context
from byte_platform.http import CurrentContext, Problem
from byte_platform.logging import correlation_id
from fastapi import APIRouter, Depends, Path, Query, Request, Response, status

from byte_ingest import domain
from byte_ingest.commands import CreateForm, ReceiveDelivery, Reprocess, RotateKey, TryMapping, UpdateForm
from byte_ingest.handlers import SERVICE, FormHandlers, TooLarge, UnsupportedMediaType, WebhookHandlers
from byte_ingest.queries import IngestQueries, SubmissionFilter, detail
from byte_ingest.schemas import (
    FormCreate,
    FormCreated,
    FormPage,
    FormPublic,
    FormUpdate,
    KeyRotation,
    MappingResult,
    MappingTest,
    SubmissionDetail,
    SubmissionPage,
    SubmissionStatus,
    WebhookAccepted,
)

router = APIRouter(prefix="/v1/formstack", tags=["formstack"])
webhooks = APIRouter(tags=["webhooks"])

PAGE_SIZE_MAX = 200
ORG_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,100}$")
TOKEN_PATTERN = re.compile(r"^[A-Za-z0-9_-]{20,100}$")
# A body over the limit is still read (up to this many times the limit) so that its signature
# can be checked and a genuine one kept for audit; beyond that the connection is not worth it.
READ_FACTOR = 4


async def _forms(request: Request) -> FormHandlers:
    return request.app.state.form_handlers


async def _webhook_handlers(request: Request) -> WebhookHandlers:
    return request.app.state.webhook_handlers


async def _queries(request: Request) -> IngestQueries:
    return request.app.state.queries


Forms = Annotated[FormHandlers, Depends(_forms)]
Queries = Annotated[IngestQueries, Depends(_queries)]


# --- forms -----------------------------------------------------------------------------------


@router.get("/forms", response_model=FormPage)
async def list_forms(ctx: CurrentContext, queries: Queries) -> FormPage:
    return FormPage.model_validate({"items": await queries.forms(ctx)})


@router.post("/forms", response_model=FormCreated, status_code=status.HTTP_201_CREATED)
async def create_form(ctx: CurrentContext, forms: Forms, body: FormCreate, response: Response) -> FormCreated:
    """A form this org receives. The answer's `webhook_path` holds the URL's secret token and is
    shown only here: Formstack's webhook URL is the gateway's address followed by it."""
    form, path = await forms.create(ctx, CreateForm(body))
    response.headers["Location"] = f"/v1/formstack/forms/{form['id']}"
    return FormCreated.model_validate({**form, "webhook_path": path})


@router.get("/forms/{config_id:uuid}", response_model=FormPublic)
async def get_form(ctx: CurrentContext, queries: Queries, config_id: uuid.UUID) -> FormPublic:
    return FormPublic.model_validate(await queries.form(ctx, config_id))


@router.patch("/forms/{config_id:uuid}", response_model=FormPublic)
async def update_form(ctx: CurrentContext, forms: Forms, config_id: uuid.UUID, body: FormUpdate) -> FormPublic:
    return FormPublic.model_validate(await forms.update(ctx, UpdateForm(config_id, body)))


@router.post("/forms/{config_id:uuid}/rotate-key", response_model=FormPublic)
async def rotate_key(ctx: CurrentContext, forms: Forms, config_id: uuid.UUID, body: KeyRotation) -> FormPublic:
    """A new HMAC key; the previous one still verifies for the grace period."""
    return FormPublic.model_validate(
        await forms.rotate_key(ctx, RotateKey(config_id, body.hmac_key, body.grace_seconds))
    )


@router.post("/forms/{config_id:uuid}/test-mapping", response_model=MappingResult)
async def test_mapping(ctx: CurrentContext, forms: Forms, config_id: uuid.UUID, body: MappingTest) -> MappingResult:
    """What these mappings (or the saved ones) make of a stored submission. Changes nothing."""
    return await forms.try_mapping(ctx, TryMapping(config_id, body.submission_id, body.field_mappings))


# --- submissions -----------------------------------------------------------------------------


@router.get("/submissions", response_model=SubmissionPage)
async def list_submissions(
    ctx: CurrentContext,
    queries: Queries,
    request: Request,
    status: SubmissionStatus | None = None,
    form: Annotated[uuid.UUID | None, Query(description="a form's id in this API")] = None,
    submission_id: Annotated[str | None, Query(max_length=200, description="Formstack's UniqueID")] = None,
    limit: Annotated[int | None, Query(ge=1, le=PAGE_SIZE_MAX)] = None,
    cursor: Annotated[str | None, Query(max_length=1024)] = None,
) -> SubmissionPage:
    """Newest first."""
    items, next_cursor = await queries.submissions(
        ctx,
        SubmissionFilter(status=status, config_id=form, submission_id=submission_id),
        limit or request.app.state.settings.page_size_default,
        cursor,
    )
    return SubmissionPage(items=items, next_cursor=next_cursor)


@router.get("/submissions/{submission:uuid}", response_model=SubmissionDetail)
async def get_submission(ctx: CurrentContext, queries: Queries, submission: uuid.UUID) -> SubmissionDetail:
    """One submission: the raw body as received, and what it parsed into."""
    return await queries.submission(ctx, submission)


@router.post("/submissions/{submission:uuid}/reprocess", response_model=SubmissionDetail)
async def reprocess(ctx: CurrentContext, forms: Forms, submission: uuid.UUID) -> SubmissionDetail:
    """A failed submission mapped again with its form's current mappings. A submission that is
    not failed is answered as it stands: nothing changes."""
    return detail(await forms.reprocess(ctx, Reprocess(submission)))


# --- the public webhook ----------------------------------------------------------------------


class TokenRates:
    """At most `per_minute` deliveries per webhook token (a sliding minute, in this process)."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._hits: dict[str, deque[float]] = {}

    def allow(self, token: str) -> bool:
        now = time.monotonic()
        hits = self._hits.setdefault(token, deque())
        while hits and hits[0] <= now - 60:
            hits.popleft()
        if len(hits) >= self.per_minute:
            return False
        hits.append(now)
        if len(self._hits) > 10_000:
            self._hits = {k: v for k, v in self._hits.items() if v and v[-1] > now - 60}
        return True


async def _read_body(request: Request, max_bytes: int) -> bytes:
    ceiling = max_bytes * READ_FACTOR
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > ceiling:
        raise Problem(413, "Payload Too Large", f"webhook bodies are limited to {max_bytes} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > ceiling:
            raise Problem(413, "Payload Too Large", f"webhook bodies are limited to {max_bytes} bytes")
    return bytes(body)


@webhooks.post(
    "/webhooks/formstack/{org_id}/{token}",
    response_model=WebhookAccepted,
    openapi_extra={
        "security": [],
        "requestBody": {
            "required": True,
            "content": {
                domain.FORM_URLENCODED: {"schema": {"type": "object", "additionalProperties": True}},
                domain.JSON: {"schema": {"type": "object", "additionalProperties": True}},
            },
        },
    },
    responses={
        400: {"description": "a signed body that could not be read (kept as `rejected`)"},
        401: {"description": "missing or wrong signature or handshake key: nothing is kept"},
        404: {"description": "no active form has this URL"},
        413: {"description": "the body is over the limit"},
        415: {"description": "neither form-urlencoded nor JSON"},
        429: {"description": "too many deliveries on this URL"},
    },
)
async def formstack_webhook(
    request: Request,
    org_id: Annotated[str, Path(max_length=100)],
    token: Annotated[str, Path(max_length=100)],
) -> WebhookAccepted:
    """One Formstack submission. Stored before it is answered; a repeat of a stored submission
    (same UniqueID) answers 200 and changes nothing. A submission whose mapping fails is kept
    as `failed` (visible in the admin API) and still answered 200."""
    if not ORG_PATTERN.match(org_id) or not TOKEN_PATTERN.match(token):
        raise Problem(404, "Not Found", "webhook not found")
    rates: TokenRates = request.app.state.token_rates
    if not rates.allow(token):
        raise Problem(429, "Too Many Requests", "too many deliveries on this webhook; retry later")
    max_bytes = request.app.state.settings.webhook_max_bytes
    body = await _read_body(request, max_bytes)
    handlers: WebhookHandlers = await _webhook_handlers(request)
    ctx = Context.system(org_id, SERVICE, correlation_id=correlation_id.get())
    cmd = ReceiveDelivery(
        token=token,
        body=body,
        content_type=request.headers.get("content-type"),
        headers={k.lower(): v for k, v in request.headers.items()},
        max_bytes=max_bytes,
    )
    try:
        accepted = await handlers.receive(ctx, cmd)
    except domain.Unsigned as exc:
        raise Problem(401, "Unauthorized", f"the delivery does not verify: {exc}") from None
    except TooLarge as exc:
        raise Problem(413, "Payload Too Large", str(exc)) from None
    except UnsupportedMediaType as exc:
        raise Problem(415, "Unsupported Media Type", str(exc)) from None
    except domain.Unparsable as exc:
        raise Problem(400, "Unreadable submission", str(exc)) from None
    return WebhookAccepted(status=accepted.status, submission_id=accepted.submission_id)
