"""The executions API's models. A definition travels as its document (docs/definitions.md;
its JSON Schema is served at `GET /v1/definitions/schema`) plus what the service adds."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

PAGE_SIZE_MAX = 200


class DefinitionSummary(BaseModel):
    """The latest version of a definition, without its steps (the list)."""

    id: uuid.UUID
    definition_key: str
    version: int
    version_count: int
    name: str
    description: str
    is_active: bool
    created_by: str | None
    created_at: datetime = Field(description="when this version was made")
    updated_at: datetime


class DefinitionPublic(BaseModel):
    id: uuid.UUID = Field(description="this version's id")
    definition_key: str = Field(description="shared by every version")
    version: int
    version_count: int
    is_latest: bool
    is_active: bool = Field(description="new cases may start on it (only the latest version can be)")
    language_version: int
    name: str
    description: str
    phases: list[dict[str, Any]]
    steps: list[dict[str, Any]]
    variables: list[dict[str, Any]]
    statuses: list[dict[str, Any]]
    created_by: str | None
    created_at: datetime
    updated_at: datetime


class DefinitionPage(BaseModel):
    items: list[DefinitionSummary]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page; null on the last page")


class DefinitionVersion(BaseModel):
    id: uuid.UUID
    version: int
    name: str
    is_active: bool
    created_by: str | None
    created_at: datetime


class DefinitionHistory(BaseModel):
    definition_key: str
    versions: list[DefinitionVersion] = Field(description="newest first")


class DefinitionProblem(BaseModel):
    path: str = Field(description="where in the document, e.g. `steps[3].config.timeout`; empty: the document")
    message: str


class ValidationReport(BaseModel):
    valid: bool
    errors: list[DefinitionProblem]
