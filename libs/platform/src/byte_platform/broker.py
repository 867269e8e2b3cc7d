"""The Kafka broker every service builds the same way."""

from __future__ import annotations

from faststream.kafka import KafkaBroker


def make_broker(bootstrap_servers: str, client_id: str) -> KafkaBroker:
    # Idempotent producer with acks=all: a retried send never writes a message twice, and an
    # acknowledged message survives the loss of the leader.
    return KafkaBroker(
        bootstrap_servers,
        client_id=client_id,
        enable_idempotence=True,
        acks="all",
        logger=None,
    )


async def reachable(bootstrap_servers: str) -> bool:
    """Whether a bootstrap server answers metadata requests. Cheap, and leaves nothing open
    behind it, unlike a producer or admin client whose start failed."""
    from aiokafka.client import AIOKafkaClient
    from aiokafka.errors import KafkaError

    client = AIOKafkaClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=5000)
    try:
        await client.bootstrap()
        return True
    except (KafkaError, OSError):
        return False
    finally:
        await client.close()


async def ensure_topics(
    bootstrap_servers: str, topics: list[str], *, partitions: int = 3, replication: int = 1
) -> None:
    """Creates the topics a service writes, if missing. Production clusters that manage topics
    elsewhere turn this off (KAFKA_CREATE_TOPICS=false)."""
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    try:
        await admin.start()
        existing = set(await admin.list_topics())
        missing = [NewTopic(t, partitions, replication) for t in topics if t not in existing]
        if missing:
            try:
                await admin.create_topics(missing)
            except Exception as exc:  # another replica may have created them first
                if "TopicAlreadyExists" not in type(exc).__name__ + str(exc):
                    raise
    finally:
        await admin.close()
