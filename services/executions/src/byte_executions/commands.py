"""What may be asked of the executions service, whoever asks: an HTTP route or a consumer
builds one of these and hands it, with a `Context`, to a handler."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

DefinitionRef = uuid.UUID | str
"""The id of any version of a definition, or its key."""


# --- definitions -----------------------------------------------------------------------------


@dataclass(frozen=True)
class CreateDefinition:
    document: dict[str, Any]
    key: str | None = None
    """Stable across versions; from the name when not given."""


@dataclass(frozen=True)
class EditDefinition:
    """A new version from `document`, if `expected_version` is still the latest."""

    definition: DefinitionRef
    document: dict[str, Any]
    expected_version: int


@dataclass(frozen=True)
class SetDefinitionActive:
    """Deactivate (no new case may start on it) or reactivate the latest version."""

    definition: DefinitionRef
    active: bool


@dataclass(frozen=True)
class ProvisionOrg:
    """Give the org its default definition (Applicant Review), once, whoever asks first."""
