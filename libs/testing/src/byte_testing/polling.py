"""Waiting for the real system to get somewhere, without guessing how long it takes."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def eventually(check: Callable[[], T | Awaitable[T]], *, timeout: float = 30.0, interval: float = 0.05,
                     what: str = "") -> T:
    """Calls `check` (plain or async) until it returns something truthy, and returns that; fails
    after `timeout` with the last value or error it saw."""
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        try:
            result = check()
            if inspect.isawaitable(result):
                result = await result
            if result:
                return result  # type: ignore[return-value]
            last = result
        except AssertionError as exc:
            last = exc
        if time.monotonic() > deadline:
            raise AssertionError(f"not true after {timeout:.0f}s: {what or check!r} (last: {last!r})")
        await asyncio.sleep(interval)
