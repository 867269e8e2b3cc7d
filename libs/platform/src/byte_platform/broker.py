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


async def start_new_groups_at_the_end(bootstrap_servers: str, subscriptions: list[tuple[str, str]]) -> None:
    """For each (group, topic) with no committed offset on `topic`, commits the topic's end
    offsets, so the new group reads only what is published from now on, not the topic's history.
    Done before the subscribers start, so nothing published after startup is skipped (unlike
    `auto_offset_reset="latest"`, which takes the end whenever the partitions are assigned)."""
    from aiokafka import AIOKafkaConsumer, TopicPartition
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        for group, topic in subscriptions:
            committed = await admin.list_consumer_group_offsets(group)
            if any(tp.topic == topic for tp in committed):
                continue
            consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, group_id=group, enable_auto_commit=False)
            await consumer.start()
            try:
                cluster = await consumer._client.fetch_all_metadata()
                partitions = [TopicPartition(topic, p) for p in cluster.partitions_for_topic(topic) or ()]
                consumer.assign(partitions)
                await consumer.commit(await consumer.end_offsets(partitions))
            finally:
                await consumer.stop()
    finally:
        await admin.close()
