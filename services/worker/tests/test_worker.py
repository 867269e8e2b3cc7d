"""The worker process on the real stack: cases start from `execution.created` (once), events
come back to them as signals (deduplicated by event id, kept until the case gets there), what
they do reaches Kafka with deterministic ids and their email the SMTP sink."""

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from byte_contracts import topics
from byte_contracts.definitions import applicant_review_document
from byte_contracts.enums import ExecutionSource, TaskOutcome, TaskPriority, TaskStatus, TaskType
from byte_contracts.executions import (
    CaseContact,
    ExecutionCancelRequested,
    ExecutionCreated,
    ExecutionSnapshot,
)
from byte_contracts.tasks import TaskCompleted, TaskSnapshot
from byte_testing.kafka import groups_start_at_the_end
from byte_worker.messages import STATE, CaseState, case_workflow_id, event_id
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.contrib.pydantic import pydantic_data_converter

# The orgs this module's worker serves: the shared topics also carry other sessions' cases,
# which it must neither run nor wait behind.
ORGS = [f"org_{uuid.uuid4().hex[:12]}" for _ in range(4)]
_next_org = iter(ORGS)


@pytest.fixture
def org_id() -> str:
    return next(_next_org)


@pytest.fixture(scope="module")
async def worker(stack, start_service) -> AsyncIterator[Any]:
    """A worker process of this module's own: its own consumer groups (from the topics' ends) and
    its own task queue, stopped when the module ends so it never acts on later tests' cases."""
    group = f"worker-test-{uuid.uuid4().hex[:8]}"
    await groups_start_at_the_end(
        stack["kafka_bootstrap_servers"], group, {"executions": topics.EXECUTIONS, "tasks": topics.TASKS}
    )
    process = start_service(
        "worker",
        consumer_group=group,
        temporal_task_queue=f"cases-{group}",
        signal_start_patience_seconds="30",
        org_ids=",".join(ORGS),
    )
    yield process
    process.stop()


@pytest.fixture(scope="module")
async def temporal(stack) -> Client:
    return await Client.connect(stack["temporal_address"], data_converter=pydantic_data_converter)


def opened(org_id: str, email: str) -> tuple[uuid.UUID, ExecutionCreated]:
    execution_id, now = uuid.uuid4(), datetime.now(UTC)
    contact = CaseContact(id=uuid.uuid4(), first_name="Ada", last_name="Lovelace", email=email)
    execution = ExecutionSnapshot(
        id=execution_id,
        definition_id=uuid.uuid4(),
        definition_key="applicant-review",
        definition_version=1,
        contact_id=contact.id,
        status="submitted",
        run_state="running",
        source=ExecutionSource.MANUAL,
        temporal_workflow_id=case_workflow_id(execution_id),
        started_at=now,
        created_by="user_admin",
        created_at=now,
        updated_at=now,
    )
    created = ExecutionCreated(
        execution=execution, definition=applicant_review_document(), contact=contact, org_name="Lakeside"
    )
    return execution_id, created


def completion(execution_id: uuid.UUID, step: str, task_type: TaskType, outcome: TaskOutcome) -> TaskCompleted:
    now = datetime.now(UTC)
    task = TaskSnapshot(
        id=uuid.uuid4(),
        workflow_execution_id=execution_id,
        title=step,
        task_type=task_type,
        status=TaskStatus.DONE,
        priority=TaskPriority.MEDIUM,
        outcome=outcome,
        position=1.0,
        completed_at=now,
        created_by_step_id=step,
        created_by_iteration=1,
        created_at=now,
        updated_at=now,
    )
    return TaskCompleted(
        task=task,
        outcome=outcome,
        comment="looks good",
        completed_by="user_rev",
        workflow_execution_id=execution_id,
        created_by_step_id=step,
        iteration=1,
    )


async def signals_received(temporal: Client, workflow_id: str, name: str) -> int:
    history = await temporal.get_workflow_handle(workflow_id).fetch_history()
    return sum(
        1
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED
        and e.workflow_execution_signaled_event_attributes.signal_name == name
    )


