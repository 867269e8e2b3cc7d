"""The composition root: settings -> runtime parts (Temporal client, broker, Temporal worker)
-> handlers -> Kafka subscribers; HTTP only for health and metrics.

Parts start in order and stop in reverse: the Temporal worker stops first and lets running
activities finish (they publish through the broker, still up), then the broker, then the
client. `/readyz` needs both Temporal and Kafka: without Kafka no case could report anything.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta

from byte_contracts import topics
from byte_platform.http import base_app, install_health
from byte_platform.runtime import Runtime
from fastapi import FastAPI
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Worker

from byte_worker import consumers
from byte_worker.activities import CaseActivities
from byte_worker.handlers import CaseHandlers, TemporalLink
from byte_worker.settings import WorkerSettings

log = logging.getLogger(__name__)


def case_workflows() -> list[type]:
    from byte_worker.workflows import CaseWorkflow

    return [CaseWorkflow]


def create_app(settings: WorkerSettings | None = None) -> FastAPI:
    settings = settings or WorkerSettings()
    runtime = Runtime(settings)
    temporal = temporal_client(runtime, settings)
    broker = runtime.broker([topics.WORKFLOW, topics.EXECUTIONS, topics.TASKS])
    # The worker cannot do anything useful without Kafka (cases publish all they do), so the
    # broker is a readiness requirement here, not a degradation.
    runtime.checks["broker"] = runtime.degraded_checks.pop("broker")
    handlers = CaseHandlers(
        temporal,
        settings.temporal_task_queue,
        timedelta(seconds=settings.signal_start_patience_seconds),
    )
    temporal_worker(runtime, settings, temporal, CaseActivities(broker, settings))
    if settings.consumers_enabled:
        consumers.register(broker, handlers, settings.consumer_group, settings.served_orgs)

    app = base_app(title="BYTE worker", version="0.1.0", lifespan=runtime.lifespan())
    app.state.settings = settings
    app.state.handlers = handlers
    install_health(app, runtime)
    return app


def temporal_client(runtime: Runtime, settings: WorkerSettings) -> TemporalLink:
    link = TemporalLink()

    async def connect() -> None:
        link.client = await Client.connect(
            settings.temporal_address,
            namespace=settings.temporal_namespace,
            data_converter=pydantic_data_converter,
        )

    async def ping() -> None:
        client = link.get()
        if not await client.service_client.check_health(
            timeout=timedelta(seconds=settings.temporal_rpc_timeout_seconds)
        ):
            raise ConnectionError("Temporal is not serving")

    runtime.add("temporal client", connect)
    runtime.checks["temporal"] = ping
    return link


def temporal_worker(runtime: Runtime, settings: WorkerSettings, temporal: TemporalLink, acts: CaseActivities) -> None:
    worker: Worker | None = None
    running: asyncio.Task[None] | None = None

    async def start() -> None:
        nonlocal worker, running
        worker = Worker(
            temporal.get(),
            task_queue=settings.temporal_task_queue,
            workflows=case_workflows(),
            activities=[acts.publish, acts.send_email],
            max_concurrent_activities=settings.max_concurrent_activities,
            # On stop: no new tasks are polled; running activities get this long to finish
            # before they are cancelled (and retried elsewhere by Temporal).
            graceful_shutdown_timeout=timedelta(seconds=settings.shutdown_grace_seconds),
        )
        running = asyncio.create_task(worker.run(), name="temporal worker")

    async def stop() -> None:
        if worker is None or running is None:
            return
        if not running.done():
            await worker.shutdown()
        with contextlib.suppress(asyncio.CancelledError):
            await running

    async def alive() -> None:
        if running is None or running.done():
            raise RuntimeError("the Temporal worker is not running")

    runtime.add("temporal worker", start, stop)
    runtime.checks["temporal worker"] = alive
