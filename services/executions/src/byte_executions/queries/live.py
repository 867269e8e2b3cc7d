"""Where a running case stands, asked of its workflow (the `state` query) through Temporal.

The workflow is authoritative; the `workflow_executions` row is what it last reported. A read
must never fail because Temporal is away or slow, or because the workflow has not started yet
(its `execution.created` is still on its way to the worker): then the answer comes from the
row, and says so.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from pydantic import ValidationError
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from byte_executions.schemas import ExecutionDetail, LiveState

log = logging.getLogger(__name__)

STATE_QUERY = "state"


@dataclass
class LiveStates:
    address: str
    namespace: str
    timeout: float
    _client: Client | None = field(default=None, init=False)

    async def connect(self) -> None:
        # lazy: Temporal being away at startup must not stop the service; the first query
        # connects, and a failed one tries again next time
        self._client = await Client.connect(
            self.address, namespace=self.namespace, data_converter=pydantic_data_converter, lazy=True
        )

    async def of(self, case: ExecutionDetail) -> LiveState:
        try:
            answer = await asyncio.wait_for(self._ask(case.temporal_workflow_id), self.timeout)
            return LiveState.model_validate({**answer, "source": "workflow"})
        except TimeoutError:
            why = f"the workflow did not answer within {self.timeout:g}s"
        except ValidationError as exc:
            log.warning("the state of %s did not read as a case state: %s", case.temporal_workflow_id, exc)
            why = "the workflow's answer could not be read"
        except Exception as exc:  # Temporal unreachable, the workflow not there (yet), a query failure
            why = f"the workflow could not be asked ({type(exc).__name__}: {_first_line(exc)})"
        return LiveState(
            source="projection",
            unavailable=why,
            status=case.status,
            current_step_id=case.current_step_id,
            current_phase_id=case.current_phase_id,
            waiting_for=case.waiting_for,
            waiting_on_step_id=case.current_step_id if case.waiting_for else None,
            waiting_since=case.step_entered_at if case.waiting_for else None,
            finished=None if case.run_state == "running" else case.run_state,
        )

    async def _ask(self, workflow_id: str) -> dict[str, Any]:
        if self._client is None:
            raise ConnectionError("no Temporal client")
        handle = self._client.get_workflow_handle(workflow_id)
        answer = await handle.query(STATE_QUERY, result_type=dict, rpc_timeout=timedelta(seconds=self.timeout))
        return dict(answer)


def _first_line(exc: BaseException) -> str:
    return (str(exc).splitlines() or [""])[0][:200]
