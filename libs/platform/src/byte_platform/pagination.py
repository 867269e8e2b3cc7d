"""Opaque keyset cursors: the last row's sort key, base64url-encoded JSON.

A cursor is only good for the sort it was made with; anything else is a 400, never a 500. A
forged cursor may decode to values no issued cursor holds (NaN, a lone surrogate, U+0000, a
time past the calendar): those are refused here too, before they reach a query.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from byte_contracts.errors import Malformed

from byte_platform.db import Database
from byte_platform.validation import json_problems, parse_aware


class BadCursor(Malformed):
    def __init__(self, detail: str) -> None:
        super().__init__("cursor", detail, location="query")


def encode_cursor(sort: str, values: list[Any]) -> str:
    raw = json.dumps({"s": sort, "v": values}, separators=(",", ":"), default=str).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, sort: str, arity: int) -> list[Any]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw)
    except (binascii.Error, ValueError, RecursionError):
        raise BadCursor("cursor is not one this API issued") from None
    if not isinstance(data, dict) or not isinstance(data.get("v"), list) or len(data["v"]) != arity:
        raise BadCursor("cursor is not one this API issued")
    if json_problems(data):
        raise BadCursor("cursor is not one this API issued")
    if data.get("s") != sort:
        raise BadCursor(f"cursor was issued for sort {data.get('s')!r}, not {sort!r}")
    return data["v"]


@dataclass(frozen=True)
class Keyset:
    """A keyset walk over `(key, id)`, the shape of every list index: `(org_id, key, id)`.

    `parse` turns a cursor's JSON value back into the key's Python type (raising ValueError or
    TypeError on anything else); `dump` does the reverse for the next cursor.
    """

    key: sa.ColumnElement
    id: sa.ColumnElement
    descending: bool
    sort_param: str
    parse: Callable[[Any], Any] = lambda v: v
    dump: Callable[[Any], Any] = lambda v: v

    def ordered(self, stmt: sa.Select) -> sa.Select:
        if self.descending:
            return stmt.order_by(self.key.desc(), self.id.desc())
        return stmt.order_by(self.key.asc(), self.id.asc())

    def page(self, stmt: sa.Select, cursor: str | None, limit: int) -> sa.Select:
        """`stmt` (which selects the rows) narrowed to the page after `cursor`, plus one row to
        tell whether another page follows."""
        stmt = stmt.add_columns(self.key.label("sort_key"))
        if cursor:
            raw_value, raw_id = decode_cursor(cursor, self.sort_param, 2)
            try:
                value, last_id = self.parse(raw_value), uuid.UUID(str(raw_id))
            except (TypeError, ValueError, OverflowError):
                raise BadCursor("cursor is not one this API issued") from None
            after = sa.tuple_(self.key, self.id)
            bound = sa.tuple_(sa.literal(value, type_=self.key.type), sa.literal(last_id, type_=self.id.type))
            stmt = stmt.where(after < bound if self.descending else after > bound)
        return self.ordered(stmt).limit(limit + 1)

    def split(self, rows: Sequence[Any], limit: int) -> tuple[Sequence[Any], str | None]:
        """The page's rows and the cursor of the next page (None on the last one). Rows are
        SQLAlchemy rows or asyncpg records."""
        if len(rows) <= limit:
            return rows, None
        rows = rows[:limit]
        last = getattr(rows[-1], "_mapping", rows[-1])
        return rows, encode_cursor(self.sort_param, [self.dump(last["sort_key"]), str(last["id"])])

    async def read(
        self, db: Database, org_id: str, stmt: sa.Select, cursor: str | None, limit: int
    ) -> tuple[Sequence[Any], str | None]:
        """The page of `stmt` after `cursor` and the next page's cursor, read on the fast lane
        (`Database.read`: asyncpg records, for `byte_platform.responses.page_response`)."""
        return self.split(await db.read(org_id, self.page(stmt, cursor, limit)), limit)


def parse_time(value: Any) -> datetime:
    """A cursor's timestamp: ISO 8601 with a zone, as `dump_time` wrote it."""
    if not isinstance(value, str):
        raise TypeError("not a time")
    return parse_aware(value)


def dump_time(value: datetime) -> str:
    return value.isoformat()
