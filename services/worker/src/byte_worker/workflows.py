"""The case workflow: one Temporal workflow per case, interpreting its definition step by step.

A case's definition is frozen in its input (`CaseInput`), so a definition edited later never
changes a running case. Everything the case does outside itself goes through two activities,
called by name so this module imports none of their I/O: `publish` (events for Kafka) and
`send_email`. Every event carries a deterministic id (`messages.event_id`), so a retried
activity or a replayed workflow names the same event and consumers drop the duplicate.

The pure rules (context, rendering, requests, where a step goes) are in interpreter.py; this
module owns time, signals and activities. How a step behaves is documented in
docs/adr/0006-changing-the-case-workflow.md and docs/definitions.md; how to change this code
without breaking running cases, in the ADR.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta
from typing import Any, Literal, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, is_cancelled_exception

with workflow.unsafe.imports_passed_through():
    from byte_contracts.definitions import (
        END,
        TASK_DELETED,
        TIMED_OUT,
        AssignTaskStep,
        ConditionStep,
        ContinueOnTaskDeleted,
        Definition,
        DelayStep,
        Email,
        EscalateOnTaskDeleted,
        EscalateOnTimeout,
        GoToOnTimeout,
        SendEmailStep,
        Step,
        TriggerStep,
        UpdateContactStep,
        UpdateStatusStep,
        UpdateTaskStep,
        WaitForApprovalStep,
        WaitForTaskStep,
    )
    from byte_contracts.enums import ExecutionStatus, TaskPriority
    from byte_contracts.workflow import (
        ExecutionStatusChanged,
        StepEntered,
        TaskUpdateRequested,
        WorkflowCancelled,
        WorkflowCompleted,
        WorkflowFailed,
    )
    from pydantic import BaseModel

    from byte_worker import interpreter
    from byte_worker.interpreter import StepFailed
    from byte_worker.messages import (
        APPROVAL_SUBMITTED,
        CANCEL,
        CHANGE_STATUS,
        STATE,
        TASK_COMPLETED,
        WORKFLOW_NAME,
        CancelSignal,
        CaseInput,
        CaseState,
        ChangeStatusSignal,
        EmailInput,
        OutgoingEvent,
        PublishInput,
        StepRecord,
        TaskCompletedSignal,
        TaskDeletedSignal,
        event_id,
    )
    from byte_worker.messages import (
        TASK_DELETED as TASK_DELETED_SIGNAL,
    )

# A Kafka outage must not fail a case: publishing retries for as long as it takes, backing off
# to one attempt a minute. Each attempt is short (one produce of a few events).
PUBLISH_TIMEOUT = timedelta(seconds=30)
# Cases started (or first woken) since this patch publish by a local activity, run by the worker
# inside the workflow task: no activity task goes through the server and no second workflow task
# is needed to go on, which took most of a case's time from one event to the next. The publish is
# as retried and as idempotent as before (same envelope ids; a lost workflow task re-runs it). A
# step with no effect of its own (a trigger, a condition) leaves its `step_entered` for the next
# step's publish. Histories recorded before the patch replay on the old path.
LOCAL_PUBLISH = "publish-as-local-activity"
PUBLISH_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=1),
    maximum_attempts=0,
)
# An email gets a bounded number of tries over about ten minutes; then the step fails and the
# case with it, visibly (`workflow.failed`), rather than retrying a bad address forever.
EMAIL_TIMEOUT = timedelta(minutes=1)
EMAIL_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=10),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=5),
    maximum_attempts=5,
)

ON_HOLD = ExecutionStatus.ON_HOLD.value
Waiting = Literal["task", "approval", "delay"]
TaskSignal = TypeVar("TaskSignal", TaskCompletedSignal, TaskDeletedSignal)


class CaseCancelled(Exception):
    def __init__(self, request: CancelSignal | None) -> None:
        super().__init__("cancelled")
        self.request = request


@workflow.defn(name=WORKFLOW_NAME)
class CaseWorkflow:
    @workflow.init
    def __init__(self, case: CaseInput) -> None:
        self.case = case
        self.status = case.status
        self.contact: dict[str, Any] = dict(case.contact)
        self.variables: dict[str, Any] = dict(case.variables)
        self.step_values: dict[str, dict[str, Any]] = {}  # steps.<wait id>.outcome|comment|completed_by
        self.entries: dict[str, int] = {}  # how many times the case entered each step
        self.seen_signals: set[str] = set()
        self.completions: list[TaskCompletedSignal] = []
        self.deletions: list[TaskDeletedSignal] = []
        self.cancel_request: CancelSignal | None = None
        self.hold_reason: str | None = None
        self.history: list[StepRecord] = []
        self.current: Step | None = None
        self.waiting_for: Waiting | None = None
        self.waiting_on: str | None = None
        self.waiting_since: datetime | None = None
        self.waiting_until: datetime | None = None
        self.finished: Literal["completed", "failed", "cancelled"] | None = None
        # One publish at a time, so one case's events reach Kafka in the order it made them.
        self.publishing = asyncio.Lock()
        self.unpublished_entries: list[OutgoingEvent] = []
        self.definition: Definition | None = None
        self.definition_error: str | None = None
        try:
            self.definition = Definition.model_validate(case.definition)
        except Exception as exc:  # reported by run() as the case's failure, never a task retry loop
            self.definition_error = str(exc)

    # ----- the run ---------------------------------------------------------------------------

    @workflow.run
    async def run(self, case: CaseInput) -> CaseState:
        failure: str | None = None
        try:
            await self._walk()
            await self._publish([self._event(END, 1, "workflow.completed", self._completed())])
            self.finished = "completed"
        except CaseCancelled as cancelled:
            await self._end_cancelled(cancelled.request)
        except asyncio.CancelledError:  # a Temporal cancel of the workflow
            await self._end_cancelled(None)
        except Exception as exc:
            if is_cancelled_exception(exc):
                await self._end_cancelled(None)
            else:
                failure = self._failure(exc)
                await self._end_failed(failure)
        await workflow.wait_condition(workflow.all_handlers_finished)
        if failure is not None:
            raise ApplicationError(failure, type="CaseFailed", non_retryable=True)
        return self.state()

    async def _walk(self) -> None:
        if self.definition is None:
            raise StepFailed(f"the definition cannot run: {self.definition_error}")
        definition = self.definition
        self.variables = interpreter.initial_variables(definition, self.case.variables)
        steps = {step.id: step for step in definition.steps}
        target = definition.steps[0].id
        while target != END:
            self._stop_if_cancelled()
            target = await self._run_step(definition, steps[target])

    async def _run_step(self, definition: Definition, step: Step) -> str:
        iteration = self.entries[step.id] = self.entries.get(step.id, 0) + 1
        self.current = step
        record = StepRecord(
            step_id=step.id, step_type=step.type, phase_id=step.phase_id, iteration=iteration, entered_at=workflow.now()
        )
        self.history.append(record)
        # Published with the step's first effect, in one activity: fewer round trips, same order.
        entry = self._event(
            step.id,
            iteration,
            "workflow.step_entered",
            StepEntered(
                execution_id=self.case.execution_id,
                step_id=step.id,
                phase_id=step.phase_id,
                step_type=step.type,
                entered_at=workflow.now(),
                waiting_for=_waits_for(step),
                temporal_run_id=workflow.info().run_id,
            ),
        )
        self.unpublished_entries.append(entry)
        target = interpreter.following(definition, step) if not isinstance(step, ConditionStep) else END
        outcome: str | None = None
        if isinstance(step, TriggerStep):
            if not workflow.patched(LOCAL_PUBLISH):
                await self._publish([])
        elif isinstance(step, AssignTaskStep):
            request = interpreter.task_request(
                definition,
                step,
                iteration,
                self._context(),
                execution_id=self.case.execution_id,
                contact_id=interpreter.contact_id_of(self.contact),
            )
            await self._publish([self._event(step.id, iteration, "workflow.task_requested", request)])
        elif isinstance(step, WaitForTaskStep | WaitForApprovalStep):
            target, outcome = await self._wait(definition, step, iteration, target)
        elif isinstance(step, UpdateTaskStep):
            update = interpreter.task_update(
                step, self.entries.get(step.config.task_step, 1), self._context(), execution_id=self.case.execution_id
            )
            await self._publish([self._event(step.id, iteration, "workflow.task_update_requested", update)])
        elif isinstance(step, UpdateContactStep):
            change = interpreter.contact_update(
                step,
                self._context(),
                execution_id=self.case.execution_id,
                contact_id=interpreter.contact_id_of(self.contact),
            )
            await self._publish([self._event(step.id, iteration, "contact.update_requested", change)])
            # Later templates read the new values, whether or not the contacts service has
            # applied them yet.
            self.contact.update(change.fields)
        elif isinstance(step, UpdateStatusStep):
            await self._publish([self._move_to(step.id, iteration, step.config.status, step_id=step.id)])
        elif isinstance(step, SendEmailStep):
            await self._publish([])
            await self._send(step.id, iteration, step.config, f"{step.id}.config", purpose=None)
        elif isinstance(step, ConditionStep):
            if not workflow.patched(LOCAL_PUBLISH):
                await self._publish([])
            target = interpreter.branch(step, self._context())
            outcome = "then" if target == step.config.then else "else"
        elif isinstance(step, DelayStep):
            await self._delay(step)
        record.left_at = workflow.now()
        record.outcome = outcome
        return target

    # ----- waits -------------------------------------------------------------------------------

    async def _wait(
        self, definition: Definition, step: WaitForTaskStep | WaitForApprovalStep, iteration: int, following: str
    ) -> tuple[str, str]:
        c = step.config
        since = workflow.now()
        deadline = since + c.timeout.span if c.timeout is not None else None
        self._waiting(_waits_for(step), c.task_step, since, deadline)
        await self._publish([])
        try:
            while True:
                remaining = None if deadline is None else max(deadline - workflow.now(), timedelta(0))
                try:
                    await workflow.wait_condition(
                        lambda: self.cancel_request is not None or self._has_news(c.task_step), timeout=remaining
                    )
                except TimeoutError:
                    deadline = self.waiting_until = None
                    action = c.on_timeout
                    if isinstance(action, EscalateOnTimeout):
                        # Once: the wait then lasts as long as it takes (docs/definitions.md).
                        await self._escalate_timeout(step, iteration, action)
                        continue
                    self._record(step.id, TIMED_OUT)
                    return (action.step if isinstance(action, GoToOnTimeout) else following), TIMED_OUT
                self._stop_if_cancelled()
                latest = self.entries.get(c.task_step, 0)
                done = _take(self.completions, c.task_step, latest)
                if done is not None:
                    self._record(step.id, done.outcome, done.comment, done.completed_by)
                    return following, done.outcome
                if _take(self.deletions, c.task_step, latest) is None:
                    continue
                on_deleted = c.when_task_deleted
                if isinstance(on_deleted, ContinueOnTaskDeleted):
                    self._record(step.id, TASK_DELETED)
                    return following, TASK_DELETED
                if isinstance(on_deleted, EscalateOnTaskDeleted):
                    await self._ask_again(
                        definition, step, iteration, on_deleted.reassign_to_role, on_deleted.raise_priority_to
                    )
                    if on_deleted.notify is not None:
                        purpose = f"task-deleted-{self.entries[c.task_step]}"
                        where = f"{step.id}.config.on_task_deleted.notify"
                        await self._send(step.id, iteration, on_deleted.notify, where, purpose=purpose)
                    continue
                await self._hold(step, latest)
                await self._ask_again(definition, step, iteration, None, None)
                self._waiting(_waits_for(step), c.task_step, since, deadline)
        finally:
            self._waiting(None, None, None, None)

    def _has_news(self, task_step: str) -> bool:
        latest = self.entries.get(task_step, 0)
        return any(interpreter.is_for(s, task_step, latest) for s in self.completions) or any(
            interpreter.is_for(s, task_step, latest) for s in self.deletions
        )

    async def _escalate_timeout(
        self, step: WaitForTaskStep | WaitForApprovalStep, iteration: int, action: EscalateOnTimeout
    ) -> None:
        task_step = step.config.task_step
        if action.reassign_to_role is not None or action.raise_priority_to is not None:
            update = TaskUpdateRequested(
                execution_id=self.case.execution_id,
                step_id=task_step,
                iteration=self.entries.get(task_step, 1),
                reason="escalation",
                assigned_role=action.reassign_to_role,
                priority=action.raise_priority_to,
            )
            await self._publish([self._event(step.id, iteration, "workflow.task_update_requested", update)])
        if action.notify is not None:
            await self._send(step.id, iteration, action.notify, f"{step.id}.config.on_timeout.notify", "escalation")

    async def _ask_again(
        self,
        definition: Definition,
        step: WaitForTaskStep | WaitForApprovalStep,
        iteration: int,
        role: str | None,
        priority: TaskPriority | None,
    ) -> None:
        """Ask for the awaited task anew, as the next iteration of its assign step (so the tasks
        service and the signals tell the new task from the deleted one)."""
        assign = definition.step(step.config.task_step)
        assert isinstance(assign, AssignTaskStep)  # the validator guarantees it
        task_iteration = self.entries[assign.id] = self.entries.get(assign.id, 0) + 1
        request = interpreter.task_request(
            definition,
            assign,
            task_iteration,
            self._context(),
            execution_id=self.case.execution_id,
            contact_id=interpreter.contact_id_of(self.contact),
            assigned_role=role,
            priority=priority,
        )
        await self._publish([self._event(assign.id, task_iteration, "workflow.task_requested", request)])

    async def _hold(self, step: WaitForTaskStep | WaitForApprovalStep, task_iteration: int) -> None:
        """The awaited task was deleted and the definition leaves it to a person: the case waits,
        its reason on record, until someone changes its status by hand (or cancels it)."""
        task_step = step.config.task_step
        self.hold_reason = f"the task of step {task_step!r} (iteration {task_iteration}) was deleted"
        self._waiting(None, None, None, None)
        if ON_HOLD in self._status_keys() and self.status != ON_HOLD:
            # The deleted task (assign step, iteration) names this change: several holds in one
            # wait stay distinct events.
            await self._publish([self._move_to(task_step, task_iteration, ON_HOLD, step_id=step.id)])
        await workflow.wait_condition(lambda: self.hold_reason is None or self.cancel_request is not None)
        self._stop_if_cancelled()

    async def _delay(self, step: DelayStep) -> None:
        now = workflow.now()
        span = step.config.span
        self._waiting("delay", None, now, now + span)
        await self._publish([])
        try:
            # A durable timer, which a cancel signal cuts short.
            await workflow.wait_condition(lambda: self.cancel_request is not None, timeout=span)
        except TimeoutError:
            pass
        finally:
            self._waiting(None, None, None, None)
        self._stop_if_cancelled()

    # ----- signals and the query -------------------------------------------------------------

    @workflow.signal(name=TASK_COMPLETED)
    def task_completed(self, signal: TaskCompletedSignal) -> None:
        if self._first_time(signal.event_id):
            self.completions.append(signal)

    @workflow.signal(name=APPROVAL_SUBMITTED)
    def approval_submitted(self, signal: TaskCompletedSignal) -> None:
        if self._first_time(signal.event_id):
            self.completions.append(signal)

    @workflow.signal(name=TASK_DELETED_SIGNAL)
    def task_deleted(self, signal: TaskDeletedSignal) -> None:
        if self._first_time(signal.event_id):
            self.deletions.append(signal)

    @workflow.signal(name=CHANGE_STATUS)
    async def change_status(self, signal: ChangeStatusSignal) -> None:
        if not self._first_time(signal.event_id) or self.finished is not None:
            return
        if signal.status not in self._status_keys():
            workflow.logger.warning("status %r is not one of this case's definition: ignored", signal.status)
            return
        event = self._move_to(f"change_status/{signal.request_id}", 1, signal.status, request_id=signal.request_id)
        if signal.status != ON_HOLD:
            self.hold_reason = None  # a person has decided: the case goes on
        await self._publish([event], causation_id=signal.event_id, with_entry=False)

    @workflow.signal(name=CANCEL)
    def cancel(self, signal: CancelSignal) -> None:
        if self._first_time(signal.event_id) and self.cancel_request is None:
            self.cancel_request = signal

    @workflow.query(name=STATE)
    def state(self) -> CaseState:
        return CaseState(
            execution_id=self.case.execution_id,
            status=self.status,
            current_step_id=self.current.id if self.current else None,
            current_phase_id=self.current.phase_id if self.current else None,
            waiting_for=self.waiting_for,
            waiting_on_step_id=self.waiting_on,
            waiting_since=self.waiting_since,
            waiting_until=self.waiting_until,
            on_hold_reason=self.hold_reason,
            finished=self.finished,
            history=[record.model_copy() for record in self.history],
        )

    def _first_time(self, signal_event_id: str) -> bool:
        if signal_event_id in self.seen_signals:
            return False
        self.seen_signals.add(signal_event_id)
        return True

    # ----- endings ------------------------------------------------------------------------------

    def _completed(self) -> WorkflowCompleted:
        return WorkflowCompleted(
            execution_id=self.case.execution_id, final_status=self.status, completed_at=workflow.now()
        )

    async def _end_cancelled(self, request: CancelSignal | None) -> None:
        self.finished = "cancelled"
        self._close_record("cancelled", None)
        cancelled = WorkflowCancelled(
            execution_id=self.case.execution_id,
            request_id=request.request_id if request else None,
            cancelled_at=workflow.now(),
        )
        await self._publish(
            [self._event(END, 1, "workflow.cancelled", cancelled)],
            causation_id=request.event_id if request else None,
        )

    async def _end_failed(self, reason: str) -> None:
        self.finished = "failed"
        self._close_record("failed", reason)
        failed = WorkflowFailed(
            execution_id=self.case.execution_id,
            step_id=self.current.id if self.current else None,
            error=reason,
            failed_at=workflow.now(),
        )
        try:
            await self._publish([self._event(END, 1, "workflow.failed", failed)])
        except Exception as exc:  # publishing only gives up on a refusal; the failure still shows in Temporal
            workflow.logger.error("could not publish workflow.failed: %s", exc)

    def _failure(self, exc: Exception) -> str:
        if isinstance(exc, StepFailed):
            reason = str(exc)
        elif isinstance(exc, ActivityError) and exc.cause is not None:
            reason = f"{exc.activity_type} failed: {exc.cause}"
        else:
            reason = f"{type(exc).__name__}: {exc}"
        if self.current is None:
            return reason
        return f"step {self.current.id!r} ({self.current.type}): {reason}"

    def _close_record(self, outcome: str, detail: str | None) -> None:
        if self.history and self.history[-1].left_at is None:
            self.history[-1].left_at = workflow.now()
            self.history[-1].outcome = outcome
            self.history[-1].detail = detail

    def _stop_if_cancelled(self) -> None:
        if self.cancel_request is not None:
            raise CaseCancelled(self.cancel_request)

    # ----- helpers ------------------------------------------------------------------------------

    def _context(self) -> dict[str, Any]:
        return interpreter.case_context(
            execution_id=self.case.execution_id,
            status=self.status,
            contact=self.contact,
            variables=self.variables,
            steps=self.step_values,
            org_name=self.case.org_name,
        )

    def _record(self, wait_id: str, outcome: str, comment: str | None = None, completed_by: str | None = None) -> None:
        self.step_values[wait_id] = {"outcome": outcome, "comment": comment, "completed_by": completed_by}

    def _waiting(self, kind: Waiting | None, on: str | None, since: datetime | None, until: datetime | None) -> None:
        self.waiting_for, self.waiting_on, self.waiting_since, self.waiting_until = kind, on, since, until

    def _status_keys(self) -> list[str]:
        return [s.key for s in self.definition.statuses] if self.definition else []

    def _move_to(
        self,
        source: str,
        iteration: int,
        status: str,
        *,
        step_id: str | None = None,
        request_id: uuid.UUID | None = None,
    ) -> OutgoingEvent:
        """Move the case to `status` now (the query shows it at once) and make the event that
        says so, its id named after `source` at `iteration`."""
        previous, self.status = self.status, status
        changed = ExecutionStatusChanged(
            execution_id=self.case.execution_id,
            status=status,
            previous_status=previous,
            step_id=step_id,
            request_id=request_id,
            changed_at=workflow.now(),
        )
        return self._event(source, iteration, "execution.status_changed", changed)

    def _event(self, step_id: str, iteration: int, event_type: str, payload: BaseModel) -> OutgoingEvent:
        return OutgoingEvent(
            event_id=event_id(workflow.info().workflow_id, step_id, iteration, event_type),
            type=event_type,
            subject=str(self.case.execution_id),
            data=payload.model_dump(mode="json"),
            occurred_at=workflow.now(),
        )

    async def _publish(
        self, events: list[OutgoingEvent], *, causation_id: str | None = None, with_entry: bool = True
    ) -> None:
        if with_entry and self.unpublished_entries:
            events = [*self.unpublished_entries, *events]
            self.unpublished_entries = []
        if not events:
            return
        request = PublishInput(
            org_id=self.case.org_id, correlation_id=self.case.correlation_id, causation_id=causation_id, events=events
        )
        async with self.publishing:
            if workflow.patched(LOCAL_PUBLISH):
                await workflow.execute_local_activity(
                    "publish", request, start_to_close_timeout=PUBLISH_TIMEOUT, retry_policy=PUBLISH_RETRY
                )
            else:
                await workflow.execute_activity(
                    "publish", request, start_to_close_timeout=PUBLISH_TIMEOUT, retry_policy=PUBLISH_RETRY
                )

    async def _send(self, step_id: str, iteration: int, email: Email, where: str, purpose: str | None) -> None:
        to, subject, text = interpreter.rendered_email(email, self._context(), where)
        message = EmailInput(
            org_id=self.case.org_id,
            execution_id=self.case.execution_id,
            step_id=step_id,
            iteration=iteration,
            message_id=interpreter.message_id(self.case.execution_id, step_id, iteration, purpose),
            to=to,
            subject=subject,
            text=text,
        )
        try:
            await workflow.execute_activity(
                "send_email", message, start_to_close_timeout=EMAIL_TIMEOUT, retry_policy=EMAIL_RETRY
            )
        except ActivityError as exc:
            if is_cancelled_exception(exc):
                raise
            raise StepFailed(f"the email to {', '.join(to)} never went out: {exc.cause or exc}") from exc


def _waits_for(step: Step) -> Waiting | None:
    if isinstance(step, WaitForApprovalStep):
        return "approval"
    if isinstance(step, WaitForTaskStep):
        return "task"
    if isinstance(step, DelayStep):
        return "delay"
    return None


def _take(signals: list[TaskSignal], task_step: str, latest: int) -> TaskSignal | None:
    """Remove and return the first signal about the awaited task, if any. Signals about earlier
    iterations of the same task can no longer be awaited: dropped."""
    found = None
    for signal in list(signals):
        if signal.step_id != task_step:
            continue
        if signal.iteration is not None and signal.iteration < latest:
            signals.remove(signal)
        elif found is None and interpreter.is_for(signal, task_step, latest):
            found = signal
            signals.remove(signal)
    return found
