"""The composition root: settings -> runtime parts (Temporal client, broker, Temporal worker)
-> handlers -> Kafka subscribers; HTTP only for health and metrics.

Temporal being down does not stop the process from starting: it serves `/readyz` (503, with
the reason) and connects in the background with capped backoff; the Temporal worker starts once
connected. Meanwhile the consumers' commands meet `TemporalUnavailable` (transient), so events
wait in Kafka rather than being lost.

Parts start in order and stop in reverse: the Temporal worker stops first and lets running
activities finish (they publish through the broker, still up), then the broker. `/readyz` needs
both Temporal and Kafka: without Kafka no case could report anything.
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

TEMPORAL_RECONNECT_FIRST_SECONDS = 1.0


def case_workflows() -> list[type]:
    from byte_worker.workflows import CaseWorkflow

    return [CaseWorkflow]


def create_app(settings: WorkerSettings | None = None) -> FastAPI:
    settings = settings or WorkerSettings()
    runtime = Runtime(settings)
    connection = TemporalConnection(settings)
    runtime.add("temporal client", connection.connect, connection.give_up_connecting)
    broker = runtime.broker([topics.WORKFLOW, topics.EXECUTIONS, topics.TASKS])
    # The worker cannot do anything useful without Kafka (cases publish all they do), so the
    # broker is a readiness requirement here, not a degradation.
    runtime.checks["broker"] = runtime.degraded_checks.pop("broker")
    handlers = CaseHandlers(
        connection.link,
        settings.temporal_task_queue,
        timedelta(seconds=settings.signal_start_patience_seconds),
    )
    connection.activities = CaseActivities(broker, settings)
    # after the broker: stopping lets running activities publish before the broker stops
    runtime.add("temporal worker", connection.start_worker, connection.stop)
    runtime.checks["temporal"] = connection.ping
    runtime.checks["temporal worker"] = connection.worker_alive
    if settings.consumers_enabled:
        consumers.register(broker, handlers, settings.consumer_group, settings.served_orgs)

    app = base_app(title="BYTE worker", version="0.1.0", lifespan=runtime.lifespan())
    app.state.settings = settings
    app.state.handlers = handlers
    install_health(app, runtime)
    return app


class TemporalConnection:
    """The Temporal client and the worker that runs cases on it.

    `connect` tries once (and builds the Temporal worker); when Temporal cannot be reached it
    returns anyway and keeps trying in the background (capped backoff), so the process starts,
    reports why it is not ready, and runs as soon as Temporal answers. `start_worker` marks the
    worker wanted; it polls as soon as it is built (at once, or when the background connection
    succeeds). `stop` shuts the worker down gracefully: no new tasks are polled, running
    activities get `shutdown_grace_seconds` to finish before they are cancelled (and retried
    elsewhere)."""

    def __init__(self, settings: WorkerSettings) -> None:
        self.settings = settings
        self.link = TemporalLink()
        self.activities: CaseActivities | None = None
        self.worker: Worker | None = None
        self.running: asyncio.Task[None] | None = None
        self.connecting: asyncio.Task[None] | None = None
        self.worker_wanted = False
        self.last_error: str | None = None

    async def connect(self) -> None:
        try:
            await self._connect_once()
        except Exception as exc:
            self._failed(exc)
            log.warning(
                "Temporal at %s is unreachable (%s); not ready, connecting in the background",
                self.settings.temporal_address,
                self.last_error,
            )
            self.connecting = asyncio.create_task(self._keep_connecting(), name="temporal connect")

    async def _connect_once(self) -> None:
        s = self.settings
        client = await asyncio.wait_for(
            Client.connect(s.temporal_address, namespace=s.temporal_namespace, data_converter=pydantic_data_converter),
            s.temporal_rpc_timeout_seconds * 2,
        )
        # Built here, before the consumers start: checking the workflows in their sandbox holds
        # the event loop for seconds, which a running Kafka consumer pays for with its group
        # membership (a missed heartbeat, a rebalance, its commits refused).
        self.worker = self._build_worker(client)
        self.link.client = client
        self.last_error = None
        if self.worker_wanted:
            self._run_worker()

    async def _keep_connecting(self) -> None:
        backoff = TEMPORAL_RECONNECT_FIRST_SECONDS
        while True:
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, self.settings.temporal_reconnect_max_seconds)
            try:
                await self._connect_once()
            except Exception as exc:
                self._failed(exc)
                log.warning("connecting to Temporal failed (%s); retrying in %.0fs", self.last_error, backoff)
                continue
            log.info("connected to Temporal at %s", self.settings.temporal_address)
            return

    def _failed(self, exc: BaseException) -> None:
        self.last_error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__

    async def start_worker(self) -> None:
        self.worker_wanted = True
        if self.worker is not None:
            self._run_worker()

    def _build_worker(self, client: Client) -> Worker:
        s = self.settings
        assert self.activities is not None, "the activities are given before the runtime starts"
        return Worker(
            client,
            task_queue=s.temporal_task_queue,
            workflows=case_workflows(),
            activities=[self.activities.publish, self.activities.send_email],
            max_concurrent_activities=s.max_concurrent_activities,
            graceful_shutdown_timeout=timedelta(seconds=s.shutdown_grace_seconds),
        )

    def _run_worker(self) -> None:
        if self.worker is None or self.running is not None:
            return
        self.running = asyncio.create_task(self.worker.run(), name="temporal worker")
        log.info("polling Temporal task queue %s", self.settings.temporal_task_queue)

    async def give_up_connecting(self) -> None:
        if self.connecting is not None and not self.connecting.done():
            self.connecting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.connecting

    async def stop(self) -> None:
        self.worker_wanted = False
        if self.worker is None or self.running is None:
            return
        if not self.running.done():
            log.info("stopping the Temporal worker; running activities may finish")
            await self.worker.shutdown()
        with contextlib.suppress(asyncio.CancelledError):
            await self.running
        log.info("the Temporal worker stopped")

    async def ping(self) -> None:
        if self.link.client is None:
            raise ConnectionError(
                f"not connected to Temporal at {self.settings.temporal_address} yet ({self.last_error})"
            )
        if not await self.link.client.service_client.check_health(
            timeout=timedelta(seconds=self.settings.temporal_rpc_timeout_seconds)
        ):
            raise ConnectionError("Temporal is not serving")

    async def worker_alive(self) -> None:
        if self.running is None:
            raise RuntimeError("the Temporal worker has not started (no connection to Temporal yet)")
        if self.running.done():
            raise RuntimeError("the Temporal worker is not running")
