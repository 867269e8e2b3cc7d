"""Kafka subscribers: the worker's task requests and the gateway's identity events.

Both go through `byte_platform.consumers.subscribe` (offsets committed after success, retries,
dead-letter topic) into a handler that claims the envelope id in the inbox in the same
transaction as its effect.
"""

from __future__ import annotations

from byte_contracts import topics
from byte_platform.consumers import subscribe
from faststream.kafka import KafkaBroker

from byte_tasks.handlers import IDENTITY_TYPES, WORKFLOW_TYPES, TaskHandlers

WORKFLOW_CONSUMER = "tasks.workflow"
IDENTITY_CONSUMER = "tasks.identity"


def register(broker: KafkaBroker, handlers: TaskHandlers, group: str) -> None:
    subscribe(broker, topics.WORKFLOW, group_id=f"{group}.workflow", handler=handlers.request_task,
              types=WORKFLOW_TYPES)
    subscribe(broker, topics.IDENTITY, group_id=f"{group}.identity", handler=handlers.apply_identity,
              types=IDENTITY_TYPES)
