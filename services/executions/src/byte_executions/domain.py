"""Rules of definitions and cases, free of I/O."""

from __future__ import annotations

import re
import unicodedata
import uuid
from datetime import date
from enum import StrEnum
from typing import Any

from byte_contracts.errors import Invalid

APPLICANT_REVIEW_KEY = "applicant-review"
KEY_PATTERN = r"^[a-z][a-z0-9-]{0,62}$"
_KEY = re.compile(KEY_PATTERN)
# What names a definition, as the API documents it: the id of any of its versions (a UUID in
# its usual form) or its key. Anything that matches is read by `definition_ref`.
DEFINITION_REF_PATTERN = (
    r"^([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|" + KEY_PATTERN[1:-1] + ")$"
)

# Versions are PostgreSQL integers: a larger number names no version, and must not reach a query.
VERSION_MAX = 2**31 - 1

# Fields of a definition request body that are about the request, not the document.
REQUEST_FIELDS = frozenset({"key", "expected_version"})


class DefinitionSort(StrEnum):
    CREATED_AT = "created_at"
    NAME = "name"


def parse_sort(value: str, sorts: type[StrEnum]) -> tuple[Any, bool]:
    """`-created_at` -> (CREATED_AT, descending)."""
    return sorts(value.removeprefix("-")), value.startswith("-")


def key_from_name(name: str) -> str:
    """A definition key from its name: `Applicant Review` -> `applicant-review`."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")
    if not slug or not slug[0].isalpha():
        slug = "definition-" + slug if slug else "definition"
    return slug[:63].rstrip("-")


def check_key(key: str) -> str:
    if not _KEY.match(key):
        raise Invalid("key", "a lowercase letter, then lowercase letters, digits and '-' (at most 63)")
    return key


def requested_key(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise Invalid("key", "must be text")
    return check_key(value)


def definition_ref(value: str, *, field: str = "definition", location: str = "path") -> uuid.UUID | str:
    """A definition is named by the id of any of its versions, or by its key."""
    try:
        return uuid.UUID(value)
    except ValueError:
        if not _KEY.match(value):
            raise Invalid(field, "neither a definition id nor a definition key", location=location) from None
        return value


def split_request(body: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """A request body is the definition document plus a few request fields (`key`,
    `expected_version`): (document, request fields)."""
    document = {k: v for k, v in body.items() if k not in REQUEST_FIELDS}
    extras = {k: v for k, v in body.items() if k in REQUEST_FIELDS}
    return document, extras


def expected_version(if_match: str | None, in_body: Any) -> int:
    """The version an edit is based on: `If-Match: "3"` (a weak `W/"3"` too) or the body's
    `expected_version`; both given must agree. An edit without either is refused, so no one
    overwrites a version they have not seen."""
    from_header: int | None = None
    if if_match is not None:
        raw = if_match.strip()
        raw = raw.removeprefix("W/").strip('"')
        # ASCII digits only: `isdigit` alone takes "²", which `int` does not
        if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= VERSION_MAX:
            raise Invalid("If-Match", 'the version being edited, e.g. "3"', location="header")
        from_header = int(raw)
    from_body: int | None = None
    if in_body is not None:
        if type(in_body) is not int or not 1 <= in_body <= VERSION_MAX:
            raise Invalid("expected_version", "a version number (a positive integer)")
        from_body = in_body
    if from_header is not None and from_body is not None and from_header != from_body:
        raise Invalid("expected_version", f"disagrees with If-Match ({from_header})")
    version = from_header if from_header is not None else from_body
    if version is None:
        raise Invalid("expected_version", "required: the version being edited (or send If-Match)")
    return version


# --- cases -----------------------------------------------------------------------------------


class CaseSort(StrEnum):
    STARTED_AT = "started_at"
    UPDATED_AT = "updated_at"


class RunState(StrEnum):
    """Where a case's workflow is, apart from the case's status (which the definition names)."""

    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


CANCELLED_STATUS = "cancelled"
"""The status of a case whose workflow was cancelled, whatever its definition's statuses."""


def workflow_id(execution_id: uuid.UUID) -> str:
    """The Temporal workflow id of a case: derived from its id, so a second start is a no-op."""
    return f"case-{execution_id}"  # the worker's too (byte_worker.messages.case_workflow_id)


def check_variables(declared: list[dict[str, Any]], given: dict[str, Any], field: str = "variables") -> dict[str, Any]:
    """The case's variables: `given`, checked against the definition's `declared` variables
    (known names, values of their type, required ones present), with defaults filled in."""
    by_name = {v["name"]: v for v in declared}
    for name in given:
        if name not in by_name:
            known = ", ".join(sorted(by_name)) or "none"
            raise Invalid(f"{field}.{name}", f"not a variable of this definition (declared: {known})")
    out: dict[str, Any] = {}
    for name, variable in by_name.items():
        value = given.get(name)
        if value is None:
            if variable.get("default") is not None:
                out[name] = variable["default"]
            elif variable.get("required"):
                raise Invalid(f"{field}.{name}", "required by this definition")
            continue
        out[name] = _of_type(value, variable.get("type", "string"), f"{field}.{name}")
    return out


def _of_type(value: Any, kind: str, field: str) -> Any:
    if kind == "string":
        if not isinstance(value, str):
            raise Invalid(field, "must be text")
        return value
    if kind == "number":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise Invalid(field, "must be a number")
        return value
    if kind == "boolean":
        if not isinstance(value, bool):
            raise Invalid(field, "must be true or false")
        return value
    if kind == "date":
        if isinstance(value, str) and len(value) == 10:
            try:
                return date.fromisoformat(value).isoformat()
            except ValueError:
                pass
        raise Invalid(field, "must be a date, YYYY-MM-DD")
    raise Invalid(field, f"has an unknown type {kind!r}")


def status_keys(statuses: list[dict[str, Any]]) -> list[str]:
    return [s["key"] for s in statuses]


# How a case was opened -> the trigger source a definition must accept for it.
TRIGGER_SOURCE = {"manual": "manual", "api": "manual", "formstack": "form_submission"}


def check_trigger(steps: list[dict[str, Any]], source: str) -> None:
    """A definition whose trigger accepts only form submissions cannot be started by hand."""
    sources = steps[0].get("config", {}).get("sources", []) if steps else []
    if TRIGGER_SOURCE[source] not in sources:
        raise Invalid("source", f"this definition starts only from {', '.join(sources) or 'nothing'}")


def check_status(statuses: list[dict[str, Any]], status: str, *, field: str = "status", location: str = "body") -> str:
    keys = status_keys(statuses)
    if status not in keys:
        raise Invalid(
            field, f"not a status of this case's definition version (one of {', '.join(keys)})", location=location
        )
    return status


def step_of(steps: list[dict[str, Any]], step_id: str | None) -> dict[str, Any] | None:
    return next((s for s in steps if s.get("id") == step_id), None) if step_id else None
