"""Putting dead letters back once their cause is fixed.

    python -m byte_platform.dlq replay --topic workflow --group tasks.workflow \\
        [--since 2026-03-01T12:00:00Z] [--until 2026-03-01T13:00:00Z] [--id <envelope id> ...] [--dry-run]

(`uv run byte-dlq replay ...` is the same command.) It reads `<topic>.dlq` from its start to
where it ends now, selects the dead letters that the consumer group `--group` parked (header
`dlq_group`), between `--since` and `--until` (when they were dead-lettered) and, with `--id`,
only those envelope ids; then publishes each one's original bytes, key and headers (without the
`dlq_*` ones) to its original topic, where every consumer group of that topic sees it again.

Idempotent: every replayed dead letter is recorded on `<topic>.dlq.replayed` (keyed by its
place in the DLQ), and a later run skips what is recorded there; one envelope id dead-lettered
several times is replayed once per run. A consumer that already applied a replayed envelope
drops it in its inbox (the effect and the envelope id commit together), so even a replay
repeated by hand changes nothing twice. A dead letter that fails again is dead-lettered again,
as a new entry, and can be replayed after the next fix.

`--dry-run` lists what would be replayed and changes nothing. Kafka: `--bootstrap-servers`, else
`KAFKA_BOOTSTRAP_SERVERS`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from byte_contracts import Envelope, topics
from pydantic import ValidationError

from byte_platform.broker import ensure_topics

DLQ_HEADER_PREFIX = "dlq_"
DEFAULT_BOOTSTRAP = "127.0.0.1:19092"
READ_STALL_SECONDS = 30.0


def replay_ledger(topic: str) -> str:
    """Where the replays of `topic`'s dead letters are recorded."""
    return f"{topics.dead_letter(topic)}.replayed"


@dataclass(frozen=True)
class DeadLetter:
    dlq_topic: str
    partition: int
    offset: int
    dead_lettered_at: datetime
    key: bytes | None
    value: bytes
    headers: tuple[tuple[str, bytes], ...]
    event_id: str | None
    event_type: str | None

    @property
    def place(self) -> str:
        return f"{self.dlq_topic}/{self.partition}/{self.offset}"

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key == name:
                return value.decode(errors="replace")
        return None

    @property
    def group(self) -> str | None:
        return self.header("dlq_group")

    @property
    def reason(self) -> str | None:
        return self.header("dlq_reason")

    @property
    def original_topic(self) -> str:
        source = self.header("dlq_source")  # "<topic>/<partition>/<offset>"
        if source and "/" in source:
            return source.rsplit("/", 2)[0]
        return self.dlq_topic.removesuffix(".dlq")

    @property
    def original_headers(self) -> list[tuple[str, bytes]]:
        return [(k, v) for k, v in self.headers if not k.startswith(DLQ_HEADER_PREFIX)]

    def describe(self) -> str:
        return (
            f"{self.place} event={self.event_id or '-'} type={self.event_type or '-'} group={self.group or '-'} "
            f"reason={self.reason or '-'} dead_lettered_at={self.dead_lettered_at.isoformat()}"
        )

    @classmethod
    def of(cls, record: ConsumerRecord) -> DeadLetter:
        headers = tuple((k, v or b"") for k, v in record.headers)
        event_id = event_type = None
        try:
            envelope = Envelope.from_bytes(record.value or b"")
            event_id, event_type = str(envelope.id), envelope.type
        except ValidationError:  # dead-lettered because it is not an envelope at all
            pass
        return cls(
            record.topic,
            record.partition,
            record.offset,
            datetime.fromtimestamp(record.timestamp / 1000, UTC),
            record.key,
            record.value or b"",
            headers,
            event_id,
            event_type,
        )


@dataclass(frozen=True)
class Selection:
    group: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    ids: frozenset[str] = frozenset()

    def __contains__(self, letter: DeadLetter) -> bool:
        if self.group is not None and letter.group != self.group:
            return False
        if self.since is not None and letter.dead_lettered_at < self.since:
            return False
        if self.until is not None and letter.dead_lettered_at >= self.until:
            return False
        return not self.ids or letter.event_id in self.ids


@dataclass
class Report:
    replayed: list[DeadLetter] = field(default_factory=list)
    """Published to the original topic in this run (in a dry run: would be)."""
    already_replayed: list[DeadLetter] = field(default_factory=list)
    """Recorded as replayed by an earlier run."""
    duplicates: list[DeadLetter] = field(default_factory=list)
    """Another dead letter of the same envelope was replayed in this run."""


