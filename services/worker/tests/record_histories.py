"""Re-records the Applicant Review histories that test_replay.py replays.

    uv run python services/worker/tests/record_histories.py

Runs three cases (approve, reject, a review that times out and is escalated) on a
time-skipping Temporal test server with fake activities, and writes each one's event history as
JSON to histories/. Re-record only on purpose: a history recorded by the old code is what
proves new code can still run the cases already in flight (docs/adr/0006). When a change is
meant to alter histories, guard it with `workflow.patched(...)`, keep the old files, and add
new ones next to them (name them after the change) rather than overwriting.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from temporalio.client import WorkflowHandle
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

sys.path.insert(0, str(Path(__file__).parent))

from byte_worker.messages import APPROVAL_SUBMITTED, TASK_COMPLETED

from conftest import HISTORIES, Cases, case_input, completion, running_cases, test_server_path, waiting_on

Scenario = Callable[[Cases, WorkflowHandle[Any, Any], WorkflowEnvironment], Awaitable[None]]


async def approve(cases: Cases, handle: WorkflowHandle[Any, Any], env: WorkflowEnvironment) -> None:
    await waiting_on(cases, handle, "assign_review")
    await handle.signal(TASK_COMPLETED, completion("assign_review", comment="Solid references"))
    await waiting_on(cases, handle, "assign_approval")
    await handle.signal(APPROVAL_SUBMITTED, completion("assign_approval", "approved", by="user_mgr"))


async def reject(cases: Cases, handle: WorkflowHandle[Any, Any], env: WorkflowEnvironment) -> None:
    await waiting_on(cases, handle, "assign_review")
    await handle.signal(TASK_COMPLETED, completion("assign_review"))
    await waiting_on(cases, handle, "assign_approval")
    await handle.signal(APPROVAL_SUBMITTED, completion("assign_approval", "rejected", comment="No license"))


async def escalate(cases: Cases, handle: WorkflowHandle[Any, Any], env: WorkflowEnvironment) -> None:
    await waiting_on(cases, handle, "assign_review")
    await env.sleep(timedelta(days=3, minutes=1))
    await approve(cases, handle, env)


SCENARIOS: dict[str, Scenario] = {
    "applicant_review_approve": approve,
    "applicant_review_reject": reject,
    "applicant_review_timeout_escalation": escalate,
}


async def record() -> list[Path]:
    written = []
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=pydantic_data_converter, test_server_existing_path=test_server_path()
    )
    try:
        for name, scenario in SCENARIOS.items():
            async with running_cases(env.client) as cases:
                handle = await cases.start(case_input())
                await scenario(cases, handle, env)
                await handle.result()
                history = await handle.fetch_history()
            path = HISTORIES / f"{name}.json"
            path.write_text(json.dumps(json.loads(history.to_json()), indent=1) + "\n")
            written.append(path)
    finally:
        await env.shutdown()
    return written


if __name__ == "__main__":
    for path in asyncio.run(record()):
        print(path, flush=True)
    # Skip interpreter finalization: the SDK's Rust runtime thread can abort it after the work
    # is done and written.
    os._exit(0)
