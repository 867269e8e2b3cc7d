"""What the worker does to a case's workflow on Temporal: start it once, relay a signal.

Failures are classified the way `byte_platform.consumers` expects: Temporal unreachable, or a
case whose workflow has not started yet (its `execution.created` may still be on its way), is
transient (a `ConnectionError`: retried in place); a case that never started within the
patience is a refusal (dead-lettered, replayable); a finished case drops the signal with a log
line.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from byte_contracts.errors import NotFound
from byte_platform.context import Context
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from byte_worker.commands import SignalCase, StartCase
from byte_worker.messages import WORKFLOW_NAME, case_workflow_id

log = logging.getLogger(__name__)

# What Temporal answers while it (or the network to it) is away or overloaded.
TRANSIENT_RPC_STATUSES = frozenset(
    {RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED, RPCStatusCode.RESOURCE_EXHAUSTED}
)


class TemporalUnavailable(ConnectionError):
    """Temporal cannot be asked now; the consumer retries in place."""


class CaseNotStartedYet(ConnectionError):
    """The case's workflow does not exist yet; its start is expected shortly."""


@dataclass
class TemporalLink:
    """The Temporal client, once the runtime has connected it."""

    client: Client | None = None

    def get(self) -> Client:
        if self.client is None:
            raise TemporalUnavailable("not connected to Temporal yet")
        return self.client


@dataclass
class CaseHandlers:
    temporal: TemporalLink
    task_queue: str
    signal_start_patience: timedelta = field(default_factory=lambda: timedelta(minutes=5))

    async def start(self, ctx: Context, cmd: StartCase) -> None:
        workflow_id = case_workflow_id(cmd.case.execution_id)
        try:
            # A second start (a redelivered `execution.created`, a second worker group) finds the
            # running workflow; one that already ended is not started again.
            handle = await self.temporal.get().start_workflow(
                WORKFLOW_NAME,
                cmd.case,
                id=workflow_id,
                task_queue=self.task_queue,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            )
        except WorkflowAlreadyStartedError:
            log.info("case %s already ran; not started again", workflow_id)
            return
        except RPCError as exc:
            raise _classified(exc) from exc
        log.info("case %s started (run %s)", workflow_id, handle.first_execution_run_id or handle.run_id)

    async def signal(self, ctx: Context, cmd: SignalCase) -> None:
        workflow_id = case_workflow_id(cmd.execution_id)
        handle = self.temporal.get().get_workflow_handle(workflow_id)
        try:
            await handle.signal(cmd.name, cmd.payload)
            return
        except RPCError as exc:
            if exc.status != RPCStatusCode.NOT_FOUND:
                raise _classified(exc) from exc
        # Not running: it ended, or it has not started yet.
        try:
            description = await handle.describe()
        except RPCError as exc:
            if exc.status != RPCStatusCode.NOT_FOUND:
                raise _classified(exc) from exc
            waited = datetime.now(UTC) - cmd.occurred_at
            if waited < self.signal_start_patience:
                raise CaseNotStartedYet(f"case {workflow_id} has not started yet") from exc
            raise NotFound(f"case {workflow_id} (not started {waited} after the event)") from exc
        if description.status == WorkflowExecutionStatus.RUNNING:  # it ended and restarted in between
            raise CaseNotStartedYet(f"case {workflow_id} was between runs")
        log.info(
            "%s for case %s dropped: its workflow is %s",
            cmd.name,
            workflow_id,
            description.status.name.lower() if description.status else "closed",
        )


def _classified(exc: RPCError) -> Exception:
    if exc.status in TRANSIENT_RPC_STATUSES:
        return TemporalUnavailable(f"Temporal: {exc.status.name} {exc.message}")
    return exc
