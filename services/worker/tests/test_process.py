"""The worker process's life: it starts while Temporal is down (unready, saying why) and runs
once Temporal answers; a SIGTERM lets the activity it is running finish before it exits.

Each test runs a worker process of its own (own task queue, own consumer groups serving only
its org). The first one brings up a Temporal dev server of its own on free ports, never the
shared one; the second uses an SMTP server of its own that holds a message's answer until the
test lets it go, so the SIGTERM lands while the email is being sent."""

from __future__ import annotations

import asyncio
import subprocess
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from byte_stack.temporal import check_grpc, cli
from byte_testing import eventually
from byte_testing.processes import ServiceProcess, free_port
from byte_worker.messages import CaseState, case_workflow_id
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from .conftest import case_input, definition, step


def worker_process(stack: dict[str, Any], logs_dir: Path, org_id: str, **env: str) -> ServiceProcess:
    """A worker of the test's own: its own task queue, consumer groups and org (not started)."""
    group = f"worker-life-{uuid.uuid4().hex[:8]}"
    base = {
        "KAFKA_BOOTSTRAP_SERVERS": stack["kafka_bootstrap_servers"],
        "TEMPORAL_ADDRESS": stack["temporal_address"],
        "SMTP_HOST": stack["smtp_host"],
        "SMTP_PORT": str(stack["smtp_port"]),
        "CONSUMER_NEW_GROUPS_START": "end",
        "CONSUMER_GROUP": group,
        "TEMPORAL_TASK_QUEUE": f"cases-{group}",
        "ORG_IDS": org_id,
    }
    return ServiceProcess("worker", {**base, **{k.upper(): v for k, v in env.items()}}, logs_dir)


def temporal_dev_server(address: str, log: Path) -> subprocess.Popen[bytes]:
    """A Temporal dev server of the test's own (in memory, no UI) on `address`."""
    host, _, port = address.rpartition(":")
    with log.open("wb") as out:
        argv = [cli(), "server", "start-dev", "--ip", host, "--port", port, "--ui-port", str(free_port())]
        return subprocess.Popen(
            [*argv, "--headless", "--namespace", "default", "--log-level", "warn"],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )


@pytest.fixture
def stopped_afterwards() -> Iterator[list[ServiceProcess]]:
    processes: list[ServiceProcess] = []
    yield processes
    for process in processes:
        process.kill()


async def readiness(process: ServiceProcess) -> httpx.Response:
    async with httpx.AsyncClient(timeout=10) as http:
        return await http.get(f"{process.url}/readyz")


async def test_the_worker_starts_without_temporal_and_runs_cases_once_it_answers(
    stack, logs_dir, org_id, stopped_afterwards, tmp_path
):
    address = f"127.0.0.1:{free_port()}"
    # retried every second or two, so the test does not wait out a long backoff
    worker = worker_process(stack, logs_dir, org_id, temporal_address=address, temporal_reconnect_max_seconds="2")
    stopped_afterwards.append(worker)
    await asyncio.to_thread(worker.launch)

    async def unready_for_temporal() -> httpx.Response | None:
        try:
            r = await readiness(worker)
        except httpx.TransportError:  # still starting
            return None
        return r if "temporal" in r.json().get("checks", {}) else None

    r = await eventually(unready_for_temporal, timeout=60)
    assert r.status_code == 503
    checks = r.json()["checks"]
    assert checks["temporal"].startswith("failed: ConnectionError: not connected to Temporal at " + address)
    assert checks["temporal worker"].startswith("failed:")
    assert checks["broker"] == "ok"
    assert worker.proc is not None and worker.proc.poll() is None

    # Temporal comes up (on the address the worker was given): the worker connects and runs
    server = await asyncio.to_thread(temporal_dev_server, address, tmp_path / "temporal.log")
    try:
        await eventually(lambda: asyncio.to_thread(check_grpc, address), timeout=60)
        await asyncio.to_thread(worker.wait_ready, 90)
        temporal = await Client.connect(address, data_converter=pydantic_data_converter)
        case = case_input(definition(), org_id=org_id)
        state = await temporal.execute_workflow(
            "case",
            case,
            id=case_workflow_id(case.execution_id),
            task_queue=worker.env["TEMPORAL_TASK_QUEUE"],
            result_type=CaseState,
        )
        assert state.finished == "completed" and [r.step_id for r in state.history] == ["start"]
    finally:
        worker.kill()
        server.terminate()
        await asyncio.to_thread(server.wait, 30)


class HeldSink:
    """An SMTP server that takes a message's data and holds its answer until released."""

    def __init__(self) -> None:
        self.receiving = threading.Event()
        self.release = threading.Event()
        self.delivered: list[bytes] = []

    async def handle_DATA(self, server, session, envelope):
        self.receiving.set()
        await asyncio.to_thread(self.release.wait, 120)
        self.delivered.append(envelope.content)
        return "250 Message accepted"


async def test_sigterm_lets_the_email_being_sent_finish_before_the_worker_exits(
    stack, logs_dir, org_id, stopped_afterwards
):
    sink = HeldSink()
    smtp = Controller(sink, hostname="127.0.0.1", port=free_port())
    smtp.start()
    worker = worker_process(stack, logs_dir, org_id, smtp_port=str(smtp.port), shutdown_grace_seconds="60")
    stopped_afterwards.append(worker)
    try:
        await asyncio.to_thread(worker.start, 90)
        temporal = await Client.connect(stack["temporal_address"], data_converter=pydantic_data_converter)
        tell = step("tell", "send_email", {"to": "ada@example.com", "subject": "Hello", "body": "Hi Ada"})
        case = case_input(definition(tell), org_id=org_id)
        handle = await temporal.start_workflow(
            "case", case, id=case_workflow_id(case.execution_id), task_queue=worker.env["TEMPORAL_TASK_QUEUE"]
        )
        await eventually(sink.receiving.is_set, timeout=120)

        worker.terminate()
        # the process has begun stopping its Temporal worker: no new work, the running email goes on
        log = Path(worker.log_path)
        await eventually(lambda: "stopping the Temporal worker" in log.read_text(), timeout=60)
        assert worker.proc is not None and worker.proc.poll() is None
        sink.release.set()
        # it exits by itself (uvicorn re-raises the SIGTERM it handled, hence -15), its shutdown done
        assert await asyncio.to_thread(worker.proc.wait, 90) in (0, -15)
        assert "the Temporal worker stopped" in log.read_text()
        assert "Application shutdown complete" in log.read_text()

        assert len(sink.delivered) == 1
        history = await handle.fetch_history()
        sends = [
            e
            for e in history.events
            if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
            and e.activity_task_scheduled_event_attributes.activity_type.name == "send_email"
        ]
        assert len(sends) == 1
        [started] = [
            e
            for e in history.events
            if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED
            and e.activity_task_started_event_attributes.scheduled_event_id == sends[0].event_id
        ]
        # its one attempt reported success to Temporal before the process exited: no retry will come
        assert started.activity_task_started_event_attributes.attempt == 1
        assert any(
            e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED
            and e.activity_task_completed_event_attributes.scheduled_event_id == sends[0].event_id
            for e in history.events
        )
        await handle.terminate("test over")
    finally:
        sink.release.set()
        await asyncio.to_thread(smtp.stop)
