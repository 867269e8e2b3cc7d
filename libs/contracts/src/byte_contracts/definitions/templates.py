"""Templates in definitions: `{{ dotted.path }}` substitution with an optional default.

    Hello {{ contact.first_name | default("there") }}, welcome to {{ org.name }}.

Why our own twenty lines and not Jinja2, even sandboxed: a definition is written by an org's
admin in a browser and rendered by the workflow worker, so its templates are untrusted input.
Jinja2's sandbox is a blocklist over a full expression language (attribute access, calls,
loops); every escape found in it since was a gap in that list. Here there is nothing to escape
from: the only construct is a dotted path of plain names looked up key by key in nested
mappings (never `getattr`, never a call), plus one filter, `default("text")`. A template
cannot compute, loop or reach anything the caller did not put in the context dict, and a
validator can list exactly which values it reads (`references`), which is what lets a
definition be refused for naming a variable that will not exist.

Grammar (anything else between `{{` and `}}` is a `TemplateError`):

    placeholder := "{{" path [ "|" "default" "(" string ")" ] "}}"     (spaces allowed)
    path        := name ("." name)*          name := letter (letter | digit | "_")*
    string      := '"' no double quote '"'  |  "'" no single quote "'"

Outside placeholders the text is literal, except that `{{` and `}}` cannot appear in it: an
unclosed or stray brace pair is refused rather than guessed at. Names start with a letter, so
`__class__` and its kin are not even parseable.

Rendering: a path whose value is missing, None or an empty string renders as the default (or
as nothing). Only scalars render: strings, numbers, booleans (`true` / `false`), dates and
times (ISO 8601), UUIDs and enums (their value); a mapping, list or any other object renders as
missing, so no repr of an internal object can leak into an email. Nothing is escaped: the
output is plain text.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from enum import Enum
from functools import lru_cache
from typing import Any

OPEN, CLOSE = "{{", "}}"
NAME = r"[A-Za-z][A-Za-z0-9_]*"
PATH_RE = re.compile(rf"{NAME}(?:\.{NAME})*")
_PLACEHOLDER_RE = re.compile(
    rf"""\s*(?P<path>{PATH_RE.pattern})\s*
         (?:\|\s*default\s*\(\s*(?:"(?P<dq>[^"]*)"|'(?P<sq>[^']*)')\s*\)\s*)?""",
    re.VERBOSE,
)
_FILTER_RE = re.compile(rf"\s*{PATH_RE.pattern}\s*\|\s*(?P<filter>[^\s(]*)")


class TemplateError(ValueError):
    """A malformed template. `position` is the 0-based offset of the offending `{{` or `}}`."""

    def __init__(self, message: str, position: int) -> None:
        super().__init__(f"{message} (at character {position + 1})")
        self.reason = message
        self.position = position


@dataclass(frozen=True)
class Placeholder:
    path: tuple[str, ...]
    default: str | None = None

    @property
    def dotted(self) -> str:
        return ".".join(self.path)


Part = str | Placeholder


@lru_cache(maxsize=2048)
def parse(template: str) -> tuple[Part, ...]:
    """The literal texts and placeholders of a template, in order."""
    parts: list[Part] = []
    cursor = 0
    while True:
        start = template.find(OPEN, cursor)
        text = template[cursor:] if start < 0 else template[cursor:start]
        stray = text.find(CLOSE)
        if stray >= 0:
            raise TemplateError("'}}' closes nothing", cursor + stray)
        if text:
            parts.append(text)
        if start < 0:
            return tuple(parts)
        end = template.find(CLOSE, start + len(OPEN))
        if end < 0:
            raise TemplateError("'{{' is never closed", start)
        inner = template[start + len(OPEN) : end]
        if OPEN in inner:
            raise TemplateError("'{{' is never closed", start)
        parts.append(_placeholder(inner, start))
        cursor = end + len(CLOSE)


def _placeholder(inner: str, position: int) -> Placeholder:
    match = _PLACEHOLDER_RE.fullmatch(inner)
    if match:
        default = match["dq"] if match["dq"] is not None else match["sq"]
        return Placeholder(tuple(match["path"].split(".")), default)
    filtered = _FILTER_RE.match(inner)
    if filtered and filtered["filter"] != "default":
        raise TemplateError(f'unknown filter {filtered["filter"]!r}: the only filter is default("text")', position)
    if filtered:
        raise TemplateError('default takes one quoted text: default("text")', position)
    shown = inner.strip()
    if not shown:
        raise TemplateError("empty placeholder", position)
    raise TemplateError(
        f"{shown!r} is not a dotted path of names (like contact.first_name): templates only substitute values",
        position,
    )


def references(template: str) -> set[str]:
    """The dotted paths a template reads. Raises TemplateError when it is malformed."""
    return {part.dotted for part in parse(template) if isinstance(part, Placeholder)}


def render(template: str, context: Mapping[str, Any]) -> str:
    """Substitute each placeholder from `context` (nested mappings, looked up key by key)."""
    out: list[str] = []
    for part in parse(template):
        if isinstance(part, str):
            out.append(part)
            continue
        text = as_text(lookup(context, part.path))
        out.append(text if text else (part.default or ""))
    return "".join(out)


def lookup(context: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    """The value at `path`, or None. Walks mappings only: never an attribute, never a call."""
    value: Any = context
    for name in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(name)
    return value


def as_text(value: Any) -> str:
    """How a context value reads in a template: scalars as text, anything else as ''."""
    if value is None:
        return ""
    if isinstance(value, Enum):
        value = value.value
    if isinstance(value, str):
        return str.__str__(value)  # the characters themselves, whatever a subclass's __str__ says
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return ""
