"""What every service process runs besides its routes and subscribers: the database, the
broker, the outbox relay and the identity verifier, started and stopped in one order."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import timedelta

import sqlalchemy as sa
from byte_contracts import topics as topic_names
from fastapi import FastAPI

from byte_platform.broker import ensure_topics, make_broker
from byte_platform.db import Database
from byte_platform.http import Check
from byte_platform.identity import IdentityVerifier
from byte_platform.inbox import prune
from byte_platform.outbox import Outbox, OutboxRelay
from byte_platform.settings import ServiceSettings

log = logging.getLogger(__name__)

Hook = Callable[[], Awaitable[None]]


class ServiceRuntime:
    def __init__(
        self, settings: ServiceSettings, outbox_table: sa.Table, topics: list[str], inbox_table: sa.Table | None = None
    ) -> None:
        self.settings = settings
        self.inbox_table = inbox_table
        self.topics = topics
        self.db = Database(settings.database_url, pool_size=settings.database_pool_size,
                           max_overflow=settings.database_max_overflow)
        self.broker = make_broker(settings.kafka_bootstrap_servers, client_id=settings.service_name)
        self.outbox = Outbox(outbox_table)
        self.relay = OutboxRelay(self.db, outbox_table, self.broker, settings.database_url,
                                 batch_size=settings.outbox_batch_size, poll_seconds=settings.outbox_poll_seconds)
        self.on_start: list[Hook] = []
        self.on_stop: list[Hook] = []

    def lifespan(self) -> Callable[[FastAPI], AsyncIterator[None]]:
        @asynccontextmanager
        async def lifespan(app: FastAPI) -> AsyncIterator[None]:
            if self.settings.kafka_create_topics:
                await ensure_topics(self.settings.kafka_bootstrap_servers,
                                    [*self.topics, *map(topic_names.dead_letter, self.topics)])
            await self.broker.start()
            for hook in self.on_start:
                await hook()
            if self.settings.outbox_relay_enabled:
                await self.relay.start()
            pruning = asyncio.create_task(self._prune_inbox()) if self.inbox_table is not None else None
            yield
            if pruning is not None:
                pruning.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await pruning
            # In-flight requests are done by now (uvicorn drains them first): publish what
            # they wrote, then let go of the broker and the database.
            await self.relay.stop()
            for hook in self.on_stop:
                await hook()
            await self.broker.stop()
            await self.db.dispose()

        return lifespan

    async def _prune_inbox(self) -> None:
        assert self.inbox_table is not None
        retention = timedelta(days=self.settings.inbox_retention_days)
        while True:
            try:
                async with self.db.unscoped() as session:
                    await prune(session, self.inbox_table, retention)
            except Exception:  # housekeeping: try again next time
                log.exception("pruning the inbox failed")
            await asyncio.sleep(self.settings.inbox_prune_every_seconds)

    async def broker_ready(self) -> None:
        if not await self.broker.ping(timeout=2):
            raise ConnectionError("Kafka did not answer")

    def health_checks(self) -> dict[str, Check]:
        return {"database": self.db.ping, "broker": self.broker_ready}

    def identity_verifier(self) -> IdentityVerifier:
        s = self.settings
        return IdentityVerifier(s.identity_key_pem(), issuer=s.identity_issuer, audience=s.identity_audience)
