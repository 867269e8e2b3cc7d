"""Per-user and per-org request limits with the `limits` library.

Storage is a URI: `memory://` (one gateway process) or `redis://host:6379` (several replicas
share the counters); the async variant (`async+...`) is chosen here. The strategy is the
moving window by default: exact, no burst at a window edge. The default of defaults (a moving
window in memory) is counted by `InProcessMovingWindows`, on the event loop.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable

from limits import RateLimitItem, parse_many
from limits.aio import strategies
from limits.storage import storage_from_string

from byte_gateway.domain import Session

STRATEGIES: dict[
    str,
    type[
        strategies.MovingWindowRateLimiter
        | strategies.SlidingWindowCounterRateLimiter
        | strategies.FixedWindowRateLimiter
    ],
] = {
    "moving-window": strategies.MovingWindowRateLimiter,
    "sliding-window-counter": strategies.SlidingWindowCounterRateLimiter,
    "fixed-window": strategies.FixedWindowRateLimiter,
}


class RateLimited(Exception):
    def __init__(self, scope: str, limit: RateLimitItem, retry_after: int) -> None:
        super().__init__(f"rate limit of {limit} per {scope} exceeded")
        self.scope = scope
        self.limit = limit
        self.retry_after = retry_after


class InProcessMovingWindows:
    """The moving window for one gateway process, counted on the event loop.

    `limits`' async memory storage gives the same answers but expires old hits on a worker
    thread, a thread hop per key on every request, which cost more than the rest of admitting
    a request. Here each key keeps its hits oldest first; the expired ones fall off the front
    at the key's next hit, and keys nobody hit for a whole window are swept now and then."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, sweep_every: int = 10_000) -> None:
        self._clock = clock
        self._windows: dict[str, tuple[float, deque[float]]] = {}
        self._sweep_every = self._until_sweep = sweep_every

    def hit(self, item: RateLimitItem, *identifiers: str) -> float | None:
        """Counts a hit and returns None, or, when the window is full, counts nothing and
        returns the seconds until its oldest hit leaves it."""
        now = self._clock()
        length = float(item.get_expiry())
        _, hits = self._windows.setdefault(item.key_for(*identifiers), (length, deque()))
        while hits and hits[0] <= now - length:
            hits.popleft()
        if len(hits) >= item.amount:
            return hits[0] + length - now
        hits.append(now)
        self._until_sweep -= 1
        if self._until_sweep <= 0:
            self._until_sweep = self._sweep_every
            self._windows = {k: (w, h) for k, (w, h) in self._windows.items() if h and h[-1] > now - w}
        return None


class RateLimits:
    def __init__(
        self, *, per_user: str, per_org: str, storage_uri: str = "memory://", strategy: str = "moving-window"
    ) -> None:
        if strategy not in STRATEGIES:
            raise ValueError(f"RATE_LIMIT_STRATEGY must be one of {sorted(STRATEGIES)}")
        uri = storage_uri if storage_uri.startswith("async+") else f"async+{storage_uri}"
        self.storage = storage_from_string(uri)
        self._limiter = STRATEGIES[strategy](self.storage)
        in_process = uri.startswith("async+memory:") and strategy == "moving-window"
        self._in_process = InProcessMovingWindows() if in_process else None
        self._per_user = parse_many(per_user) if per_user else []
        self._per_org = parse_many(per_org) if per_org else []

    async def hit(self, who: Session) -> None:
        """Counts one request for the caller and their org; raises RateLimited when over."""
        for scope, items, keys in (
            ("user", self._per_user, ("user", who.org_id, who.user_id)),
            ("org", self._per_org, ("org", who.org_id)),
        ):
            for item in items:
                if self._in_process is not None:
                    wait = self._in_process.hit(item, *keys)
                    if wait is not None:
                        raise RateLimited(scope, item, max(1, math.ceil(wait)))
                elif not await self._limiter.hit(item, *keys):
                    stats = await self._limiter.get_window_stats(item, *keys)
                    raise RateLimited(scope, item, max(1, math.ceil(stats.reset_time - time.time())))

    async def ping(self) -> None:
        if not await self.storage.check():  # type: ignore[misc]  # the async storage's check is a coroutine
            raise ConnectionError("rate-limit storage did not answer")
