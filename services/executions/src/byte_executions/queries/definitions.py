"""Reads of definitions: the list (latest versions), one version, the history, and what a step
may reference."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from byte_contracts.definitions import DefinitionDraft, VariableRef, variables_at
from byte_contracts.errors import Invalid, NotFound
from byte_platform.context import Context
from byte_platform.db import Database
from byte_platform.pagination import Keyset, dump_time, parse_time
from sqlalchemy.ext.asyncio import AsyncSession

from byte_executions.commands import DefinitionRef
from byte_executions.domain import DefinitionSort
from byte_executions.models import workflow_definitions as definitions
from byte_executions.schemas import DefinitionHistory, DefinitionPublic, DefinitionVersion

SUMMARY_FIELDS = [
    "id", "definition_key", "version", "version_count", "name", "description", "is_active", "created_by",
    "created_at", "updated_at",
]  # fmt: skip
# Versions run 1..n without gaps and are never deleted: the latest's number is the count.
SUMMARY_COLUMNS = [
    *(definitions.c[name] for name in SUMMARY_FIELDS if name != "version_count"),
    definitions.c.version.label("version_count"),
]
FULL_COLUMNS = [c for c in definitions.c if c.name != "org_id"]


@dataclass(frozen=True)
class DefinitionFilter:
    active: bool | None = None
    sort: DefinitionSort = DefinitionSort.CREATED_AT
    descending: bool = True

    def where(self, org_id: str) -> list[sa.ColumnElement]:
        clauses = [definitions.c.org_id == org_id, definitions.c.is_latest]
        if self.active is not None:
            clauses.append(definitions.c.is_active == self.active)
        return clauses

    @property
    def keyset(self) -> Keyset:
        param = ("-" if self.descending else "") + self.sort.value
        if self.sort == DefinitionSort.NAME:
            return Keyset(sa.func.lower(definitions.c.name), definitions.c.id, self.descending, param, _text)
        return Keyset(definitions.c.created_at, definitions.c.id, self.descending, param, parse_time, dump_time)


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("not text")
    return value


async def find_version(session: AsyncSession, org_id: str, ref: DefinitionRef, version: int | None) -> Any:
    """The row of version `version` (the latest when None) of the definition `ref` names."""
    if isinstance(ref, uuid.UUID):
        key: Any = (
            sa.select(definitions.c.definition_key)
            .where(definitions.c.org_id == org_id, definitions.c.id == ref)
            .scalar_subquery()
        )
    else:
        key = ref
    stmt = sa.select(*FULL_COLUMNS).where(definitions.c.org_id == org_id, definitions.c.definition_key == key)
    stmt = stmt.where(definitions.c.version == version) if version is not None else stmt.where(definitions.c.is_latest)
    row = (await session.execute(stmt)).one_or_none()
    if row is None:
        raise NotFound("definition version" if version is not None else "definition")
    return row


def public(row: Any) -> DefinitionPublic:
    values = dict(row._mapping)
    return DefinitionPublic.model_validate(values)


@dataclass
class DefinitionQueries:
    db: Database

    async def page(
        self, ctx: Context, f: DefinitionFilter, limit: int, cursor: str | None
    ) -> tuple[Sequence[Any], str | None]:
        stmt = sa.select(*SUMMARY_COLUMNS).where(*f.where(ctx.org_id))
        return await f.keyset.read(self.db, ctx.org_id, stmt, cursor, limit)

    async def get(self, ctx: Context, ref: DefinitionRef, version: int | None = None) -> DefinitionPublic:
        async with self.db.scoped(ctx.org_id) as session:
            row = await find_version(session, ctx.org_id, ref, version)
            count = await session.scalar(
                sa.select(sa.func.max(definitions.c.version)).where(
                    definitions.c.org_id == ctx.org_id, definitions.c.definition_key == row.definition_key
                )
            )
        return DefinitionPublic.model_validate({**row._mapping, "version_count": count})

    async def history(self, ctx: Context, ref: DefinitionRef) -> DefinitionHistory:
        async with self.db.scoped(ctx.org_id) as session:
            latest = await find_version(session, ctx.org_id, ref, None)
            rows = (
                await session.execute(
                    sa.select(
                        definitions.c.id,
                        definitions.c.version,
                        definitions.c.name,
                        definitions.c.is_active,
                        definitions.c.created_by,
                        definitions.c.created_at,
                    )
                    .where(definitions.c.org_id == ctx.org_id, definitions.c.definition_key == latest.definition_key)
                    .order_by(definitions.c.version.desc())
                )
            ).all()
        return DefinitionHistory(
            definition_key=latest.definition_key,
            versions=[DefinitionVersion.model_validate(dict(r._mapping)) for r in rows],
        )

    async def variables(
        self, ctx: Context, ref: DefinitionRef, step_id: str, version: int | None = None
    ) -> list[VariableRef]:
        async with self.db.scoped(ctx.org_id) as session:
            row = await find_version(session, ctx.org_id, ref, version)
        draft = DefinitionDraft.model_validate(
            {
                k: row._mapping[k]
                for k in ("language_version", "name", "description", "phases", "steps", "variables", "statuses")
            }
        )
        try:
            return variables_at(draft, step_id)
        except KeyError:
            raise Invalid("step", f"no step {step_id!r} in this definition", location="query") from None
