"""The ingest API's models, and the applicant as contacts will validate it."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from byte_platform.validation import NOT_BLANK, JsonObject, StorableText
from pydantic import BaseModel, ConfigDict, EmailStr, Field, StringConstraints

Text200 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), StorableText]
OptionalText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200), StorableText]
Secret = Annotated[str, StringConstraints(min_length=8, max_length=512, pattern=NOT_BLANK), StorableText]
HeaderName = Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9-]+$")]
SubmissionStatus = Literal["received", "processed", "failed", "rejected"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FieldMappingIn(_Strict):
    field: Text200 = Field(description="the key as the form sends it: a field id, a field name or an API key")
    to: Text200 = Field(
        description="contact.<first_name|last_name|email|phone|company|address_line_1|address_line_2|city|state|zip>, "
        "contact.name (a name field: first and last), contact.address (an address field: every part), "
        "variable.<name> (a case variable) or metadata.<name> (the contact's metadata)"
    )


Mappings = Annotated[list[FieldMappingIn], Field(max_length=200)]


class FormCreate(_Strict):
    form_id: Text200 = Field(description="Formstack's FormID")
    name: OptionalText = ""
    hmac_key: Secret | None = Field(default=None, description="the webhook's HMAC key, as Formstack shows it")
    handshake_key: Secret | None = Field(default=None, description="the webhook's (older) handshake key")
    signature_header: HeaderName = "X-FS-Signature"
    field_mappings: Mappings = []
    default_definition_id: uuid.UUID | None = Field(
        default=None, description="the workflow definition a case starts on; none: the org's default (Applicant Review)"
    )
    is_active: bool = True


class FormUpdate(_Strict):
    """Only the fields sent change; `handshake_key: null` stops requiring one (an HMAC key must
    then be set)."""

    name: OptionalText = Field(default=None)  # type: ignore[assignment]  # None: not sent
    handshake_key: Secret | None = None
    signature_header: HeaderName = Field(default=None)  # type: ignore[assignment]
    field_mappings: Mappings | None = None
    default_definition_id: uuid.UUID | None = None
    is_active: bool = Field(default=None)  # type: ignore[assignment]


class KeyRotation(_Strict):
    hmac_key: Secret
    grace_seconds: int | None = Field(
        default=None, ge=0, le=30 * 86_400, description="how long the previous key still verifies (default a day)"
    )


class FormPublic(BaseModel):
    id: uuid.UUID
    form_id: str
    name: str
    signature_header: str
    field_mappings: list[dict[str, Any]]
    default_definition_id: uuid.UUID | None
    is_active: bool
    hmac_key_set: bool
    previous_hmac_key_valid_until: datetime | None
    handshake_key_set: bool
    created_at: datetime
    updated_at: datetime


class FormCreated(FormPublic):
    webhook_path: str = Field(
        description="paste the gateway's public address followed by this path into Formstack; shown once "
        "(only a digest of its token is kept)"
    )


class FormPage(BaseModel):
    items: list[FormPublic]


class MappingTest(_Strict):
    submission_id: uuid.UUID = Field(description="a stored submission of this form (the id in this API)")
    field_mappings: Mappings | None = Field(default=None, description="the mappings to try; none: the saved ones")


class MappingResult(BaseModel):
    ok: bool
    applicant: dict[str, Any] | None = None
    variables: dict[str, Any] = {}
    unmapped: dict[str, Any] = {}
    error: str | None = None


class SubmissionSummary(BaseModel):
    id: uuid.UUID
    config_id: uuid.UUID
    form_id: str
    submission_id: str | None
    status: SubmissionStatus
    error: str | None
    contact_id: uuid.UUID | None
    execution_id: uuid.UUID | None
    attempts: int
    received_at: datetime
    processed_at: datetime | None
    updated_at: datetime


class SubmissionDetail(SubmissionSummary):
    content_type: str
    raw_body: str = Field(description="the body as received, decoded as UTF-8 (undecodable bytes replaced)")
    raw_body_base64: str
    raw_truncated: bool
    payload: dict[str, Any] | None


class SubmissionPage(BaseModel):
    items: list[SubmissionSummary]
    next_cursor: str | None


class WebhookAccepted(BaseModel):
    status: Literal["received", "duplicate", "failed"]
    submission_id: str


# What contacts will accept (its ContactCreate rules for the fields a form can fill): a
# submission that would not pass is marked failed here, with the reason, instead of being
# dead-lettered downstream where staff cannot see it.
Name = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100, pattern=NOT_BLANK), StorableText
]
OptionalName = Annotated[str, StringConstraints(strip_whitespace=True, max_length=100), StorableText]
Short = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200), StorableText]
Phone = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=40, pattern=r"^[0-9+().\- x]*$"), StorableText
]
Zip = Annotated[str, StringConstraints(strip_whitespace=True, max_length=20), StorableText]
Email = Annotated[EmailStr, StringConstraints(max_length=254), StorableText]


class ApplicantIn(_Strict):
    first_name: Name
    last_name: OptionalName = ""
    email: Email | None = None
    phone: Phone | None = None
    company: Short | None = None
    address_line_1: Short | None = None
    address_line_2: Short | None = None
    city: Short | None = None
    state: Short | None = None
    zip: Zip | None = None
    metadata: JsonObject = {}
