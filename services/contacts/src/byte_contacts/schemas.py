"""The contacts API's models: Create / Update / Upsert in, Public / Page out."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Annotated, Any

from byte_contracts.enums import ContactStatus
from pydantic import AfterValidator, BaseModel, ConfigDict, EmailStr, Field, StringConstraints, model_validator

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
OptionalName = Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)]
Short = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]
Phone = Annotated[str, StringConstraints(strip_whitespace=True, max_length=40, pattern=r"^[0-9+().\- x]*$")]
Zip = Annotated[str, StringConstraints(strip_whitespace=True, max_length=20)]
Url = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2048, pattern=r"^https?://\S+$")]
Email = Annotated[EmailStr, StringConstraints(max_length=254)]
Tag = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)]

PAGE_SIZE_MAX = 200
METADATA_MAX_BYTES = 16_384
REQUIRED_FIELDS = frozenset({"first_name", "last_name", "status", "metadata", "tags"})


def _small_metadata(value: dict[str, Any]) -> dict[str, Any]:
    if len(json.dumps(value)) > METADATA_MAX_BYTES:
        raise ValueError(f"metadata is larger than {METADATA_MAX_BYTES} bytes of JSON")
    return value


Metadata = Annotated[dict[str, Any], AfterValidator(_small_metadata)]
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
    last_contacted_at: datetime | None = None
    address_line_1: Short | None = None
    address_line_2: Short | None = None
    city: Short | None = None
    state: Short | None = None
    zip: Zip | None = None
    metadata: Metadata = {}
    tags: Tags = []


class ContactUpdate(_Strict):
    """Only the fields sent are changed; `null` clears an optional field."""

    first_name: Name | None = None
    last_name: OptionalName | None = None
    email: Email | None = None
    phone: Phone | None = None
    company: Short | None = None
    role: Short | None = None
    status: ContactStatus | None = None
    avatar_url: Url | None = None
    last_contacted_at: datetime | None = None
    address_line_1: Short | None = None
    address_line_2: Short | None = None
    city: Short | None = None
    state: Short | None = None
    zip: Zip | None = None
    metadata: Metadata | None = None
    tags: Tags | None = None

    @model_validator(mode="after")
    def _required_fields_cannot_be_cleared(self) -> ContactUpdate:
        for name in sorted(REQUIRED_FIELDS & self.model_fields_set):
            if getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        return self


class ContactUpsert(ContactCreate):
    """Create, or update the contact with this email in the caller's org.

    On a match only the fields sent are changed; tags are added to the existing ones and
    metadata keys merged over the existing ones.
    """

    email: Email
    submission_id: Annotated[str, StringConstraints(max_length=200)] | None = None


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
