"""Input types every schema shares, so that whatever passes validation can be stored.

PostgreSQL cannot store some things Python and JSON allow: U+0000 in text (or in JSON), a lone
surrogate (`"\\ud800"` is valid JSON and a valid Python str, but not UTF-8), NaN or Infinity in
JSON (Python's json module reads `NaN`, `Infinity` and `1e999` as floats), and a JSON document
nested a few hundred levels deep cannot be serialized back. Each of these used to pass
validation and fail at the database as a 500; these types refuse them as a 422 that names the
field. Dates likewise: an integer is not a date, even if pydantic's lax mode would make one.
"""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, date, datetime
from typing import Annotated, Any

from pydantic import BeforeValidator, ValidationError
from pydantic_core import InitErrorDetails, PydanticCustomError

MAX_JSON_DEPTH = 32
# A required text that is stripped must hold something besides whitespace. As a `pattern` it is
# also in the OpenAPI document, so a client (or a fuzzer) knows "   " is not a name. The class
# leaves out what any of Python's `str.strip`, JSON Schema's `\s` and pydantic's `\s` count as
# whitespace, so all three agree on what matches.
NOT_BLANK = r"[^\s\x1c-\x1f\x85\ufeff]"
JSON_MAX_BYTES = 16_384
# A walk of a hostile document stops reporting after this many findings: the first few say
# what is wrong, a thousand more only make the answer large.
MAX_REPORTED = 20


def unstorable(text: str) -> str | None:
    """Why PostgreSQL cannot store `text`, or None when it can."""
    if "\x00" in text:
        return "must not contain U+0000 (NUL)"
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return "must not contain unpaired surrogates (U+D800 to U+DFFF)"
    return None


_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff]")


def printable(text: str) -> str:
    """`text` with control characters and lone surrogates written as `\\uXXXX` escapes: fit to
    quote in an answer (a lone surrogate cannot even be encoded into one)."""
    return _UNPRINTABLE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def _refuse_unstorable_text(value: Any) -> Any:
    if isinstance(value, str) and (why := unstorable(value)):
        raise PydanticCustomError("text_unstorable", why)
    return value


# The marker for any text type: `Annotated[str, StringConstraints(...), StorableText]`. It goes
# after the constraints: placed before them, it would turn them into checks after the fact and
# lose `strip_whitespace`.
StorableText = BeforeValidator(_refuse_unstorable_text)

SafeText = Annotated[str, StorableText]
"""Any text PostgreSQL can store."""


# --- JSON documents ----------------------------------------------------------------------------

Path = tuple[str | int, ...]


def json_problems(value: Any, *, max_depth: int = MAX_JSON_DEPTH) -> list[tuple[Path, str]]:
    """Where `value` (a decoded JSON document) holds something PostgreSQL's jsonb cannot, and
    why: (path inside `value`, message). Iterative, so a hostile depth cannot exhaust the stack.
    The outermost object or array is at depth 1."""
    problems: list[tuple[Path, str]] = []
    pending: list[tuple[Path, Any, int]] = [((), value, 1)]
    while pending and len(problems) < MAX_REPORTED:
        path, item, depth = pending.pop()
        if isinstance(item, dict | list) and depth > max_depth:
            problems.append((path, f"is nested deeper than {max_depth} levels"))
        elif isinstance(item, dict):
            children: list[tuple[Path, Any, int]] = []
            for key, child in item.items():
                if not isinstance(key, str):
                    problems.append((path, "object keys must be text"))
                elif why := unstorable(key):
                    problems.append(((*path, key), f"key {why}"))
                else:
                    children.append(((*path, key), child, depth + 1))
            pending.extend(reversed(children))
        elif isinstance(item, list):
            pending.extend(reversed([((*path, i), child, depth + 1) for i, child in enumerate(item)]))
        elif isinstance(item, str):
            if why := unstorable(item):
                problems.append((path, why))
        elif isinstance(item, float):
            if not math.isfinite(item):
                problems.append((path, "must be a finite number (JSON has no NaN or Infinity)"))
        elif not (item is None or isinstance(item, bool | int)):
            problems.append((path, f"is not a JSON value ({type(item).__name__})"))
    return problems


