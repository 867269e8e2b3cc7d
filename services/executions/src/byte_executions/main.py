"""The composition root: settings -> runtime parts (database, broker, outbox relay, inbox
pruner) -> handlers and queries -> HTTP routes and Kafka subscribers."""

from __future__ import annotations

from byte_contracts import topics
from byte_platform.http import base_app, install_health
from byte_platform.runtime import Runtime
from byte_platform.unit_of_work import UnitOfWork
from fastapi import FastAPI

from byte_executions import api, consumers
from byte_executions.handlers import CaseHandlers, DefinitionHandlers, IntakeHandlers, ProjectionHandlers, Provisioning
from byte_executions.handlers.activity import ActivityHandlers, TaskProjection
from byte_executions.handlers.notes import NoteHandlers
from byte_executions.models import inbox, outbox
from byte_executions.queries import CaseQueries, DefinitionQueries
from byte_executions.queries.activity import ActivityQueries
from byte_executions.queries.dashboard import DashboardQueries
from byte_executions.queries.exports import ExportQueries
from byte_executions.queries.live import LiveStates
from byte_executions.settings import ExecutionsSettings


def create_app(settings: ExecutionsSettings | None = None) -> FastAPI:
    settings = settings or ExecutionsSettings()
    runtime = Runtime(settings)
    db = runtime.database()
    broker = runtime.broker(list(topics.ALL))
    uow = UnitOfWork(db, runtime.outbox_relay(db, broker, outbox), inbox)
    definition_handlers = DefinitionHandlers(uow)
    provisioning = Provisioning(definition_handlers)
    case_handlers = CaseHandlers(uow)
    projections = ProjectionHandlers(uow)
    intake = IntakeHandlers(uow, case_handlers, provisioning)
    runtime.inbox_pruner(db, inbox)
    live_states = LiveStates(
        settings.temporal_address, settings.temporal_namespace, settings.temporal_query_timeout_seconds
    )
    runtime.add("temporal client", live_states.connect)
    if settings.consumers_enabled:
        consumers.register(broker, provisioning, projections, case_handlers, settings.consumer_group, intake)
        consumers.register_activity(broker, ActivityHandlers(uow), TaskProjection(uow), settings.consumer_group)

    app = base_app(title="BYTE executions", version="0.1.0", lifespan=runtime.lifespan())
    app.state.settings = settings
    app.state.identity_verifier = runtime.identity()
    app.state.definition_handlers = definition_handlers
    app.state.provisioning = provisioning
    app.state.case_handlers = case_handlers
    app.state.intake_handlers = intake
    app.state.definition_queries = DefinitionQueries(db)
    app.state.case_queries = CaseQueries(db)
    app.state.live_states = live_states
    app.state.note_handlers = NoteHandlers(uow)
    app.state.activity_queries = ActivityQueries(db)
    app.state.dashboard_queries = DashboardQueries(db)
    app.state.export_queries = ExportQueries(db, app.state.dashboard_queries)
    for router in api.routers:
        app.include_router(router)
    install_health(app, runtime)
    return app
