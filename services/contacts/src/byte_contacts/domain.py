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


# Filled from the merged contact one by one where the survivor has none.
MERGE_FILLED = ("email", "phone", "company", "role", "avatar_url")
# An address is taken whole or not at all: half of one and half of another is nobody's address.
ADDRESS = ("address_line_1", "address_line_2", "city", "state", "zip")


def merged(survivor: dict[str, Any], duplicate: dict[str, Any]) -> dict[str, Any]:
    """What merging `duplicate` into `survivor` changes in the survivor: its own values stay;
    what it lacks comes from the duplicate; tags are combined, metadata too (the survivor's keys
    win), and it was last contacted when either was."""
    out: dict[str, Any] = {}
    for field in MERGE_FILLED:
        if not survivor.get(field) and duplicate.get(field):
            out[field] = duplicate[field]
    if not survivor.get("last_name") and duplicate.get("last_name"):
        out["last_name"] = duplicate["last_name"]
    if not any(survivor.get(f) for f in ADDRESS) and any(duplicate.get(f) for f in ADDRESS):
        out.update({f: duplicate.get(f) for f in ADDRESS})
    contacted = [t for t in (survivor.get("last_contacted_at"), duplicate.get("last_contacted_at")) if t]
    if contacted and max(contacted) != survivor.get("last_contacted_at"):
        out["last_contacted_at"] = max(contacted)
    out["tags"] = normalize_tags([*survivor.get("tags", []), *duplicate.get("tags", [])])
    out["metadata"] = {**duplicate.get("metadata", {}), **survivor.get("metadata", {})}
    return changes(survivor, out)