def _json_object_check(max_bytes: int, max_depth: int) -> Any:
    def check(value: Any) -> Any:
        if not isinstance(value, dict):
            return value  # the dict validator says what it should have been
        problems = json_problems(value, max_depth=max_depth)
        if problems:
            # Located inside the field (`metadata.a.b`), not at it: a ValidationError raised in a
            # validator keeps its locations, prefixed with the field's.
            raise ValidationError.from_exception_data(
                "JsonObject",
                [
                    InitErrorDetails(
                        type=PydanticCustomError("json_unstorable", message), loc=_printable_path(path), input=None
                    )
                    for path, message in problems
                ],
            )
        size = len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode())
        if size > max_bytes:
            raise PydanticCustomError(
                "json_too_large",
                "is larger than {max_bytes} bytes of JSON ({size})",
                {"max_bytes": max_bytes, "size": size},
            )
        return value

    return check


def _printable_path(path: Path) -> Path:
    # pydantic would turn a lone surrogate in a location into U+FFFD: escape it while it is known.
    return tuple(printable(p) if isinstance(p, str) else p for p in path)


def storable_json(*, max_bytes: int = JSON_MAX_BYTES, max_depth: int = MAX_JSON_DEPTH) -> BeforeValidator:
    """The marker for a JSON document PostgreSQL's jsonb can store and give back: text without
    NUL or lone surrogates (keys and values), finite numbers, at most `max_depth` levels, at
    most `max_bytes` of UTF-8 JSON. `Annotated[dict[str, Any], storable_json(max_bytes=...)]`."""
    return BeforeValidator(_json_object_check(max_bytes, max_depth))


JsonObject = Annotated[dict[str, Any], storable_json()]
"""A JSON object (`metadata`) of at most 16 KiB and 32 levels that PostgreSQL can store."""


# --- time --------------------------------------------------------------------------------------

# ISO 8601 / RFC 3339 date and time with a zone, nothing looser: no bare dates, no week dates,
# no unix timestamps (as numbers or as numeric strings), no naive times.
_ISO_AWARE = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?([Zz]|[+-]\d{2}(:?\d{2})?)", re.ASCII)
ISO_AWARE_MESSAGE = "must be an ISO 8601 date and time with a time zone, e.g. 2026-01-31T09:00:00Z"


def parse_aware(value: str) -> datetime:
    """An ISO 8601 date-time with a zone that PostgreSQL's timestamptz can hold; ValueError
    otherwise (a zone that pushes year 1 or 9999 past Python's range in UTC included)."""
    if not _ISO_AWARE.fullmatch(value):
        raise ValueError(ISO_AWARE_MESSAGE)
    return _in_range(datetime.fromisoformat(value))


def _in_range(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(ISO_AWARE_MESSAGE)
    try:
        value.astimezone(UTC)  # asyncpg sends UTC: a time that has none cannot be stored
    except OverflowError:
        raise ValueError("is out of range once converted to UTC") from None
    return value


def _strict_aware(value: Any) -> Any:
    if isinstance(value, datetime):  # built in Python (a consumer, a test), not parsed from text
        try:
            return _in_range(value)
        except ValueError as exc:
            raise PydanticCustomError("datetime_unstorable", str(exc)) from None
    if not isinstance(value, str):
        raise PydanticCustomError("datetime_type", ISO_AWARE_MESSAGE)
    try:
        return parse_aware(value)
    except ValueError as exc:
        raise PydanticCustomError("datetime_parsing", str(exc)) from None


AwareDatetime = Annotated[datetime, BeforeValidator(_strict_aware)]
"""A time with a zone, given as an ISO 8601 string (in JSON bodies and query strings alike)."""


_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
ISO_DATE_MESSAGE = "must be an ISO 8601 calendar date, e.g. 2026-01-31"


def _strict_date(value: Any) -> Any:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not _ISO_DATE.fullmatch(value):
        raise PydanticCustomError("date_parsing", ISO_DATE_MESSAGE)
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise PydanticCustomError("date_parsing", f"{ISO_DATE_MESSAGE} ({exc})") from None


IsoDate = Annotated[date, BeforeValidator(_strict_date)]
"""A calendar date given as `YYYY-MM-DD` (no timestamps, no numbers, no times)."""
