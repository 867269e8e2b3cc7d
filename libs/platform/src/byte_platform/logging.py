"""JSON logs on stdout, each line carrying the correlation id of the request or message.

Repeated warnings and errors are rate-limited: during an outage every reconnect attempt and
every request logs the same line, and a hundred identical lines a second hide the one that
matters. The first `repeat_limit` records of one (logger, level, message template) per
`repeat_interval` seconds are written; the rest are counted, and one line "suppressed K similar"
follows when the interval is over.
"""

from __future__ import annotations

import contextvars
import logging
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from pythonjsonlogger.json import JsonFormatter

correlation_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("correlation_id", default=None)

REPEAT_LIMIT = 5
REPEAT_INTERVAL_SECONDS = 10.0


class _CorrelationFilter(logging.Filter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def filter(self, record: logging.LogRecord) -> bool:
        # A record may arrive here after its request ended (a summary of suppressed records):
        # keep the id it was stamped with when it was made.
        if not hasattr(record, "correlation_id"):
            record.correlation_id = correlation_id.get()
        record.service = self.service
        return True


@dataclass
class _Window:
    started: float
    passed: int = 0
    suppressed: int = 0
    last_correlation_id: str | None = None


class RepeatFilter(logging.Filter):
    """Lets the first `limit` records of one (logger, level, template) through per `interval`
    seconds, and reports how many it held back as one record once the interval is over.

    Only WARNING and above are limited: INFO and DEBUG lines are not the flood of an outage.
    Summaries go to `emit` (the handler's `handle`), so they pass the handler's other filters
    and formatter like any record."""

    def __init__(
        self,
        emit: Callable[[logging.LogRecord], object],
        *,
        limit: int = REPEAT_LIMIT,
        interval: float = REPEAT_INTERVAL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 1000,
        background: bool = True,
    ) -> None:
        super().__init__()
        self.emit = emit
        self.limit = limit
        self.interval = interval
        self.clock = clock
        self.max_keys = max_keys
        self.background = background
        """Write a summary when its interval ends even if nothing else is logged (a timer thread)."""
        self._windows: dict[tuple[str, int, str], _Window] = {}
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "suppressed", None) is not None or record.levelno < logging.WARNING or self.limit <= 0:
            return True
        now = self.clock()
        key = (record.name, record.levelno, str(record.msg))
        with self._lock:
            due = self._close_windows(now)
            window = self._windows.get(key)
            if window is None:
                if len(self._windows) >= self.max_keys:  # many distinct templates: not a repeat flood
                    due.extend(self._close_all())
                window = self._windows[key] = _Window(started=now)
            allowed = window.passed < self.limit
            if allowed:
                window.passed += 1
            else:
                window.suppressed += 1
                window.last_correlation_id = correlation_id.get()
                self._sweep_later(window.started + self.interval - now)
        for summary in due:
            self.emit(summary)
        return allowed

    def _sweep_later(self, delay: float) -> None:
        # the caller holds the lock; one timer at a time, for the earliest window to close
        if not self.background or (self._timer is not None and self._timer.is_alive()):
            return
        self._timer = threading.Timer(max(delay, 0.0), self._sweep)
        self._timer.daemon = True
        self._timer.start()

    def _sweep(self) -> None:
        with self._lock:
            now = self.clock()
            due = self._close_windows(now)
            pending = [w.started + self.interval - now for w in self._windows.values() if w.suppressed]
            self._timer = None
            if pending:
                self._sweep_later(min(pending))
        for summary in due:
            self.emit(summary)

    def flush(self) -> None:
        """Writes the summaries of every open window (at shutdown, in tests)."""
        with self._lock:
            due = self._close_all()
        for summary in due:
            self.emit(summary)

    def _close_windows(self, now: float) -> list[logging.LogRecord]:
        expired = [key for key, w in self._windows.items() if now - w.started >= self.interval]
        return [s for key in expired if (s := self._summary(key, self._windows.pop(key), now)) is not None]

    def _close_all(self) -> list[logging.LogRecord]:
        now = self.clock()
        windows, self._windows = self._windows, {}
        return [s for key, w in windows.items() if (s := self._summary(key, w, now)) is not None]

    @staticmethod
    def _summary(key: tuple[str, int, str], window: _Window, now: float) -> logging.LogRecord | None:
        if not window.suppressed:
            return None
        name, level, template = key
        record = logging.LogRecord(
            name,
            level,
            __file__,
            0,
            "suppressed %d similar records in %.0fs: %s",
            (window.suppressed, now - window.started, template),
            None,
        )
        record.suppressed = window.suppressed
        record.correlation_id = window.last_correlation_id
        return record


class _Stdout(logging.StreamHandler):
    repeats: RepeatFilter | None = None

    def __init__(self) -> None:
        super().__init__(sys.stdout)

    def close(self) -> None:
        # at exit: what was held back in the last interval is still worth one line
        if self.repeats is not None:
            self.repeats.flush()
        super().close()


def configure_logging(
    service: str,
    level: str = "INFO",
    *,
    repeat_limit: int = REPEAT_LIMIT,
    repeat_interval: float = REPEAT_INTERVAL_SECONDS,
) -> None:
    handler = _Stdout()
    handler.repeats = RepeatFilter(handler.handle, limit=repeat_limit, interval=repeat_interval)
    handler.addFilter(handler.repeats)
    handler.addFilter(_CorrelationFilter(service))
    handler.setFormatter(
        JsonFormatter(
            "%(asctime)s %(levelname)s %(name)s %(message)s %(service)s %(correlation_id)s",
            rename_fields={"asctime": "ts", "levelname": "level", "name": "logger"},
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    # aiokafka logs every metadata refresh at INFO.
    logging.getLogger("aiokafka").setLevel(logging.WARNING)
