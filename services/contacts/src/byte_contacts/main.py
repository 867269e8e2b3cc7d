"""The composition root: settings -> runtime parts (database, broker, outbox relay, inbox
pruner) -> handlers and queries -> HTTP routes and Kafka subscribers."""

from __future__ import annotations

from byte_contracts import topics
from byte_platform.http import base_app, install_health
from byte_platform.runtime import Runtime
from byte_platform.unit_of_work import UnitOfWork
from fastapi import FastAPI

from byte_contacts import api, consumers
from byte_contacts.handlers import ContactHandlers
from byte_contacts.models import inbox, outbox
from byte_contacts.queries import ContactQueries
from byte_contacts.settings import ContactsSettings


def create_app(settings: ContactsSettings | None = None) -> FastAPI:
    settings = settings or ContactsSettings()
    runtime = Runtime(settings)
    db = runtime.database()
    broker = runtime.broker([topics.CONTACTS, topics.INGEST, topics.WORKFLOW])
    handlers = ContactHandlers(UnitOfWork(db, runtime.outbox_relay(db, broker, outbox), inbox))
    runtime.inbox_pruner(db, inbox)
    if settings.consumers_enabled:
        consumers.register(broker, handlers, settings.consumer_group)

    app = base_app(title="BYTE contacts", version="0.1.0", lifespan=runtime.lifespan())
    app.state.settings = settings
    app.state.identity_verifier = runtime.identity()
    app.state.handlers = handlers
    app.state.queries = ContactQueries(db)
    app.include_router(api.router)
    install_health(app, runtime)
    return app
