"""Rebuilds the activity log from the topics: `uv run python -m byte_executions rebuild-activity
[--org ORG ...]` (DATABASE_URL, KAFKA_BOOTSTRAP_SERVERS as for the service).

It reads every topic from its earliest offset up to the end offsets it captured when it started
(what arrives later is the running consumers' business), topic by topic in the order events
depend on each other (a case before its tasks, a task before its deletion), and records each
event as the live consumer does. It assigns partitions itself and commits no offsets, so it
disturbs no consumer group. The row key is the envelope id: into an empty table (a new database,
or the table recreated by its migration) it ends with the rows the consumers wrote; over an
existing one it only adds the missing ones. `--org` limits it to some orgs (the others' events
are read and skipped).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import time

from aiokafka import AIOKafkaConsumer, TopicPartition
from byte_contracts import Envelope, topics
from byte_contracts.errors import DomainError
from byte_contracts.registry import EVENTS
from byte_platform.context import Context
from byte_platform.db import Database
from byte_platform.outbox import Outbox
from byte_platform.unit_of_work import UnitOfWork
from pydantic import ValidationError

from byte_executions.handlers.activity import ActivityHandlers
from byte_executions.models import inbox, outbox
from byte_executions.settings import ExecutionsSettings

log = logging.getLogger("byte_executions.rebuild")

# the order in which one entity's events refer to another's
REPLAY_ORDER = (topics.IDENTITY, topics.CONTACTS, topics.INGEST, topics.EXECUTIONS, topics.TASKS, topics.WORKFLOW)
assert set(REPLAY_ORDER) == set(topics.ALL)
# how long a partition may stay short of its captured end offset without moving before the
# rebuild gives up saying where (a broker that lost the partition's tail, a leader that never
# comes back): an error to act on rather than a command that never returns
STALL_SECONDS = 120.0


class ReplayStalled(RuntimeError):
    pass


async def replay_topic(
    consumer: AIOKafkaConsumer, cluster, topic: str, record, *, stall_seconds: float = STALL_SECONDS
) -> int:
    partitions = [TopicPartition(topic, p) for p in sorted(cluster.partitions_for_topic(topic) or ())]
    if not partitions:
        return 0
    consumer.assign(partitions)
    await consumer.seek_to_beginning(*partitions)
    ends = await consumer.end_offsets(partitions)
    pending = {tp for tp in partitions if ends[tp] > await consumer.position(tp)}
    seen = 0
    positions = {tp: await consumer.position(tp) for tp in pending}
    moved_at = time.monotonic()
    while pending:
        batches = await consumer.getmany(*pending, timeout_ms=1000, max_records=5000)
        for tp, messages in batches.items():
            for message in messages:
                if message.offset >= ends[tp]:
                    break
                seen += 1
                await record(message.value)
        for tp in list(pending):
            position = await consumer.position(tp)
            if position >= ends[tp]:
                pending.discard(tp)
            elif position != positions[tp]:
                positions[tp], moved_at = position, time.monotonic()
        if pending and time.monotonic() - moved_at > stall_seconds:
            stuck = ", ".join(f"{tp.topic}[{tp.partition}] at {positions[tp]} of {ends[tp]}" for tp in sorted(pending))
            raise ReplayStalled(f"no progress for {stall_seconds:.0f} s: {stuck}")
    return seen


async def rebuild(settings: ExecutionsSettings, orgs: frozenset[str] | None = None) -> dict[str, int]:
    db = Database(settings.database_url, pool_size=2, max_overflow=0)
    activity = ActivityHandlers(UnitOfWork(db, Outbox(outbox), inbox))
    counts = {"read": 0, "recorded": 0, "skipped": 0}

    async def record(raw: bytes) -> None:
        try:
            envelope = Envelope.from_bytes(raw)
        except ValidationError:
            counts["skipped"] += 1
            return
        if envelope.type not in EVENTS or (orgs is not None and envelope.org_id not in orgs):
            return
        try:
            if await activity.record(Context.of_event(envelope), envelope):
                counts["recorded"] += 1
        except (DomainError, ValidationError) as exc:
            # the live consumer dead-letters these: they have no row there either
            log.warning("%s %s not recorded: %s", envelope.type, envelope.id, exc)
            counts["skipped"] += 1

    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        # a replay reads whole partitions: large fetches, no waiting for more to arrive
        fetch_max_wait_ms=50,
        max_partition_fetch_bytes=8 * 1024 * 1024,
        fetch_max_bytes=64 * 1024 * 1024,
    )
    await consumer.start()
    try:
        cluster = await consumer._client.fetch_all_metadata()
        for topic in REPLAY_ORDER:
            counts["read"] += await replay_topic(consumer, cluster, topic, record)
            log.info("replayed %s", topic)
    finally:
        await consumer.stop()
        await db.dispose()
    return counts


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m byte_executions rebuild-activity", description=__doc__)
    parser.add_argument("--org", action="append", help="only this org's events (repeatable)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    try:
        counts = asyncio.run(rebuild(ExecutionsSettings(), frozenset(args.org) if args.org else None))
    except ReplayStalled as exc:
        # what was recorded stays (rows are keyed by event id): a re-run adds only what is missing
        raise SystemExit(f"rebuild stopped: {exc}") from exc
    print(f"read {counts['read']} events, recorded {counts['recorded']}, skipped {counts['skipped']}")
