"""The worker's activities on the real Temporal, Kafka and SMTP sink, driven by probe workflows
of the test's own (the case workflow is tested with the process, in test_worker.py)."""

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from byte_contracts import topics
from byte_platform.broker import make_broker
from byte_testing.processes import free_port
from byte_worker.activities import CaseActivities
from byte_worker.messages import EmailInput, OutgoingEvent, PublishInput, event_id
from byte_worker.settings import WorkerSettings
from pydantic import BaseModel
from temporalio import workflow
from temporalio.client import Client, WorkflowFailureError
from temporalio.common import RetryPolicy
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.worker import UnsandboxedWorkflowRunner, Worker


@pytest.fixture(scope="module")
async def temporal(stack: dict[str, Any]) -> Client:
    return await Client.connect(stack["temporal_address"], data_converter=pydantic_data_converter)


@pytest.fixture(scope="module")
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
            # the probe workflow lives in a test module, which the sandbox would re-import
            workflow_runner=UnsandboxedWorkflowRunner(),
        ):
            yield queue

    return _run


class Probe(BaseModel):
    activity: str
    publish: PublishInput | None = None
    email: EmailInput | None = None
    attempts: int = 3


@workflow.defn(name="activity_probe")
class ActivityProbe:
    @workflow.run
    async def run(self, probe: Probe) -> None:
        await workflow.execute_activity(
            probe.activity,
            probe.publish or probe.email,
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=RetryPolicy(
                initial_interval=timedelta(milliseconds=100), backoff_coefficient=1.0, maximum_attempts=probe.attempts
            ),
        )


async def run_probe(temporal, queue: str, probe: Probe) -> None:
    await temporal.execute_workflow(
        ActivityProbe.run, probe, id=f"probe-{uuid.uuid4()}", task_queue=queue, execution_timeout=timedelta(minutes=2)
    )


def refusal_of(failure: WorkflowFailureError) -> ApplicationError:
    assert isinstance(failure.cause, ActivityError), failure.cause
    assert isinstance(failure.cause.cause, ApplicationError), failure.cause.cause
    return failure.cause.cause


async def test_publish_sends_envelopes_with_the_given_ids_and_a_retry_repeats_them(
    activity_worker, temporal, event_tap, org_id
):
    execution_id = uuid.uuid4()
    workflow_id = f"case-{execution_id}"
    now = datetime.now(UTC)
    events = [
        OutgoingEvent(
            event_id=event_id(workflow_id, "review", 1, "workflow.step_entered"),
            type="workflow.step_entered",
            subject=str(execution_id),
            data={
                "execution_id": str(execution_id),
                "step_id": "review",
                "phase_id": "review",
                "step_type": "wait_for_task",
                "entered_at": now.isoformat(),
                "waiting_for": "task",
            },
            occurred_at=now,
        ),
        OutgoingEvent(
            event_id=event_id(workflow_id, "mark_in_review", 1, "execution.status_changed"),
            type="execution.status_changed",
            subject=str(execution_id),
            data={"execution_id": str(execution_id), "status": "in_review", "changed_at": now.isoformat()},
            occurred_at=now,
        ),
    ]
    request = PublishInput(org_id=org_id, correlation_id="corr-probe", events=events)
    async with activity_worker([ActivityProbe]) as queue, event_tap(topics.WORKFLOW) as tap:
        # the same request twice: what a retried activity (or a replayed step) does
        await run_probe(temporal, queue, Probe(activity="publish", publish=request))
        await run_probe(temporal, queue, Probe(activity="publish", publish=request))
        found = await tap.collect(lambda e: e.org_id == org_id, count=4)

        assert Counter(envelope.id for envelope, _, _ in found) == {e.event_id: 2 for e in events}
        for envelope, headers, key in found:
            assert key == str(execution_id).encode()
            assert headers["event_id"] == str(envelope.id).encode()
            assert headers["event_type"] == envelope.type.encode()
            assert envelope.correlation_id == "corr-probe"
            assert envelope.actor == "system:worker"
        # in order: one case's events share a key, hence a partition
        assert [envelope.type for envelope, _, _ in found[:2]] == ["workflow.step_entered", "execution.status_changed"]

        # an event its payload model refuses is final: one attempt, a non-retryable failure
        broken = request.model_copy(update={"events": [events[0].model_copy(update={"data": {"step_id": 1}})]})
        with pytest.raises(WorkflowFailureError) as failed:
            await run_probe(temporal, queue, Probe(activity="publish", publish=broken))
        refusal = refusal_of(failed.value)
        assert refusal.type == "InvalidEvent" and refusal.non_retryable


