"""Where a chain's time goes: every event one org caused, read back from Kafka after a run, with
the time it occurred (the envelope's `occurred_at`: the producer's commit or the workflow's
clock) and the time Kafka appended it (the record's timestamp: when the relay or activity
published it). All clocks are this machine's.

    marks = await Marks.now(bootstrap, topics)       # before the run
    ...
    for line in await marks.timeline(org): print(line)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from byte_contracts import Envelope


@dataclass
class Event:
    topic: str
    type: str
    subject: str
    occurred: float  # epoch seconds
    appended: float  # epoch seconds (Kafka record timestamp)
    envelope: Envelope


class Marks:
    """Each partition's end offset at one moment: what a later read starts from."""

    def __init__(self, bootstrap: str, offsets: dict[Any, int]) -> None:
        self.bootstrap = bootstrap
        self.offsets = offsets

    @classmethod
    async def now(cls, bootstrap: str, topics: list[str]) -> Marks:
        from aiokafka import AIOKafkaConsumer, TopicPartition

        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
        await consumer.start()
        try:
            partitions = [
                TopicPartition(topic, p) for topic in topics for p in consumer.partitions_for_topic(topic) or ()
            ]
            if not partitions:  # metadata not loaded yet
                await consumer._client.force_metadata_update()
                partitions = [
                    TopicPartition(topic, p) for topic in topics for p in consumer.partitions_for_topic(topic) or ()
                ]
            return cls(bootstrap, await consumer.end_offsets(partitions))
        finally:
            await consumer.stop()

    async def events(self, org: str) -> list[Event]:
        """The org's events appended since the marks, in appended order."""
        from aiokafka import AIOKafkaConsumer

        consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False)
        await consumer.start()
        found: list[Event] = []
        try:
            partitions = list(self.offsets)
            consumer.assign(partitions)
            ends = await consumer.end_offsets(partitions)
            for tp, start in self.offsets.items():
                consumer.seek(tp, start)
            todo = {tp for tp in partitions if ends[tp] > self.offsets[tp]}
            while todo:
                batches = await consumer.getmany(timeout_ms=1000)
                for tp, records in batches.items():
                    for record in records:
                        if record.offset >= ends[tp] - 1:
                            todo.discard(tp)
                        envelope = Envelope.from_bytes(record.value)
                        if envelope.org_id != org:
                            continue
                        found.append(
                            Event(
                                tp.topic,
                                envelope.type,
                                envelope.subject,
                                envelope.occurred_at.timestamp(),
                                record.timestamp / 1000,
                                envelope,
                            )
                        )
        finally:
            await consumer.stop()
        return sorted(found, key=lambda e: e.appended)

    async def timeline(self, org: str, since: float | None = None) -> list[str]:
        events = await self.events(org)
        if not events:
            return ["(no events)"]
        zero = since if since is not None else events[0].occurred
        lines = [f"t=0 at {datetime.fromtimestamp(zero).isoformat()}"]
        for e in events:
            lines.append(
                f"{(e.occurred - zero) * 1000:9.1f} ms occurred  {(e.appended - zero) * 1000:9.1f} ms appended"
                f"  (+{(e.appended - e.occurred) * 1000:6.1f})  {e.topic:<10} {e.type:<32} {e.subject}"
            )
        return lines
