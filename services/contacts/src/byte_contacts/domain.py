"""Contact rules, free of I/O: what a change is, and what fields a list may sort on."""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class Sort(StrEnum):
    CREATED_AT = "created_at"
    UPDATED_AT = "updated_at"
    LAST_NAME = "last_name"
    FIRST_NAME = "first_name"


def parse_sort(value: str) -> tuple[Sort, bool]:
    """`-created_at` -> (CREATED_AT, descending)."""
    descending = value.startswith("-")
    return Sort(value.removeprefix("-")), descending


def normalize_tags(tags: list[str]) -> list[str]:
    """Tags compare case-insensitively; the first spelling wins and order is kept."""
    seen: set[str] = set()
    out = []
    for tag in tags:
        if tag.lower() not in seen:
            seen.add(tag.lower())
            out.append(tag)
    return out


def changes(current: dict[str, Any], requested: dict[str, Any]) -> dict[str, Any]:
    """The subset of a partial update that actually changes the contact."""
    out = {}
    for field, value in requested.items():
        if field == "tags":
            value = normalize_tags(value)
        if current.get(field) != value:
            out[field] = value
    return out
