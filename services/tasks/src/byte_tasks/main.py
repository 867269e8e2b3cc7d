"""The composition root: settings -> database, broker, consumers, outbox relay -> app."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from byte_contracts import topics
from byte_platform.broker import ensure_topics, make_broker
from byte_platform.db import Database
from byte_platform.http import base_app, install_health, problem_response
from byte_platform.identity import IdentityVerifier
from byte_platform.inbox import Inbox
from byte_platform.outbox import Outbox, OutboxRelay
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from byte_tasks import api, consumers
from byte_tasks.domain import Violation
from byte_tasks.handlers import TaskHandlers
from byte_tasks.models import inbox, outbox
from byte_tasks.queries import TaskQueries
from byte_tasks.settings import TasksSettings

TOPICS = [topics.TASKS, topics.WORKFLOW, topics.IDENTITY]


def create_app(settings: TasksSettings | None = None) -> FastAPI:
    settings = settings or TasksSettings()
    db = Database(settings.database_url, pool_size=settings.database_pool_size, max_overflow=settings.database_max_overflow)
    broker = make_broker(settings.kafka_bootstrap_servers, client_id=settings.service_name)
    relay = OutboxRelay(db, outbox, broker, settings.database_url,
                        batch_size=settings.outbox_batch_size, poll_seconds=settings.outbox_poll_seconds)
    handlers = TaskHandlers(db, Outbox(outbox), Inbox(inbox, consumers.WORKFLOW_CONSUMER),
                            Inbox(inbox, consumers.IDENTITY_CONSUMER))
    if settings.consumers_enabled:
        consumers.register(broker, handlers, settings.consumer_group)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.kafka_create_topics:
            await ensure_topics(settings.kafka_bootstrap_servers, [*TOPICS, *map(topics.dead_letter, TOPICS)])
        await broker.start()
        if settings.outbox_relay_enabled:
            await relay.start()
        yield
        await relay.stop()
        await broker.stop()
        await db.dispose()

    async def broker_ready() -> None:
        if not await broker.ping(timeout=2):
            raise ConnectionError("Kafka did not answer")

    app = base_app(title="BYTE tasks", version="0.1.0", lifespan=lifespan)

    @app.exception_handler(Violation)
    async def _violation(request: Request, exc: Violation) -> JSONResponse:
        return problem_response(exc.status, exc.title, exc.detail, request, **exc.extra)

    app.state.settings = settings
    app.state.identity_verifier = IdentityVerifier(
        settings.identity_key_pem(), issuer=settings.identity_issuer, audience=settings.identity_audience
    )
    app.state.handlers = handlers
    app.state.queries = TaskQueries(db)
    app.include_router(api.router)
    install_health(app, {"database": db.ping, "broker": broker_ready})
    return app
