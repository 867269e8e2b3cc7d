"""Why a command was refused, in domain terms only.

Handlers and rules raise these; they know nothing of HTTP, Kafka or Temporal. Each entrypoint
maps them once: problem+json for HTTP (byte_platform.http), dead-letter for a consumer
(byte_platform.consumers), a non-retryable ApplicationError for a Temporal activity
(byte_platform.activities). They live here, beside the other shared vocabulary, so a service's
pure `domain.py` can raise them without importing any plumbing.
"""

from __future__ import annotations

from typing import Any, TypedDict

# `field`: dotted path of the offending input (`metadata.a.b`, `cursor`, `assigned_to`);
# `in`: where it was given (`body`, `query`, `path`, `header`, `event`); `message`: what is wrong.
FieldError = TypedDict("FieldError", {"field": str, "in": str, "message": str})


class DomainError(Exception):
    """A refusal the caller can act on. `extra` carries facts worth showing (who holds a task)."""

    title = "Refused"

    def __init__(self, detail: str, *, errors: list[FieldError] | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors: list[FieldError] = errors or []
        self.extra = extra


class NotFound(DomainError):
    """The thing does not exist for this caller: missing and another org's read the same."""

    title = "Not Found"

    def __init__(self, what: str) -> None:
        super().__init__(f"{what} not found")
        self.what = what


class Conflict(DomainError):
    """The current state does not allow this (already claimed, a duplicate, a stale version)."""

    title = "Conflict"


class Forbidden(DomainError):
    """The caller may not do this."""

    title = "Forbidden"


class Invalid(DomainError):
    """An input is well-formed but does not fit: names a non-member, breaks a rule of its field."""

    title = "Invalid request"

    def __init__(self, field: str, message: str, *, location: str = "body", **extra: Any) -> None:
        super().__init__(f"{field}: {message}", errors=[{"field": field, "in": location, "message": message}], **extra)


class Malformed(DomainError):
    """An input is not something this system could have issued (a forged or corrupt cursor)."""

    title = "Bad Request"

    def __init__(self, field: str, message: str, *, location: str = "query") -> None:
        super().__init__(message, errors=[{"field": field, "in": location, "message": message}])
        self.title = f"Invalid {field}"
