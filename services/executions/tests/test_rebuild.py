"""The rebuild's walk over one topic, on a consumer stand-in: it stops at the end offsets it
captured, and a partition that stops short of its end is an error naming it, not a command that
never returns. The rebuild against the real broker and database is in test_activity.py."""

import asyncio
from types import SimpleNamespace

import pytest
from aiokafka import TopicPartition
from byte_executions.rebuild import ReplayStalled, replay_topic


class Partitions:
    def __init__(self, logs: dict[int, list[bytes]], ends: dict[int, int], readable: dict[int, int]):
        self.logs, self.ends, self.readable = logs, ends, readable
        self.at: dict[TopicPartition, int] = {}

    def assign(self, partitions):
        self.at = dict.fromkeys(partitions, 0)

    async def seek_to_beginning(self, *partitions):
        for tp in partitions:
            self.at[tp] = 0

    async def end_offsets(self, partitions):
        return {tp: self.ends[tp.partition] for tp in partitions}

    async def position(self, tp):
        return self.at[tp]

    async def getmany(self, *partitions, timeout_ms, max_records):
        batches = {}
        for tp in partitions:
            upto = self.readable[tp.partition]
            if self.at[tp] < upto:
                batches[tp] = [
                    SimpleNamespace(offset=offset, value=self.logs[tp.partition][offset])
                    for offset in range(self.at[tp], upto)
                ]
                self.at[tp] = upto
        if not batches:
            await asyncio.sleep(0.01)
        return batches


def cluster(partitions: int):
    return SimpleNamespace(partitions_for_topic=lambda topic: set(range(partitions)))


async def test_it_reads_up_to_the_captured_end_and_no_further():
    logs = {0: [b"a", b"b", b"late"], 1: [b"c"]}
    consumer = Partitions(logs, ends={0: 2, 1: 1}, readable={0: 3, 1: 1})
    recorded: list[bytes] = []

    async def record(raw: bytes) -> None:
        recorded.append(raw)

    assert await replay_topic(consumer, cluster(2), "contacts", record) == 3
    assert sorted(recorded) == [b"a", b"b", b"c"]


async def test_a_partition_that_stops_short_of_its_end_is_named():
    logs = {0: [b"a", b"b", b"c"], 1: [b"d"]}
    consumer = Partitions(logs, ends={0: 3, 1: 1}, readable={0: 1, 1: 1})

    async def record(raw: bytes) -> None:
        pass

    with pytest.raises(ReplayStalled, match=r"contacts\[0\] at 1 of 3"):
        await replay_topic(consumer, cluster(2), "contacts", record, stall_seconds=0.2)
