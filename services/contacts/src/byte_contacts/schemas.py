"""The contacts API's models: Create / Update / Upsert in, Public / Page out."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from byte_contracts.enums import ContactStatus
from byte_platform.validation import NOT_BLANK, AwareDatetime, JsonObject, StorableText
from pydantic import BaseModel, ConfigDict, EmailStr, Field, StringConstraints, WithJsonSchema, field_validator
from pydantic_core import PydanticCustomError

# Every text type carries `StorableText`: PostgreSQL cannot store U+0000 or a lone surrogate.
Name = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100, pattern=NOT_BLANK), StorableText
]
OptionalName = Annotated[str, StringConstraints(strip_whitespace=True, max_length=100), StorableText]
Short = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200), StorableText]
Phone = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=40, pattern=r"^[0-9+().\- x]*$"), StorableText
]
Zip = Annotated[str, StringConstraints(strip_whitespace=True, max_length=20), StorableText]
# no whitespace by any engine's definition (see NOT_BLANK): the pattern means the same to clients
Url = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=2048, pattern=r"^https?://[^\s\x1c-\x1f\x85\ufeff]+$"),
    StorableText,
]
EMAIL_RULE = (
    "an email address that can receive mail: reserved names (.test, .invalid, .localhost, .local, "
    ".onion, .arpa) are refused"
)
Email = Annotated[
    EmailStr,
    StringConstraints(max_length=254),
    StorableText,
    WithJsonSchema({"type": "string", "format": "email", "maxLength": 254, "description": EMAIL_RULE}),
]
Tag = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50, pattern=NOT_BLANK), StorableText
]
SubmissionId = Annotated[str, StringConstraints(max_length=200), StorableText]

PAGE_SIZE_MAX = 200
REQUIRED_FIELDS = ("first_name", "last_name", "status", "metadata", "tags")

Metadata = JsonObject
Tags = Annotated[list[Tag], Field(max_length=50)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ContactCreate(_Strict):
    first_name: Name
    last_name: OptionalName = ""
    email: Email | None = None
    phone: Phone | None = None
    company: Short | None = None
    role: Short | None = None
    status: ContactStatus = ContactStatus.ACTIVE
    avatar_url: Url | None = None
    last_contacted_at: AwareDatetime | None = None
    address_line_1: Short | None = None
    address_line_2: Short | None = None
    city: Short | None = None
    state: Short | None = None
    zip: Zip | None = None
    metadata: Metadata = {}
    tags: Tags = []


class ContactUpdate(_Strict):
    """Only the fields sent are changed; `null` clears an optional field. The fields a contact
    always has may be left out, never sent as null (their type says so: `= Field(default=None)`
    only stands for "not sent")."""

    first_name: Name = Field(default=None)  # type: ignore[assignment]  # None: not sent
    last_name: OptionalName = Field(default=None)  # type: ignore[assignment]  # None: not sent
    email: Email | None = None
    phone: Phone | None = None
    company: Short | None = None
    role: Short | None = None
    status: ContactStatus = Field(default=None)  # type: ignore[assignment]  # None: not sent
    avatar_url: Url | None = None
    last_contacted_at: AwareDatetime | None = None
    address_line_1: Short | None = None
    address_line_2: Short | None = None
    city: Short | None = None
    state: Short | None = None
    zip: Zip | None = None
    metadata: Metadata = Field(default=None)  # type: ignore[arg-type]  # None: not sent
    tags: Tags = Field(default=None)  # type: ignore[arg-type]  # None: not sent

    @field_validator(*REQUIRED_FIELDS, mode="before")
    @classmethod
    def _required_fields_cannot_be_cleared(cls, value: Any) -> Any:
        if value is None:
            raise PydanticCustomError("not_nullable", "cannot be null: a contact always has one")
        return value


class ContactUpsert(ContactCreate):
    """Create, or update the contact with this email in the caller's org.

    On a match only the fields sent are changed; tags are added to the existing ones and
    metadata keys merged over the existing ones.
    """

    email: Email
    submission_id: SubmissionId | None = None


class ContactPublic(BaseModel):
    id: uuid.UUID
    first_name: str
    last_name: str
    email: str | None
    phone: str | None
    company: str | None
    role: str | None
    status: ContactStatus
    avatar_url: str | None
    last_contacted_at: datetime | None
    address_line_1: str | None
    address_line_2: str | None
    city: str | None
    state: str | None
    zip: str | None
    metadata: dict[str, Any]
    tags: list[str]
    created_at: datetime
    updated_at: datetime


class ContactPage(BaseModel):
    items: list[ContactPublic]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page; null on the last page")


class ContactUpserted(BaseModel):
    contact: ContactPublic
    created: bool


class ContactMerge(_Strict):
    into: uuid.UUID = Field(description="the contact that stays: the one in the path is merged into it and is gone")
