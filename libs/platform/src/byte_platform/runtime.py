"""A process's runtime: the parts it needs (database, broker, outbox relay, inbox pruner,
identity verifier, anything with a start and a stop), started in the order they were added
and stopped in reverse, in one `AsyncExitStack`.

A part that fails to start stops the parts already started before the error surfaces; a part
that fails to stop is logged and the others still stop. The same runtime serves an HTTP
service (`runtime.lifespan()`), a process with no HTTP (`async with runtime:`), a service with
no tables (no `database()`).

    runtime = Runtime(settings)
    db = runtime.database()
    broker = runtime.broker([topics.CONTACTS])
    runtime.outbox_relay(db, broker, outbox_table)     # after the broker: it flushes before the broker stops
    verifier = runtime.identity()
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from types import TracebackType
from typing import Any

import sqlalchemy as sa
from byte_contracts import topics as topic_names
from faststream.kafka import KafkaBroker
from faststream.kafka.subscriber.usecase import LogicSubscriber

from byte_platform.broker import ensure_topics, make_broker, reachable, start_new_groups_at_the_end
from byte_platform.db import Database
from byte_platform.identity import IdentityVerifier
from byte_platform.inbox import prune
from byte_platform.outbox import Outbox, OutboxRelay
from byte_platform.settings import ServiceSettings

log = logging.getLogger(__name__)

BROKER_RECONNECT_FIRST_SECONDS = 1.0
BROKER_RECONNECT_MAX_SECONDS = 15.0

Hook = Callable[[], Awaitable[None]]
Check = Callable[[], Awaitable[None]]


@dataclass
class Part:
    """Something that starts and stops with the process."""

    name: str
    start: Hook | None = None
    stop: Hook | None = None

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        if self.start is not None:
            await self.start()
        try:
            yield
        finally:
            if self.stop is not None:
                try:
                    await self.stop()
                except Exception:  # the other parts must still stop
                    log.exception("stopping %s failed", self.name)


class Runtime:
    def __init__(self, settings: ServiceSettings) -> None:
        self.settings = settings
        self.parts: list[Part] = []
        self.checks: dict[str, Check] = {}
        """Readiness: what must answer for this process to serve."""
        self.degraded_checks: dict[str, Check] = {}
        """Reported by readiness, but a failure does not make the process unready."""
        self._stack: AsyncExitStack | None = None

    def add(self, name: str, start: Hook | None = None, stop: Hook | None = None) -> Part:
        part = Part(name, start, stop)
        self.parts.append(part)
        return part

    # --- the parts every service may need -------------------------------------------------

    def database(self) -> Database:
        s = self.settings
        db = Database(s.database_url, pool_size=s.database_pool_size, max_overflow=s.database_max_overflow)
        self.add("database", stop=db.dispose)
        self.checks["database"] = db.ping
        return db

    def broker(self, topics: list[str]) -> KafkaBroker:
        """The Kafka broker; `topics` are created (with their dead-letter topics) when missing.
        Subscribers are registered on it before the runtime starts.

        A broker that cannot be reached at startup does not stop the process: HTTP serves (writes
        wait in the outbox, readiness reports `degraded`) while the connection is retried in the
        background; subscribers start once it succeeds."""
        s = self.settings
        broker = make_broker(s.kafka_bootstrap_servers, client_id=s.service_name)
        connecting: asyncio.Task[None] | None = None

        async def connect() -> None:
            if s.kafka_create_topics:
                await ensure_topics(s.kafka_bootstrap_servers, [*topics, *map(topic_names.dead_letter, topics)])
            if s.consumer_new_groups_start == "end" and s.consumers_enabled:
                await start_new_groups_at_the_end(
                    s.kafka_bootstrap_servers,
                    [
                        (sub.group_id, topic)
                        for sub in broker.subscribers
                        if isinstance(sub, LogicSubscriber) and sub.group_id
                        for topic in sub.topic_names
                    ],
                )
            await broker.start()

        async def reset() -> None:
            # a half-made connection (producer up, a subscriber not) must not linger into the next attempt
            try:
                await broker.stop()
            except Exception:
                log.debug("cleaning up after a failed broker start failed", exc_info=True)

        async def keep_connecting(backoff: float) -> None:
            while True:
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, BROKER_RECONNECT_MAX_SECONDS)
                if not await reachable(s.kafka_bootstrap_servers):
                    log.warning(
                        "Kafka at %s is still unreachable; retrying in %.0fs", s.kafka_bootstrap_servers, backoff
                    )
                    continue
                try:
                    await connect()
                except Exception as exc:
                    await reset()
                    log.warning(
                        "connecting to Kafka failed (%s: %s); retrying in %.0fs", type(exc).__name__, exc, backoff
                    )
                    continue
                log.info("connected to Kafka at %s", s.kafka_bootstrap_servers)
                return

        async def start() -> None:
            nonlocal connecting
            try:
                await asyncio.wait_for(connect(), s.kafka_connect_timeout_seconds)
                return
            except Exception as exc:
                await reset()
                log.warning(
                    "Kafka at %s is unreachable (%s: %s); serving degraded and connecting in the background",
                    s.kafka_bootstrap_servers,
                    type(exc).__name__,
                    exc,
                )
            connecting = asyncio.create_task(keep_connecting(BROKER_RECONNECT_FIRST_SECONDS), name="broker connect")

        async def stop() -> None:
            if connecting is not None and not connecting.done():
                connecting.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await connecting
            await broker.stop()

        async def ping() -> None:
            if connecting is not None and not connecting.done():
                raise ConnectionError("not connected to Kafka yet")
            if not await broker.ping(timeout=2):
                raise ConnectionError("Kafka did not answer")

        self.add("broker", start, stop)
        # Writes go on through a broker outage (the outbox keeps their events), so a broker that
        # does not answer degrades the process, it does not make it unready.
        self.degraded_checks["broker"] = ping
        return broker

    def outbox_relay(self, db: Database, broker: KafkaBroker, table: sa.Table) -> Outbox:
        """The outbox handlers write to, and the relay that publishes it. Add it after the
        broker: stopping it publishes what in-flight work wrote, while the broker still runs."""
        s = self.settings
        outbox = Outbox(table)
        if s.outbox_relay_enabled:
            relay = OutboxRelay(
                db, table, broker, s.database_url, batch_size=s.outbox_batch_size, poll_seconds=s.outbox_poll_seconds
            )
            self.add("outbox relay", relay.start, relay.stop)
        return outbox

    def inbox_pruner(self, db: Database, table: sa.Table) -> None:
        retention = timedelta(days=self.settings.inbox_retention_days)
        every = self.settings.inbox_prune_every_seconds

        async def loop() -> None:
            while True:
                try:
                    async with db.unscoped() as session:
                        await prune(session, table, retention)
                except Exception:  # housekeeping: try again next time
                    log.exception("pruning the inbox failed")
                await asyncio.sleep(every)

        self.background("inbox pruner", loop)

    def background(self, name: str, loop: Callable[[], Awaitable[None]]) -> None:
        """A task that runs for the life of the process and is cancelled at stop."""
        task: asyncio.Task[None] | None = None

        async def start() -> None:
            nonlocal task
            task = asyncio.create_task(loop(), name=name)  # type: ignore[arg-type]

        async def stop() -> None:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

        self.add(name, start, stop)

    def identity(self) -> IdentityVerifier:
        s = self.settings
        return IdentityVerifier(s.identity_key_pem(), issuer=s.identity_issuer, audience=s.identity_audience)

    # --- running ---------------------------------------------------------------------------

    async def __aenter__(self) -> Runtime:
        async with AsyncExitStack() as stack:
            for part in self.parts:
                log.debug("starting %s", part.name)
                await stack.enter_async_context(part.running())
            self._stack = stack.pop_all()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        stack, self._stack = self._stack, None
        if stack is not None:
            await stack.aclose()

    def lifespan(self) -> Callable[[Any], contextlib.AbstractAsyncContextManager[None]]:
        """For FastAPI: uvicorn drains in-flight requests before the parts stop."""

        @asynccontextmanager
        async def lifespan(app: Any) -> AsyncIterator[None]:
            async with self:
                yield

        return lifespan
