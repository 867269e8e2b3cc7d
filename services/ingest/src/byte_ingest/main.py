"""The composition root: settings -> runtime parts (database, broker, outbox relay, inbox
pruner) -> handlers and queries -> HTTP routes and Kafka subscribers."""

from __future__ import annotations

from byte_contracts import topics
from byte_platform.http import base_app, install_health
from byte_platform.runtime import Runtime
from byte_platform.unit_of_work import UnitOfWork
from fastapi import FastAPI

from byte_ingest import api, consumers
from byte_ingest.handlers import FormHandlers, Vault, WebhookHandlers
from byte_ingest.models import inbox, outbox
from byte_ingest.queries import IngestQueries
from byte_ingest.settings import IngestSettings


def create_app(settings: IngestSettings | None = None) -> FastAPI:
    settings = settings or IngestSettings()
    runtime = Runtime(settings)
    db = runtime.database()
    broker = runtime.broker([topics.INGEST, topics.EXECUTIONS])
    uow = UnitOfWork(db, runtime.outbox_relay(db, broker, outbox), inbox)
    vault = Vault(settings.secrets_key)
    form_handlers = FormHandlers(uow, vault, settings.key_rotation_grace_seconds)
    runtime.inbox_pruner(db, inbox)
    if settings.consumers_enabled:
        consumers.register(broker, form_handlers, settings.consumer_group)

    app = base_app(title="BYTE ingest", version="0.1.0", lifespan=runtime.lifespan())
    app.state.settings = settings
    app.state.identity_verifier = runtime.identity()
    app.state.form_handlers = form_handlers
    app.state.webhook_handlers = WebhookHandlers(uow, vault)
    app.state.token_rates = api.TokenRates(settings.webhook_rate_per_minute)
    app.state.queries = IngestQueries(db)
    app.include_router(api.router)
    app.include_router(api.webhooks)
    install_health(app, runtime)
    return app
