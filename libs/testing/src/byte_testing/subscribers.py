"""A service's Kafka subscribers on FastStream's in-memory `TestKafkaBroker`: what reaches the
handlers, and what is dead-lettered, with no broker and no database.

    broker = make_broker("unused:9092", client_id="test")
    handlers = RecordedHandlers()
    consumers.register(broker, handlers, "contacts")      # the service's own wiring
    parked = dead_letters(broker, topics.INGEST)
    async with TestKafkaBroker(broker) as test_broker:
        await test_broker.publish(envelope.to_bytes(), topic=topics.INGEST, key=...)
    [call] = handlers.calls

Under the test broker a publish runs the matching subscribers before it returns, so there is
nothing to wait for. The real-broker tests prove delivery, offsets and retries.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from byte_contracts import topics
from byte_contracts.errors import DomainError
from byte_platform.context import Context
from byte_platform.logging import correlation_id
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage


@dataclass(frozen=True)
class Call:
    handler: str
    ctx: Context
    command: Any
    correlation_id: str | None
    """The correlation id bound (to logs) while the handler ran."""


class RecordedHandlers:
    """Stands in for a service's handlers object: every handler a subscriber calls is recorded
    with its Context and command. `refuse[name] = SomeDomainError(...)` makes that handler refuse."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.refuse: dict[str, DomainError] = {}

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)

        async def handler(ctx: Context, command: Any) -> None:
            self.calls.append(Call(name, ctx, command, correlation_id.get()))
            if name in self.refuse:
                raise self.refuse[name]

        return handler


def dead_letters(broker: KafkaBroker, topic: str) -> list[KafkaMessage]:
    """The messages parked on `topic`'s dead-letter topic from now on (register before starting)."""
    parked: list[KafkaMessage] = []

    @broker.subscriber(topics.dead_letter(topic))
    async def park(message: KafkaMessage) -> None:
        parked.append(message)

    return parked
