"""Kafka subscribers every service declares the same way.

- Offsets are committed only after the handler succeeded (never before: that would be at most
  once); a crash mid-handler means redelivery, which the inbox turns into a no-op.
- Poison goes to `<topic>.dlq` at once, with the error in its headers, and the consumer moves
  on: a message that is not a valid envelope, a payload that fails validation, a refusal of the
  command (`DomainError`). Retrying cannot change their outcome.
- A transient failure (the database or broker unreachable, a timeout, a serialization failure)
  is retried in place, with capped backoff and without limit: the message is valid and must not
  be lost to an outage, and the partition waits (in order) until the world is back.
- Anything else (a bug) is retried a few times, then dead-lettered, so one message cannot stop
  a partition for good. `python -m byte_platform.dlq replay` puts dead letters back once fixed.
"""

from __future__ import annotations

import asyncio
import logging
import traceback
from collections.abc import Awaitable, Callable

from byte_contracts import Envelope, topics
from byte_contracts.errors import DomainError
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from prometheus_client import Counter
from pydantic import ValidationError

from byte_platform.faults import is_transient
from byte_platform.logging import correlation_id

log = logging.getLogger(__name__)

Handler = Callable[[Envelope], Awaitable[None]]

CONSUMED = Counter("byte_events_consumed_total", "Events handled", ["group", "type"])
DEAD_LETTERED = Counter(
    "byte_events_dead_lettered_total", "Events sent to a dead-letter topic", ["group", "topic", "reason"]
)
TRANSIENT_RETRIES = Counter(
    "byte_events_transient_retries_total", "Handler attempts that met a transient failure", ["group"]
)

RETRY_DELAYS = (0.1, 0.5, 1.0, 2.0)
TRANSIENT_BACKOFF_MAX = 2.0  # a recovered database sees its consumers back within 2 s


def subscribe(
    broker: KafkaBroker,
    topic: str,
    *,
    group_id: str,
    handler: Handler,
    types: frozenset[str] | None = None,
    retry_delays: tuple[float, ...] = RETRY_DELAYS,
    transient_backoff_max: float = TRANSIENT_BACKOFF_MAX,
) -> None:
    """Registers `handler` for the envelopes on `topic` (only `types`, when given)."""

    async def dead_letter(message: KafkaMessage, reason: str, error: str) -> None:
        raw = message.raw_message
        assert not isinstance(raw, tuple), "subscribers take one message at a time, not batches"
        await broker.publish(
            message.body,
            topic=topics.dead_letter(topic),
            key=raw.key,
            headers={
                **{k: v.decode(errors="replace") for k, v in raw.headers if isinstance(v, bytes)},
                "dlq_reason": reason,
                "dlq_error": error[-4000:],
                "dlq_group": group_id,
                "dlq_source": f"{raw.topic}/{raw.partition}/{raw.offset}",
            },
        )
        DEAD_LETTERED.labels(group_id, topic, reason).inc()

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
            await dead_letter(message, "invalid_envelope", f"invalid envelope: {exc}")
            return
        if types is not None and envelope.type not in types:
            return
        token = correlation_id.set(envelope.correlation_id or str(envelope.id))
        try:
            await _handle(envelope, message)
        finally:
            correlation_id.reset(token)

    async def _handle(envelope: Envelope, message: KafkaMessage) -> None:
        failures = 0
        backoff = retry_delays[0] if retry_delays else 0.1
        while True:
            try:
                await handler(envelope)
                CONSUMED.labels(group_id, envelope.type).inc()
                return
            except (DomainError, ValidationError) as exc:
                log.error("%s %s refused (%s); dead-lettered", envelope.type, envelope.id, exc)
                await dead_letter(message, "refused", f"{type(exc).__name__}: {exc}")
                return
            except Exception as exc:
                if is_transient(exc):
                    TRANSIENT_RETRIES.labels(group_id).inc()
                    log.warning(
                        "%s %s met a transient failure (%s: %s); retrying in %.1fs",
                        envelope.type,
                        envelope.id,
                        type(exc).__name__,
                        exc,
                        backoff,
                    )
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, transient_backoff_max)
                    continue
                if failures >= len(retry_delays):
                    log.exception("%s %s failed %d times; dead-lettered", envelope.type, envelope.id, failures + 1)
                    await dead_letter(message, "failed", traceback.format_exc())
                    return
                log.warning(
                    "%s %s failed (attempt %d); retrying", envelope.type, envelope.id, failures + 1, exc_info=True
                )
                await asyncio.sleep(retry_delays[failures])
                failures += 1
