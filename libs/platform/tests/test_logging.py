"""Logs in an outage: repeated warnings are rate-limited with a summary, and every line keeps the
correlation id it was written under."""

import io
import json
import logging
import time

import pytest
from byte_platform.logging import RepeatFilter, configure_logging, correlation_id


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def json_logs():
    """The process's real log configuration, writing to a buffer; restored afterwards."""
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    buffer = io.StringIO()
    clock = Clock()
    configure_logging("svc-test", "INFO", repeat_limit=3, repeat_interval=10)
    [handler] = root.handlers
    handler.setStream(buffer)
    handler.repeats.clock = clock
    handler.repeats.background = False  # summaries come with the next record: the test's clock is fake

    def lines() -> list[dict]:
        return [json.loads(line) for line in buffer.getvalue().splitlines()]

    yield lines, clock, handler
    root.handlers[:] = saved_handlers
    root.setLevel(saved_level)


def test_a_flood_of_one_warning_is_cut_to_a_few_lines_and_a_count(json_logs):
    lines, clock, _ = json_logs
    log = logging.getLogger("aiokafka.conn")
    other = logging.getLogger("byte.other")
    for attempt in range(160):
        token = correlation_id.set(f"req-{attempt}")
        try:
            log.error("Unable connect to %r: %r", "127.0.0.1:9092", f"refused {attempt}")
        finally:
            correlation_id.reset(token)
        clock.now += 0.01
    other.error("a different failure")
    for i in range(20):
        other.info("routine line %d", i)  # below WARNING: never limited

    written = lines()
    floods = [x for x in written if x["logger"] == "aiokafka.conn"]
    assert [x["message"] for x in floods] == [f"Unable connect to '127.0.0.1:9092': 'refused {i}'" for i in range(3)]
    assert [x["correlation_id"] for x in floods] == ["req-0", "req-1", "req-2"]
    assert [x["message"] for x in written if x["logger"] == "byte.other"].count("a different failure") == 1
    assert len([x for x in written if x["message"].startswith("routine line")]) == 20

    clock.now += 10  # the interval is over: the next record of that kind brings the count first
    log.error("Unable connect to %r: %r", "127.0.0.1:9092", "refused again")
    summary, after = lines()[-2:]
    assert summary["logger"] == "aiokafka.conn" and summary["level"] == "ERROR"
    assert summary["message"].startswith("suppressed 157 similar records") and summary["suppressed"] == 157
    assert summary["correlation_id"] == "req-159"  # the last one held back
    assert summary["service"] == "svc-test"
    assert after["message"] == "Unable connect to '127.0.0.1:9092': 'refused again'"


def test_what_was_held_back_is_counted_at_shutdown(json_logs):
    lines, _, handler = json_logs
    for _ in range(7):
        logging.getLogger("byte.db").warning("database unreachable")
    handler.close()
    assert [x["message"] for x in lines()][-1].startswith("suppressed 4 similar records")


def test_windows_are_per_logger_level_and_template():
    passed = []
    clock = Clock()
    flt = RepeatFilter(passed.append, limit=1, interval=5, clock=clock, background=False)

    def record(name: str, level: int, msg: str) -> logging.LogRecord:
        return logging.LogRecord(name, level, __file__, 1, msg, (), None)

    outcomes = [
        flt.filter(record(n, lv, m))
        for n, lv, m in [
            ("a", logging.ERROR, "x %s"),
            ("a", logging.ERROR, "x %s"),
            ("b", logging.ERROR, "x %s"),
            ("a", logging.WARNING, "x %s"),
            ("a", logging.ERROR, "y"),
        ]
    ]
    assert outcomes == [True, False, True, True, True]
    assert passed == []  # nothing to summarise until a window closes
    clock.now = 5
    assert flt.filter(record("c", logging.ERROR, "z")) is True
    [summary] = passed
    assert summary.getMessage() == "suppressed 1 similar records in 5s: x %s"


def test_the_count_is_written_when_the_interval_ends_even_if_nothing_else_is_logged():
    passed = []
    flt = RepeatFilter(passed.append, limit=2, interval=0.2)
    outcomes = [flt.filter(logging.LogRecord("db", logging.ERROR, __file__, 1, "down", (), None)) for _ in range(5)]
    assert outcomes == [True, True, False, False, False]
    deadline = time.monotonic() + 10
    while not passed and time.monotonic() < deadline:
        time.sleep(0.05)
    [summary] = passed
    assert summary.suppressed == 3 and summary.name == "db" and summary.levelno == logging.ERROR
