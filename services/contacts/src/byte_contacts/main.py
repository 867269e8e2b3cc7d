"""The composition root: settings -> database, broker, outbox relay -> app."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from byte_contracts import topics
from byte_platform.broker import ensure_topics, make_broker
from byte_platform.db import Database
from byte_platform.http import base_app, install_health
from byte_platform.identity import IdentityVerifier
from byte_platform.outbox import Outbox, OutboxRelay
from fastapi import FastAPI

from byte_contacts import api
from byte_contacts.handlers import ContactHandlers
from byte_contacts.models import outbox
from byte_contacts.queries import ContactQueries
from byte_contacts.settings import ContactsSettings


def create_app(settings: ContactsSettings | None = None) -> FastAPI:
    settings = settings or ContactsSettings()
    db = Database(settings.database_url, pool_size=settings.database_pool_size, max_overflow=settings.database_max_overflow)
    broker = make_broker(settings.kafka_bootstrap_servers, client_id=settings.service_name)
    relay = OutboxRelay(db, outbox, broker, settings.database_url,
                        batch_size=settings.outbox_batch_size, poll_seconds=settings.outbox_poll_seconds)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.kafka_create_topics:
            await ensure_topics(settings.kafka_bootstrap_servers, [topics.CONTACTS, topics.dead_letter(topics.CONTACTS)])
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

    app = base_app(title="BYTE contacts", version="0.1.0", lifespan=lifespan)
    app.state.settings = settings
    app.state.identity_verifier = IdentityVerifier(
        settings.identity_key_pem(), issuer=settings.identity_issuer, audience=settings.identity_audience
    )
    app.state.handlers = ContactHandlers(db, Outbox(outbox))
    app.state.queries = ContactQueries(db)
    app.include_router(api.router)
    install_health(app, {"database": db.ping, "broker": broker_ready})
    return app
