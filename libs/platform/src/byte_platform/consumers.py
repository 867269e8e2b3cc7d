"""Kafka subscribers every service declares the same way.

- Offsets are committed only after the handler succeeded (never before: that would be at most
  once); a crash mid-handler means redelivery, which the inbox turns into a no-op.
- A handler that keeps failing is retried a few times in place, then the message goes to
  `<topic>.dlq` with the error in its headers and the consumer moves on, so one poison message
  cannot stop a partition.
- A message that is not a valid envelope goes to the dead-letter topic at once.
"""

from __future__ import annotations

import asyncio
import logging
import traceback
from collections.abc import Awaitable, Callable

from byte_contracts import Envelope, topics
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from prometheus_client import Counter
from pydantic import ValidationError

from byte_platform.logging import correlation_id

log = logging.getLogger(__name__)

Handler = Callable[[Envelope], Awaitable[None]]

CONSUMED = Counter("byte_events_consumed_total", "Events handled", ["group", "type"])
DEAD_LETTERED = Counter("byte_events_dead_lettered_total", "Events sent to a dead-letter topic", ["group", "topic"])

RETRY_DELAYS = (0.1, 0.5, 1.0, 2.0)


def subscribe(
    broker: KafkaBroker,
    topic: str,
    *,
    group_id: str,
    handler: Handler,
    types: frozenset[str] | None = None,
    retry_delays: tuple[float, ...] = RETRY_DELAYS,
) -> None:
    """Registers `handler` for the envelopes on `topic` (only `types`, when given)."""

    async def dead_letter(message: KafkaMessage, error: str) -> None:
        raw = message.raw_message
        await broker.publish(
            message.body,
            topic=topics.dead_letter(topic),
            key=raw.key,
            headers={
                **{k: v.decode(errors="replace") for k, v in raw.headers if isinstance(v, bytes)},
                "dlq_error": error[-4000:],
                "dlq_group": group_id,
                "dlq_source": f"{raw.topic}/{raw.partition}/{raw.offset}",
            },
        )
        DEAD_LETTERED.labels(group_id, topic).inc()

    @broker.subscriber(
        topic,
        group_id=group_id,
        ack_policy=AckPolicy.NACK_ON_ERROR,
        auto_offset_reset="earliest",
    )
    async def consume(message: KafkaMessage) -> None:
        try:
            envelope = Envelope.from_bytes(message.body)
        except ValidationError as exc:
            log.error("not an envelope on %s; dead-lettered", topic)
            await dead_letter(message, f"invalid envelope: {exc}")
            return
        if types is not None and envelope.type not in types:
            return
        token = correlation_id.set(envelope.correlation_id or str(envelope.id))
        try:
            for attempt, delay in enumerate((*retry_delays, None), start=1):
                try:
                    await handler(envelope)
                    CONSUMED.labels(group_id, envelope.type).inc()
                    return
                except Exception:
                    if delay is None:
                        log.exception("%s %s failed %d times; dead-lettered", envelope.type, envelope.id, attempt)
                        await dead_letter(message, traceback.format_exc())
                        return
                    log.warning("%s %s failed (attempt %d); retrying", envelope.type, envelope.id, attempt, exc_info=True)
                    await asyncio.sleep(delay)
        finally:
            correlation_id.reset(token)
