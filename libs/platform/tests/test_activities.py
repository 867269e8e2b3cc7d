"""The Temporal entrypoint's mapping, on the real Temporal server: a refusal is final (one
attempt, its kind and fields visible to the workflow); any other failure is retried."""

from __future__ import annotations

import uuid
from datetime import timedelta

from byte_contracts.errors import Invalid, NotFound
from byte_platform.activities import refusals_are_final
from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

ATTEMPTS: dict[str, int] = {}


@activity.defn
@refusals_are_final
async def look_up(what: str) -> str:
    ATTEMPTS[what] = ATTEMPTS.get(what, 0) + 1
    if what == "missing":
        raise NotFound("contact")
    if what == "invalid":
        raise Invalid("email", "not an address")
    if what == "flaky" and ATTEMPTS[what] < 3:
        raise ConnectionError("the database went away")
    return f"found {what}"


@workflow.defn
class LookUp:
    @workflow.run
    async def run(self, what: str) -> dict:
        try:
            result = await workflow.execute_activity(
                look_up,
                what,
                start_to_close_timeout=timedelta(seconds=10),
                retry_policy=RetryPolicy(initial_interval=timedelta(milliseconds=50), maximum_attempts=5),
            )
            return {"result": result}
        except ActivityError as err:
            cause = err.cause
            assert isinstance(cause, ApplicationError)
            return {
                "refused": cause.type,
                "message": cause.message,
                "non_retryable": cause.non_retryable,
                "details": list(cause.details),
            }


async def run(client: Client, what: str) -> dict:
    queue = f"test-activities-{uuid.uuid4().hex[:8]}"
    # unsandboxed: the sandbox re-imports a workflow's module by name, which a test module
    # loaded by pytest's importlib mode does not have
    async with Worker(
        client, task_queue=queue, workflows=[LookUp], activities=[look_up], workflow_runner=UnsandboxedWorkflowRunner()
    ):
        return await client.execute_workflow(LookUp.run, what, id=f"look-up-{uuid.uuid4().hex}", task_queue=queue)


async def test_refusals_are_final_and_other_failures_are_retried(stack):
    client = await Client.connect(stack["temporal_address"])
    missing = await run(client, "missing")
    assert missing["refused"] == "NotFound" and missing["non_retryable"] is True
    assert missing["message"] == "contact not found"
    assert ATTEMPTS["missing"] == 1

    invalid = await run(client, "invalid")
    assert invalid["refused"] == "Invalid" and ATTEMPTS["invalid"] == 1
    assert invalid["details"][0]["errors"] == [{"field": "email", "in": "body", "message": "not an address"}]

    assert await run(client, "flaky") == {"result": "found flaky"}
    assert ATTEMPTS["flaky"] == 3
