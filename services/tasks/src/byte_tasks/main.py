"""The composition root: settings -> runtime (database, broker, outbox relay), consumers -> app."""

from __future__ import annotations

from byte_contracts import topics
from byte_platform.http import base_app, install_health, problem_response
from byte_platform.inbox import Inbox
from byte_platform.runtime import ServiceRuntime
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
    runtime = ServiceRuntime(settings, outbox, TOPICS, inbox_table=inbox)
    db = runtime.db
    handlers = TaskHandlers(db, runtime.outbox, Inbox(inbox, consumers.WORKFLOW_CONSUMER),
                            Inbox(inbox, consumers.IDENTITY_CONSUMER))
    if settings.consumers_enabled:
        consumers.register(runtime.broker, handlers, settings.consumer_group)

    app = base_app(title="BYTE tasks", version="0.1.0", lifespan=runtime.lifespan())

    @app.exception_handler(Violation)
    async def _violation(request: Request, exc: Violation) -> JSONResponse:
        return problem_response(exc.status, exc.title, exc.detail, request, **exc.extra)

    app.state.settings = settings
    app.state.identity_verifier = runtime.identity_verifier()
    app.state.handlers = handlers
    app.state.queries = TaskQueries(db)
    app.include_router(api.router)
    install_health(app, runtime.health_checks())
    return app
