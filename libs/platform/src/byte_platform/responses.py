"""The read path's fast answer: rows straight to JSON bytes.

A list endpoint's rows come from the service's own tables through a SELECT of exactly the
public columns, so validating each one into a response model, then serializing the models
(FastAPI's default), does the same work twice for nothing. `rows_response` serializes the
row mappings once, with pydantic-core's encoder, so datetimes, UUIDs and JSON values come out
exactly as the response model would write them. The route still declares its response model:
it is the documented contract, and the services' tests compare both paths.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import pydantic_core
import sqlalchemy as sa
from starlette.responses import JSONResponse


class JsonBytes(JSONResponse):
    """JSON written by pydantic-core (datetimes, UUIDs as the models write them). A JSONResponse,
    so FastAPI documents the route's response model rather than a bare string."""

    def render(self, content: Any) -> bytes:
        return pydantic_core.to_json(content)


def row_dicts(rows: Iterable[Any], columns: Sequence[sa.ColumnElement[Any]]) -> list[dict[str, Any]]:
    """The `columns` of each row, which selected them first (a page's rows carry their sort key
    after them)."""
    # Plain str keys: a SQLAlchemy column name is a `quoted_name` (a str subclass), which the
    # encoder does not know and inspects attribute by attribute, on every key of every row.
    # Likewise asyncpg's UUID subclass: written as the string it is.
    names = [str.__str__(c.name) for c in columns]
    uuids = [i for i, c in enumerate(columns) if isinstance(c.type, sa.Uuid)]
    width = len(names)
    out = []
    for row in rows:
        values = list(row[:width])
        for i in uuids:
            if values[i] is not None:
                values[i] = str(values[i])
        out.append(dict(zip(names, values, strict=True)))
    return out


def page_response(rows: Iterable[Any], columns: Sequence[sa.ColumnElement[Any]], next_cursor: str | None) -> JsonBytes:
    return JsonBytes({"items": row_dicts(rows, columns), "next_cursor": next_cursor})
