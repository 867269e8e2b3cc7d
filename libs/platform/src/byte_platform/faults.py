"""Which failures are the world's (retry: the database restarts, the broker moves a leader)
and which are the message's or the code's (retrying changes nothing).

Consumers retry a transient failure without limit and never dead-letter for it; HTTP answers
it with 503 and Retry-After; everything else is handled where it is raised.
"""

from __future__ import annotations

import asyncio

import asyncpg
from sqlalchemy import exc as sa_exc

# SQLSTATE classes and codes that say "try again": serialization failure, deadlock, and the
# server going away, starting up, shutting down or refusing connections.
TRANSIENT_SQLSTATES = frozenset(
    {"40001", "40P01", "57P01", "57P02", "57P03", "53300", "08000", "08001", "08003", "08004", "08006", "08007"}
)


_LOCAL_OS_ERRORS = (FileNotFoundError, FileExistsError, PermissionError, IsADirectoryError, NotADirectoryError)


def _sqlstate(exc: BaseException) -> str | None:
    for candidate in (
        exc,
        getattr(exc, "orig", None),
        getattr(getattr(exc, "orig", None), "__cause__", None),
        exc.__cause__,
    ):
        code = getattr(candidate, "sqlstate", None) or getattr(candidate, "pgcode", None)
        if isinstance(code, str):
            return code
    return None


def is_transient(exc: BaseException) -> bool:
    """True for failures that another attempt, later, may not meet."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, (ConnectionError, TimeoutError, asyncio.TimeoutError)):
            return True
        # asyncpg reports a refused or unreachable server as a bare OSError ("Multiple exceptions")
        if isinstance(current, OSError) and not isinstance(current, _LOCAL_OS_ERRORS):
            return True
        if isinstance(
            current,
            (
                asyncpg.PostgresConnectionError,
                asyncpg.CannotConnectNowError,
                asyncpg.TooManyConnectionsError,
                asyncpg.InterfaceError,
            ),
        ):
            return True
        if isinstance(current, sa_exc.TimeoutError):  # the pool had no connection to give
            return True
        if isinstance(current, sa_exc.DBAPIError) and (
            current.connection_invalidated or isinstance(current, (sa_exc.OperationalError, sa_exc.InterfaceError))
        ):
            return True
        if _sqlstate(current) in TRANSIENT_SQLSTATES:
            return True
        if type(current).__module__.startswith("aiokafka") and (
            getattr(current, "retriable", False) or type(current).__name__ == "KafkaTimeoutError"
        ):
            return True
        current = current.__cause__ or current.__context__
    return False