def email(org_id: str, to: str, step: str = "welcome_email") -> EmailInput:
    execution_id = uuid.uuid4()
    return EmailInput(
        org_id=org_id,
        execution_id=execution_id,
        step_id=step,
        iteration=1,
        message_id=f"case-{execution_id}.{step}.1@byte.test",
        to=[to],
        subject="Welcome to Acme, Ada!",
        text="Hi Ada <3,\n\nGood news: you are in.\nSee you soon.\n\nThe Acme team",
    )


async def test_send_email_delivers_a_multipart_message_with_the_given_message_id(
    activity_worker, temporal, stack, org_id
):
    to = f"ada-{uuid.uuid4().hex[:8]}@example.test"
    message = email(org_id, to)
    async with activity_worker([ActivityProbe]) as queue:
        await run_probe(temporal, queue, Probe(activity="send_email", email=message))

    async with httpx.AsyncClient(base_url=stack["mail_http_url"], timeout=10) as sink:
        listed = (await sink.get("/messages", params={"to": to})).json()
        assert len(listed) == 1
        received = (await sink.get(f"/messages/{listed[0]['id']}")).json()
        raw = (await sink.get(f"/messages/{listed[0]['id']}.eml")).text
    assert received["headers"]["Message-ID"].strip() == f"<{message.message_id}>"  # folded: long
    assert received["subject"] == "Welcome to Acme, Ada!"
    assert received["header_to"] == to
    assert received["headers"]["Content-Type"].startswith("multipart/alternative")
    assert received["body"].strip().startswith("Hi Ada <3,")
    # the HTML part is the same text, escaped, in paragraphs
    assert "<p>Hi Ada &lt;3,</p>" in received["html"]
    assert "Good news: you are in.<br>" in received["html"]
    assert raw.index("text/plain") < raw.index("text/html")


class ScriptedServer:
    """An SMTP server that answers RCPT TO with `answers` in turn (then 250), counting attempts."""

    def __init__(self, answers: list[str]) -> None:
        self.answers = answers
        self.attempts = 0
        self.delivered: list[bytes] = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        self.attempts += 1
        if self.answers:
            return self.answers.pop(0)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.delivered.append(envelope.content)
        return "250 Message accepted"


async def test_a_refusing_smtp_server_fails_the_step_and_a_busy_one_is_retried(activity_worker, temporal, org_id):
    refusing = ScriptedServer(["550 5.1.1 No such mailbox"] * 10)
    busy = ScriptedServer(["451 4.3.0 Try again later", "451 4.3.0 Try again later"])
    servers = [Controller(handler, hostname="127.0.0.1", port=free_port()) for handler in (refusing, busy)]
    for server in servers:
        server.start()
    try:
        async with activity_worker([ActivityProbe], smtp_port=servers[0].port) as queue:
            with pytest.raises(WorkflowFailureError) as failed:
                refused = email(org_id, "nobody@example.test")
                await run_probe(temporal, queue, Probe(activity="send_email", email=refused))
        refusal = refusal_of(failed.value)
        assert refusal.type == "EmailRefused" and refusal.non_retryable
        assert "550" in refusal.message
        assert refusing.attempts == 1 and refusing.delivered == []

        async with activity_worker([ActivityProbe], smtp_port=servers[1].port) as queue:
            await run_probe(temporal, queue, Probe(activity="send_email", email=email(org_id, "ada@example.test")))
        assert busy.attempts == 3
        assert len(busy.delivered) == 1

        # and a server that stays busy fails the step once the retries are spent
        busy.answers = ["451 4.3.0 Try again later"] * 10
        async with activity_worker([ActivityProbe], smtp_port=servers[1].port) as queue:
            with pytest.raises(WorkflowFailureError) as failed:
                await run_probe(
                    temporal, queue, Probe(activity="send_email", email=email(org_id, "ada@example.test"), attempts=2)
                )
        assert isinstance(failed.value.cause, ActivityError)
    finally:
        for server in servers:
            await asyncio.to_thread(server.stop)
