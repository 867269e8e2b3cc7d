"""Waiting for something that happens elsewhere (a consumer, a relay, a process) to show."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def eventually(
    probe: Callable[[], T | Awaitable[T]], *, timeout: float = 30.0, interval: float = 0.1, what: str = ""
) -> T:
    """Calls `probe` (sync or async) until it returns something truthy, and returns that.

    An `AssertionError` inside the probe means "not yet", like a falsy value, so a probe can
    assert what it waits for and return what it checked: `assert len(rows) == 3; return rows`.
    Any other exception fails at once. After `timeout` seconds (the probe is always tried at
    least once) an AssertionError names `what` was awaited and the last value, or carries the
    last assertion.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    attempts = 0
    while True:
        attempts += 1
        failure: AssertionError | None = None
        try:
            value = probe()
            if inspect.isawaitable(value):
                value = await value
        except AssertionError as exc:
            failure = exc
        else:
            if value:
                return value
        if loop.time() >= deadline:
            last = f"last assertion: {failure}" if failure is not None else f"last value: {value!r}"
            raise AssertionError(
                f"{what or 'condition'} not met within {timeout}s ({attempts} attempts); {last}"
            ) from failure
        await asyncio.sleep(interval)
