"""A Kafka broker of a test's own, which it may stop and start again.

The shared test broker must never be stopped (other tests use it); a test that needs the broker
to go away uses one of these: the stack's single-node KRaft broker (`byte_stack.kafka`), on free
ports, with its data in the test's temporary directory.
"""

from __future__ import annotations

import asyncio
import dataclasses
import socket
from pathlib import Path

from byte_stack import kafka as stack_kafka
from byte_stack.profiles import HOST, get_profile


def _free_ports(count: int) -> list[int]:
    # Held open together, so the ports differ from one another.
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind((HOST, 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


class OwnKafka:
    def __init__(self, state: Path) -> None:
        port, controller_port = _free_ports(2)
        self.profile = dataclasses.replace(
            get_profile("test"), name=f"kafka-{port}", kafka_port=port, kafka_controller_port=controller_port
        )
        self.state = state
        self.bootstrap = f"{HOST}:{port}"
        self.log = state / "logs" / "kafka.log"

    async def start(self) -> None:
        """Starts it (first time: formats its log dir) and returns once it answers metadata."""
        # byte_stack's health check runs its own event loop, so it gets a thread.
        await asyncio.to_thread(stack_kafka.ensure, self.profile, self.state, self.bootstrap)

    async def stop(self) -> None:
        """A controlled shutdown; its data stays for the next start."""
        await asyncio.to_thread(stack_kafka.stop, self.state)


async def start_at_the_end(bootstrap: str, topic: str, group: str) -> None:
    """Commits `group`'s offsets at `topic`'s end, so a new consumer group reads only what comes
    next, not the shared topic's history (other tests' orgs, which it would act on and be slowed
    by). A topic that does not exist yet has no history: nothing to do."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        cluster = await consumer._client.fetch_all_metadata()
        partitions = [TopicPartition(topic, p) for p in cluster.partitions_for_topic(topic) or ()]
        if partitions:
            consumer.assign(partitions)
            await consumer.commit(await consumer.end_offsets(partitions))
    finally:
        await consumer.stop()
