"""The composition root: settings -> runtime (database, broker, outbox relay) -> app."""

from __future__ import annotations

from byte_contracts import topics
from byte_platform.http import base_app, install_health
from byte_platform.runtime import ServiceRuntime
from fastapi import FastAPI

from byte_contacts import api
from byte_contacts.handlers import ContactHandlers
from byte_contacts.models import outbox
from byte_contacts.queries import ContactQueries
from byte_contacts.settings import ContactsSettings


def create_app(settings: ContactsSettings | None = None) -> FastAPI:
    settings = settings or ContactsSettings()
    runtime = ServiceRuntime(settings, outbox, [topics.CONTACTS])

    app = base_app(title="BYTE contacts", version="0.1.0", lifespan=runtime.lifespan())
    app.state.settings = settings
    app.state.identity_verifier = runtime.identity_verifier()
    app.state.handlers = ContactHandlers(runtime.db, runtime.outbox)
    app.state.queries = ContactQueries(runtime.db)
    app.include_router(api.router)
    install_health(app, runtime.health_checks())
    return app
