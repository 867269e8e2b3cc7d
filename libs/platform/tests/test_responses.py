"""The fast list answer writes what the response model would have written."""

import json
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import sqlalchemy as sa
from byte_platform.responses import page_response
from pydantic import BaseModel


class Item(BaseModel):
    id: uuid.UUID
    name: str
    score: float
    when: datetime
    maybe: datetime | None
    data: dict[str, Any]
    tags: list[str]


class Page(BaseModel):
    items: list[Item]
    next_cursor: str | None


COLUMNS = [sa.column("id", sa.Uuid), *(sa.column(name) for name in list(Item.model_fields)[1:])]


def Row(**values: Any) -> tuple:
    return tuple(values.values())


def test_rows_serialize_as_the_response_model_would():
    rows = [
        Row(
            id=uuid.uuid4(),
            name="Zoë \u2028",
            score=1024.0,
            when=datetime(2026, 1, 2, 3, 4, 5, 678, tzinfo=UTC),
            maybe=None,
            data={"a": [1, 2.5, None], "b": {"c": "d"}},
            tags=["x"],
            sort_key="ignored",
        ),
        Row(
            id=uuid.uuid4(),
            name="",
            score=-0.5,
            when=datetime(2026, 1, 2, tzinfo=timezone(timedelta(hours=-5))),
            maybe=datetime(2027, 1, 1, tzinfo=UTC),
            data={},
            tags=[],
            sort_key=1,
        ),
    ]
    fast = page_response(rows, COLUMNS, "next").body
    model = (
        Page(
            items=[Item.model_validate(dict(zip(Item.model_fields, r, strict=False))) for r in rows],
            next_cursor="next",
        )
        .model_dump_json()
        .encode()
    )
    assert json.loads(fast) == json.loads(model)
    assert fast == model


def test_column_names_become_plain_strings():
    """SQLAlchemy names columns with a str subclass the encoder would inspect on every key."""
    from byte_platform.responses import row_dicts
    from sqlalchemy.sql.elements import quoted_name

    [row] = row_dicts([("x",)], [sa.column(quoted_name("name", None))])
    assert [type(k) for k in row] == [str]
