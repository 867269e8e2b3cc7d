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
