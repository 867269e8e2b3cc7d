"""Reads: the members of the caller's org, for assignee pickers."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from byte_platform.db import Database
from byte_platform.pagination import BadCursor, decode_cursor, encode_cursor

from byte_gateway.domain import Session
from byte_gateway.models import users
from byte_gateway.schemas import UserPublic

SORT = "name"
_LAST = sa.func.lower(sa.func.coalesce(users.c.last_name, ""))
_FIRST = sa.func.lower(sa.func.coalesce(users.c.first_name, ""))


@dataclass
class UserQueries:
    db: Database

    async def page(
        self, who: Session, *, role: str | None, limit: int, cursor: str | None
    ) -> tuple[list[UserPublic], str | None]:
        stmt = sa.select(users, _LAST.label("k1"), _FIRST.label("k2")).where(users.c.org_id == who.org_id)
        if role:
            stmt = stmt.where(users.c.roles.contains([role]))
        if cursor:
            values = decode_cursor(cursor, SORT, 3)
            if not all(isinstance(v, str) for v in values):
                raise BadCursor("cursor is not one this API issued")
            stmt = stmt.where(sa.tuple_(_LAST, _FIRST, users.c.id) > sa.tuple_(*[sa.literal(v) for v in values]))
        stmt = stmt.order_by(_LAST, _FIRST, users.c.id).limit(limit + 1)
        async with self.db.scoped(who.org_id) as session:
            rows = (await session.execute(stmt)).all()
        next_cursor = None
        if len(rows) > limit:
            rows = rows[:limit]
            last = rows[-1]
            next_cursor = encode_cursor(SORT, [last.k1, last.k2, last.id])
        items = [
            UserPublic(id=r.id, email=r.email, first_name=r.first_name, last_name=r.last_name, roles=list(r.roles))
            for r in rows
        ]
        return items, next_cursor
