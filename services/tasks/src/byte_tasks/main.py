"""The composition root: settings -> runtime parts (database, broker, outbox relay, inbox
pruner) -> handlers and queries -> HTTP routes and Kafka subscribers."""

from __future__ import annotations

from byte_contracts import topics
from byte_platform.http import base_app, install_health
from byte_platform.runtime import Runtime
from byte_platform.unit_of_work import UnitOfWork
from fastapi import FastAPI

from byte_tasks import api, consumers
from byte_tasks.handlers import TaskHandlers
from byte_tasks.models import inbox, outbox
from byte_tasks.queries import TaskQueries
from byte_tasks.settings import TasksSettings


def create_app(settings: TasksSettings | None = None) -> FastAPI:
    settings = settings or TasksSettings()
    runtime = Runtime(settings)
    db = runtime.database()
    broker = runtime.broker([topics.TASKS, topics.WORKFLOW, topics.IDENTITY, topics.CONTACTS])
    handlers = TaskHandlers(UnitOfWork(db, runtime.outbox_relay(db, broker, outbox), inbox))
    runtime.inbox_pruner(db, inbox)
    if settings.consumers_enabled:
        consumers.register(broker, handlers, settings.consumer_group)

    app = base_app(title="BYTE tasks", version="0.1.0", lifespan=runtime.lifespan())
    app.state.settings = settings
    app.state.identity_verifier = runtime.identity()
    app.state.handlers = handlers
    app.state.queries = TaskQueries(db)
    app.include_router(api.router)
    install_health(app, runtime)
    return app
