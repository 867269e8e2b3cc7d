"""Opaque keyset cursors: the last row's sort key, base64url-encoded JSON.

A cursor is only good for the sort it was made with; anything else is a 400, never a 500.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from byte_platform.http import Problem


class BadCursor(Problem):
    def __init__(self, detail: str) -> None:
        super().__init__(400, "Invalid cursor", detail, errors=[{"field": "cursor", "in": "query", "message": detail}])


def encode_cursor(sort: str, values: list[Any]) -> str:
    raw = json.dumps({"s": sort, "v": values}, separators=(",", ":"), default=str).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, sort: str, arity: int) -> list[Any]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise BadCursor("cursor is not one this API issued") from None
    if not isinstance(data, dict) or not isinstance(data.get("v"), list) or len(data["v"]) != arity:
        raise BadCursor("cursor is not one this API issued")
    if data.get("s") != sort:
        raise BadCursor(f"cursor was issued for sort {data.get('s')!r}, not {sort!r}")
    return data["v"]
