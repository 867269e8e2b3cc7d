"""The case workflow on the shared stack's real Temporal dev server (persistence, real task
dispatch, real signal delivery), each test on a fresh task queue with fake activities."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from byte_worker.messages import APPROVAL_SUBMITTED, TASK_COMPLETED, case_workflow_id, event_id
from temporalio.client import Client, WorkflowFailureError
from temporalio.contrib.pydantic import pydantic_data_converter

from .conftest import case_input, completion, definition, running_cases, step, waiting_on


@pytest.fixture
async def dev_client(stack: dict[str, Any]) -> AsyncIterator[Client]:
    yield await Client.connect(stack["temporal_address"], data_converter=pydantic_data_converter)


async def test_an_applicant_review_runs_on_the_real_server(dev_client: Client):
    async with running_cases(dev_client) as cases:
        case = case_input()
        handle = await cases.start(case)
        await waiting_on(cases, handle, "assign_review")
        early = completion("assign_approval", "approved", by="user_mgr")
        await handle.signal(APPROVAL_SUBMITTED, early)  # before the case asks for the approval
        review = completion("assign_review")
        await handle.signal(TASK_COMPLETED, review)
        await handle.signal(TASK_COMPLETED, review)
        final = await handle.result()
    assert final.finished == "completed"
    assert final.status == "approved"
    assert [e.to for e in cases.outside.emails] == [["ada@example.com"]]
    ids = [e["id"] for e in cases.outside.events]
    assert len(ids) == len(set(ids))
    workflow_id = case_workflow_id(case.execution_id)
    assert ids[-1] == str(event_id(workflow_id, "end", 1, "workflow.completed"))


async def test_a_failing_case_fails_once_on_the_real_server(dev_client: Client):
    async with running_cases(dev_client) as cases:
        handle = await cases.start(
            case_input(
                definition(step("tell", "send_email", {"to": "{{ contact.phone }}", "subject": "s", "body": "b"}))
            )
        )
        with pytest.raises(WorkflowFailureError) as failed:
            await handle.result()
    assert failed.value.cause.message.startswith("step 'tell' (send_email): tell.config to: {{ contact.phone }}")
    assert cases.outside.types() == ["workflow.step_entered", "workflow.step_entered", "workflow.failed"]
    history = await handle.fetch_history()
    assert sum(1 for e in history.events if e.HasField("workflow_task_failed_event_attributes")) == 0
