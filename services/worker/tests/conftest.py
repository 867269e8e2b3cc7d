import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from byte_platform.broker import make_broker
from byte_worker.activities import CaseActivities
from byte_worker.settings import WorkerSettings
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import UnsandboxedWorkflowRunner, Worker


@pytest.fixture(scope="session")
async def temporal(stack: dict[str, Any]) -> Client:
    return await Client.connect(stack["temporal_address"], data_converter=pydantic_data_converter)


@pytest.fixture(scope="session")
async def kafka_broker(stack: dict[str, Any]) -> AsyncIterator[Any]:
    broker = make_broker(stack["kafka_bootstrap_servers"], client_id="worker-tests")
    await broker.start()
    yield broker
    await broker.stop()


@pytest.fixture
def activity_worker(stack, temporal, kafka_broker) -> Callable[..., Any]:
    """`async with activity_worker(workflows, smtp_port=...) as queue:` runs the worker's real
    activities (and the given workflows) in this process, on a task queue of the test's own."""

    @asynccontextmanager
    async def _run(workflows: list[type], **settings: Any) -> AsyncIterator[str]:
        queue = f"worker-test-{uuid.uuid4().hex[:8]}"
        config = WorkerSettings(
            **{
                "kafka_bootstrap_servers": stack["kafka_bootstrap_servers"],
                "smtp_host": stack["smtp_host"],
                "smtp_port": stack["smtp_port"],
                **settings,
            }
        )
        acts = CaseActivities(kafka_broker, config)
        async with Worker(
            temporal,
            task_queue=queue,
            workflows=workflows,
            activities=[acts.publish, acts.send_email],
            # the probe workflows live in a test module, which the sandbox would re-import
            workflow_runner=UnsandboxedWorkflowRunner(),
        ):
            yield queue

    return _run
