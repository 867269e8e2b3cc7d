"""Reads: one contact, a filtered keyset page, and the same filter streamed as CSV."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from byte_contracts.enums import ContactStatus
from byte_platform.context import Context
from byte_platform.db import Database, row_in_org
from byte_platform.exports import stream_csv
from byte_platform.pagination import Keyset, dump_time, parse_time

from byte_contacts.domain import Sort
from byte_contacts.handlers import PUBLIC_COLUMNS
from byte_contacts.models import contacts
from byte_contacts.schemas import ContactPublic

SORT_KEYS: dict[Sort, sa.ColumnElement] = {
    Sort.CREATED_AT: contacts.c.created_at,
    Sort.UPDATED_AT: contacts.c.updated_at,
    Sort.LAST_NAME: sa.func.lower(contacts.c.last_name),
    Sort.FIRST_NAME: sa.func.lower(contacts.c.first_name),
}
TIME_SORTS = {Sort.CREATED_AT, Sort.UPDATED_AT}


@dataclass(frozen=True)
class ContactFilter:
    q: str | None = None
    status: ContactStatus | None = None
    tag: str | None = None
    sort: Sort = Sort.CREATED_AT
    descending: bool = True

    @property
    def sort_param(self) -> str:
        return ("-" if self.descending else "") + self.sort.value

    def where(self, org_id: str) -> list[sa.ColumnElement]:
        clauses = [contacts.c.org_id == org_id]
        if self.q:
            needle = self.q.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            clauses.append(contacts.c.search_text.like(f"%{needle}%", escape="\\"))
        if self.status:
            clauses.append(contacts.c.status == self.status.value)
        if self.tag:
            clauses.append(contacts.c.tags.contains([self.tag]))
        return clauses

    @property
    def keyset(self) -> Keyset:
        if self.sort in TIME_SORTS:
            return Keyset(SORT_KEYS[self.sort], contacts.c.id, self.descending, self.sort_param, parse_time, dump_time)
        return Keyset(SORT_KEYS[self.sort], contacts.c.id, self.descending, self.sort_param, _text)


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("not text")
    return value


@dataclass
class ContactQueries:
    db: Database

    async def get(self, ctx: Context, contact_id: uuid.UUID) -> ContactPublic:
        async with self.db.scoped(ctx.org_id) as session:
            row = await row_in_org(session, contacts, PUBLIC_COLUMNS, contact_id, ctx.org_id, "contact")
        return ContactPublic.model_validate(dict(row._mapping))

    async def page(
        self, ctx: Context, f: ContactFilter, limit: int, cursor: str | None
    ) -> tuple[Sequence[Any], str | None]:
        """A page of rows (the public columns, plus the sort key) and the next page's cursor."""
        return await f.keyset.read(
            self.db, ctx.org_id, sa.select(*PUBLIC_COLUMNS).where(*f.where(ctx.org_id)), cursor, limit
        )

    async def export_csv(self, ctx: Context, f: ContactFilter) -> AsyncIterator[str]:
        """Yields CSV text a chunk of rows at a time, straight from a server-side cursor, and
        the trailer line once the last row is out (a failure before it cuts the stream, so no
        trailer)."""
        columns = [c.name for c in PUBLIC_COLUMNS]
        assert columns[0] == "id"  # no row may start with the trailer's '#'
        stmt = f.keyset.ordered(sa.select(*PUBLIC_COLUMNS).where(*f.where(ctx.org_id)))

        async def batches() -> AsyncIterator[list[Any]]:
            async with self.db.scoped(ctx.org_id) as session:
                result = await session.stream(stmt.execution_options(yield_per=500))
                async for partition in result.partitions():
                    yield [[row._mapping[c] for c in columns] for row in partition]

        async for chunk in stream_csv(columns, batches()):
            yield chunk
