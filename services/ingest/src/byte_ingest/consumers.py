"""Kafka subscribers: parse the event into a command, call the handler.

`execution.created` (executions) for a case opened from a Formstack submission: the submission
is `processed`, with its contact and case. A replayed event changes nothing.
"""

from __future__ import annotations

from byte_contracts import Envelope, topics
from byte_contracts.executions import ExecutionCreated
from byte_platform.consumers import subscribe
from byte_platform.context import Context
from faststream.kafka import KafkaBroker

from byte_ingest.commands import RecordCaseOpened
from byte_ingest.handlers import SERVICE, FormHandlers

CASE_TYPES = frozenset({"execution.created"})
FORMSTACK_SOURCE = "formstack"


def register(broker: KafkaBroker, handlers: FormHandlers, group: str) -> None:
    async def on_case(envelope: Envelope) -> None:
        execution = ExecutionCreated.model_validate(envelope.data).execution
        if execution.source != FORMSTACK_SOURCE or not execution.source_id:
            return
        await handlers.case_opened(
            Context.of_event(envelope, actor=f"system:{SERVICE}"),
            RecordCaseOpened(execution.source_id, execution.id, execution.contact_id),
        )

    subscribe(broker, topics.EXECUTIONS, group_id=f"{group}.cases", handler=on_case, types=CASE_TYPES)