async def _read_to_end(bootstrap: str, topic: str) -> list[ConsumerRecord]:
    """Every record of `topic` up to where it ends now (what arrives meanwhile waits for the next run)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None)
    await consumer.start()
    try:
        # the cluster's metadata as fetched now (the consumer's cache knows only subscribed topics)
        cluster = await consumer._client.fetch_all_metadata()
        partitions = [TopicPartition(topic, p) for p in sorted(cluster.partitions_for_topic(topic) or ())]
        if not partitions:
            return []
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        records: list[ConsumerRecord] = []
        pending = {tp for tp in partitions if ends[tp] > await consumer.position(tp)}
        idle_since = asyncio.get_running_loop().time()
        while pending:
            batches = await consumer.getmany(*pending, timeout_ms=500)
            for tp, batch in batches.items():
                records += [r for r in batch if r.offset < ends[tp]]
            if any(batches.values()):
                idle_since = asyncio.get_running_loop().time()
            elif asyncio.get_running_loop().time() - idle_since > READ_STALL_SECONDS:
                raise TimeoutError(f"reading {topic} stalled before its end ({ends})")
            pending = {tp for tp in pending if await consumer.position(tp) < ends[tp]}
        return records
    finally:
        await consumer.stop()


async def replay(
    bootstrap: str,
    topic: str,
    *,
    group: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    ids: Iterable[str | uuid.UUID] = (),
    dry_run: bool = False,
) -> Report:
    """Replays the dead letters of `topic` that match; see the module's docstring."""
    topic = topic.removesuffix(".dlq")
    selection = Selection(group, since, until, frozenset(str(i) for i in ids))
    ledger = replay_ledger(topic)
    if not dry_run:
        await ensure_topics(bootstrap, [ledger], partitions=1)
    recorded = {r.key.decode() for r in await _read_to_end(bootstrap, ledger) if r.key}
    letters = sorted(
        (DeadLetter.of(r) for r in await _read_to_end(bootstrap, topics.dead_letter(topic))),
        key=lambda d: (d.dead_lettered_at, d.partition, d.offset),
    )
    report = Report()
    chosen = [letter for letter in letters if letter in selection]
    if dry_run:
        seen: set[str] = set()
        for letter in chosen:
            if letter.place in recorded:
                report.already_replayed.append(letter)
            elif letter.event_id is not None and letter.event_id in seen:
                report.duplicates.append(letter)
            else:
                report.replayed.append(letter)
                seen.add(letter.event_id or letter.place)
        return report

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, acks="all")
    await producer.start()
    try:
        sent: set[str] = set()
        for letter in chosen:
            if letter.place in recorded:
                report.already_replayed.append(letter)
                continue
            if letter.event_id is not None and letter.event_id in sent:
                report.duplicates.append(letter)
            else:
                await producer.send_and_wait(
                    letter.original_topic, letter.value, key=letter.key, headers=letter.original_headers
                )
                report.replayed.append(letter)
                sent.add(letter.event_id or letter.place)
            # recorded after the publish: a crash in between replays it again next time, which the
            # consumers' inbox absorbs; the other order could lose it
            await producer.send_and_wait(
                ledger,
                json.dumps(
                    {
                        "dead_letter": letter.place,
                        "event_id": letter.event_id,
                        "group": letter.group,
                        "replayed_to": letter.original_topic,
                        "replayed_at": datetime.now(UTC).isoformat(),
                        "duplicate": letter in report.duplicates,
                    }
                ).encode(),
                key=letter.place.encode(),
            )
    finally:
        await producer.stop()
    return report


def _when(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="byte-dlq", description="Dead-letter topics: replay what a fix made valid.")
    commands = parser.add_subparsers(dest="command", required=True)
    r = commands.add_parser(
        "replay",
        help="republish dead letters to their original topic, once",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    r.add_argument("--topic", required=True, help="the original topic (workflow) or its DLQ (workflow.dlq)")
    r.add_argument("--group", help="only what this consumer group dead-lettered (e.g. tasks.workflow)")
    r.add_argument("--since", type=_when, help="dead-lettered at or after (ISO 8601; UTC unless an offset is given)")
    r.add_argument("--until", type=_when, help="dead-lettered before (ISO 8601)")
    r.add_argument(
        "--id", dest="ids", action="extend", nargs="+", default=[], metavar="EVENT_ID", help="only these envelope ids"
    )
    r.add_argument("--dry-run", action="store_true", help="list what would be replayed; change nothing")
    r.add_argument("--bootstrap-servers", default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", DEFAULT_BOOTSTRAP))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    report = asyncio.run(
        replay(
            args.bootstrap_servers,
            args.topic,
            group=args.group,
            since=args.since,
            until=args.until,
            ids=args.ids,
            dry_run=args.dry_run,
        )
    )
    verb = "would replay" if args.dry_run else "replayed"
    for label, letters in (
        (verb, report.replayed),
        ("already replayed", report.already_replayed),
        ("duplicate", report.duplicates),
    ):
        for letter in letters:
            print(f"{label}: {letter.describe()}")
    print(
        f"{verb} {len(report.replayed)}, already replayed {len(report.already_replayed)}, "
        f"duplicates {len(report.duplicates)}",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
