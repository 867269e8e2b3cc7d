"""The Temporal activity entrypoint's mapping of domain refusals.

An activity is a thin entrypoint like a route or a subscriber: it builds a `Context` and a
command and calls a handler. A refusal (`DomainError`) will be the same on every retry, so it
becomes a non-retryable `ApplicationError` whose `type` names the refusal (`NotFound`,
`Conflict`, ...), which the workflow can branch on. Anything else propagates and Temporal
retries it by the activity's retry policy.

    @activity.defn
    @refusals_are_final
    async def create_contact(input: CreateContactInput) -> ContactSnapshot: ...
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import ParamSpec, TypeVar

from byte_contracts.errors import DomainError
from temporalio.exceptions import ApplicationError

P = ParamSpec("P")
R = TypeVar("R")


def as_application_error(exc: DomainError) -> ApplicationError:
    return ApplicationError(
        exc.detail, {"errors": exc.errors, **exc.extra}, type=type(exc).__name__, non_retryable=True
    )


def refusals_are_final(fn: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    @functools.wraps(fn)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await fn(*args, **kwargs)
        except DomainError as exc:
            raise as_application_error(exc) from exc

    return wrapper
