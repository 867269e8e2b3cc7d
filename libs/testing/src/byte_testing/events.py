"""Reading events back from the real broker."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from aiokafka import AIOKafkaConsumer, TopicPartition
from byte_contracts import Envelope


class EventTap:
    """Remembers where a topic ends now; `collect` then reads only what came after.
    `from_beginning=True` reads the whole topic instead (a test's own fresh topic)."""

    def __init__(self, bootstrap: str, topic: str, *, from_beginning: bool = False) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self.from_beginning = from_beginning
        self._start: dict[TopicPartition, int] = {}
        self._consumer: AIOKafkaConsumer | None = None

    async def __aenter__(self) -> EventTap:
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap, enable_auto_commit=False, isolation_level="read_committed"
        )
        await self._consumer.start()
        partitions = await self._partitions()
        self._consumer.assign(partitions)
        ends = self._consumer.beginning_offsets if self.from_beginning else self._consumer.end_offsets
        self._start = await ends(partitions)
        for tp, offset in self._start.items():
            self._consumer.seek(tp, offset)
        return self

    async def _partitions(self) -> list[TopicPartition]:
        assert self._consumer is not None
        deadline = time.monotonic() + 30
        while True:
            parts = self._consumer.partitions_for_topic(self.topic)
            if parts:
                return [TopicPartition(self.topic, p) for p in sorted(parts)]
            if time.monotonic() > deadline:
                raise TimeoutError(f"topic {self.topic} has no partitions")
            await self._consumer._client.force_metadata_update()  # the topic may be new
            await asyncio.sleep(0.2)

    async def __aexit__(self, *exc: object) -> None:
        if self._consumer:
            await self._consumer.stop()

    async def everything(self, timeout: float = 30.0) -> list:
        """Every record from the start up to where the topic ends now, in each partition's
        order: once the producers are done, all they wrote, without waiting for stragglers."""
        assert self._consumer is not None
        ends = await self._consumer.end_offsets(list(self._start))
        found: list = []
        deadline = time.monotonic() + timeout
        while [tp for tp, end in ends.items() if await self._consumer.position(tp) < end]:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.topic}: read {len(found)} records, not yet up to {ends}")
            batches = await self._consumer.getmany(timeout_ms=200)
            found += [record for records in batches.values() for record in records]
        return found

    async def records(self, *, count: int, timeout: float = 20.0) -> list:
        """Raw records (whatever their bytes), until `count` arrived or `timeout` passed."""
        assert self._consumer is not None
        found: list = []
        deadline = time.monotonic() + timeout
        while len(found) < count and time.monotonic() < deadline:
            batches = await self._consumer.getmany(timeout_ms=200)
            found += [record for records in batches.values() for record in records]
        return found

    async def collect(
        self, where: Callable[[Envelope], bool], *, count: int | None = None, timeout: float = 20.0, settle: float = 0.0
    ) -> list[tuple[Envelope, dict[str, bytes], bytes | None]]:
        """Events matching `where`, until `count` arrived (then `settle` more seconds, to catch
        duplicates) or `timeout` passed."""
        assert self._consumer is not None
        found: list[tuple[Envelope, dict[str, bytes], bytes | None]] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if count is not None and len(found) >= count:
                if settle <= 0:
                    break
                deadline = min(deadline, time.monotonic() + settle)
                settle = 0
            batches = await self._consumer.getmany(timeout_ms=200)
            for records in batches.values():
                for record in records:
                    envelope = Envelope.from_bytes(record.value)
                    if where(envelope):
                        found.append((envelope, dict(record.headers), record.key))
        return found