async def test_a_case_runs_from_its_creation_event_to_its_welcome_email(
    worker, temporal, publish, event_tap, org_id, h, stack
):
    execution_id, created = opened(org_id, f"ada-{uuid.uuid4().hex[:8]}@example.test")
    workflow_id = case_workflow_id(execution_id)
    start = h.event("execution.created", org_id, str(execution_id), created)
    review_done = h.event(
        "task.completed",
        org_id,
        str(uuid.uuid4()),
        completion(execution_id, "assign_review", TaskType.STANDARD, TaskOutcome.COMPLETED),
        actor="user_rev",
    )
    approved = h.event(
        "task.completed",
        org_id,
        str(uuid.uuid4()),
        completion(execution_id, "assign_approval", TaskType.APPROVAL, TaskOutcome.APPROVED),
        actor="user_mgr",
    )
    async with event_tap(topics.WORKFLOW) as tap:
        await publish(start)
        request_id = event_id(workflow_id, "assign_review", 1, "workflow.task_requested")
        [(requested, _, key)] = await tap.collect(lambda e: e.id == request_id, count=1, timeout=60)
        assert key == str(execution_id).encode() and requested.org_id == org_id
        assert requested.data["assigned_role"] == "reviewer" and requested.data["iteration"] == 1
        assert "Ada Lovelace" in requested.data["description"]
        first_run = (await temporal.get_workflow_handle(workflow_id).describe()).run_id

        # a second delivery of the creation event starts nothing
        await publish(start)
        # the review, relayed twice (a redelivery): the case goes on once
        await publish(review_done)
        await publish(review_done)
        approval_id = event_id(workflow_id, "assign_approval", 1, "workflow.task_requested")
        [(asked, _, _)] = await tap.collect(lambda e: e.id == approval_id, count=1, timeout=60)
        assert asked.data["task_type"] == "approval" and "looks good" in asked.data["description"]

        await publish(approved)
        [(done, _, _)] = await tap.collect(
            lambda e: e.type == "workflow.completed" and e.subject == str(execution_id), count=1, timeout=60
        )
        assert done.data["final_status"] == "approved"

    handle = temporal.get_workflow_handle(workflow_id)

    async def closed():
        description = await handle.describe()
        return description if description.status != WorkflowExecutionStatus.RUNNING else None

    description = await h.eventually(closed)  # it reports its end, then ends
    assert description.run_id == first_run and description.status == WorkflowExecutionStatus.COMPLETED
    assert await signals_received(temporal, workflow_id, "task_completed") == 2
    assert await signals_received(temporal, workflow_id, "approval_submitted") == 1
    state = await handle.query(STATE, result_type=CaseState)
    assert state.status == "approved" and state.finished == "completed"
    assert [r.step_id for r in state.history].count("review") == 1

    to = created.contact.email
    async with httpx.AsyncClient(base_url=stack["mail_http_url"], timeout=10) as sink:
        [mail] = await h.eventually(lambda: _mail_to(sink, to))
    assert mail["subject"] == "Welcome to Lakeside, Ada!"
    assert mail["html"] and "Hi Ada," in mail["body"]

    # a signal for a case that has finished is dropped (with a log line), not retried
    late = h.event(
        "task.completed",
        org_id,
        str(uuid.uuid4()),
        completion(execution_id, "assign_approval", TaskType.APPROVAL, TaskOutcome.REJECTED),
    )
    await publish(late)
    log = Path(worker.log_path)
    await h.eventually(lambda: _logged(log, f"approval_submitted for case {workflow_id} dropped"))


async def _mail_to(sink: httpx.AsyncClient, to: str):
    found = (await sink.get("/messages", params={"to": to})).json()
    return found or None


async def _logged(log: Path, text: str) -> bool:
    return text in log.read_text()


async def test_a_signal_that_arrives_before_its_case_starts_waits_for_it(
    worker, temporal, publish, event_tap, org_id, h
):
    execution_id, created = opened(org_id, "grace@example.test")
    workflow_id = case_workflow_id(execution_id)
    early = h.event(
        "task.completed",
        org_id,
        str(uuid.uuid4()),
        completion(execution_id, "assign_review", TaskType.STANDARD, TaskOutcome.COMPLETED),
    )
    async with event_tap(topics.WORKFLOW) as tap:
        # the completion first (retried while the case does not exist), then the creation
        await publish(early)
        await publish(h.event("execution.created", org_id, str(execution_id), created))
        approval_id = event_id(workflow_id, "assign_approval", 1, "workflow.task_requested")
        await tap.collect(lambda e: e.id == approval_id, count=1, timeout=60)

        cancel = ExecutionCancelRequested(
            execution_id=execution_id, request_id=uuid.uuid4(), reason="withdrawn", temporal_workflow_id=workflow_id
        )
        await publish(h.event("execution.cancel_requested", org_id, str(execution_id), cancel, actor="user_admin"))
        [(cancelled, _, _)] = await tap.collect(
            lambda e: e.type == "workflow.cancelled" and e.subject == str(execution_id), count=1, timeout=60
        )
    assert cancelled.data["request_id"] == str(cancel.request_id)

    async def closed():
        description = await temporal.get_workflow_handle(workflow_id).describe()
        return description.status if description.status != WorkflowExecutionStatus.RUNNING else None

    assert await h.eventually(closed) in (WorkflowExecutionStatus.COMPLETED, WorkflowExecutionStatus.CANCELED)


async def test_health_checks_temporal_and_kafka(worker):
    async with httpx.AsyncClient(base_url=worker.url, timeout=10) as api:
        ready = await api.get("/readyz")
        assert ready.status_code == 200
        assert {"temporal", "broker", "temporal worker"} <= set(ready.json()["checks"])
        assert (await api.get("/healthz")).status_code == 200
        assert "byte_events_consumed_total" in (await api.get("/metrics")).text
