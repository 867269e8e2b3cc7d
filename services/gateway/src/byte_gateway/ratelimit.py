"""Per-user and per-org request limits with the `limits` library.

Storage is a URI: `memory://` (one gateway process) or `redis://host:6379` (several replicas
share the counters); the async variant (`async+...`) is chosen here. The strategy is the
moving window by default: exact, no burst at a window edge.
"""

from __future__ import annotations

import math
import time

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


class RateLimits:
    def __init__(
        self, *, per_user: str, per_org: str, storage_uri: str = "memory://", strategy: str = "moving-window"
    ) -> None:
        if strategy not in STRATEGIES:
            raise ValueError(f"RATE_LIMIT_STRATEGY must be one of {sorted(STRATEGIES)}")
        uri = storage_uri if storage_uri.startswith("async+") else f"async+{storage_uri}"
        self.storage = storage_from_string(uri)
        self._limiter = STRATEGIES[strategy](self.storage)
        self._per_user = parse_many(per_user) if per_user else []
        self._per_org = parse_many(per_org) if per_org else []

    async def hit(self, who: Session) -> None:
        """Counts one request for the caller and their org; raises RateLimited when over."""
        for scope, items, keys in (
            ("user", self._per_user, ("user", who.org_id, who.user_id)),
            ("org", self._per_org, ("org", who.org_id)),
        ):
            for item in items:
                if not await self._limiter.hit(item, *keys):
                    stats = await self._limiter.get_window_stats(item, *keys)
                    raise RateLimited(scope, item, max(1, math.ceil(stats.reset_time - time.time())))

    async def ping(self) -> None:
        if not await self.storage.check():  # type: ignore[misc]  # the async storage's check is a coroutine
            raise ConnectionError("rate-limit storage did not answer")
