"""Definitions: create, edit (a new immutable version), deactivate / reactivate, and the
default definition every org is given once."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from byte_contracts.definitions import Definition, applicant_review, parse_definition
from byte_contracts.errors import Conflict, NotFound
from byte_contracts.executions import (
    DefinitionCreated,
    DefinitionDeactivated,
    DefinitionReactivated,
    DefinitionSnapshot,
    DefinitionVersioned,
)
from byte_platform.context import Context, require_admin
from byte_platform.unit_of_work import UnitOfWork, Work
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError

from byte_executions import domain
from byte_executions.commands import (
    CreateDefinition,
    DefinitionRef,
    EditDefinition,
    ProvisionOrg,
    SetDefinitionActive,
)
from byte_executions.models import provisioned_orgs, workflow_definitions

definitions = workflow_definitions
SNAPSHOT_COLUMNS = [c for c in definitions.c if c.name not in ("org_id", "is_latest")]
SERVICE = "executions"


def snapshot(row: Any) -> DefinitionSnapshot:
    return DefinitionSnapshot.model_validate(dict(row._mapping))


def document_columns(definition: Definition) -> dict[str, Any]:
    """A valid definition as the columns that store it: its normal form (defaults written out,
    nothing unset), which reads back as the same definition."""
    doc = definition.model_dump(mode="json", by_alias=True, exclude_none=True)
    return {
        "language_version": doc["language_version"],
        "name": doc["name"],
        "description": doc["description"],
        "phases": doc["phases"],
        "steps": doc["steps"],
        "variables": doc["variables"],
        "statuses": doc["statuses"],
    }


class KeyTaken(Conflict):
    def __init__(self, key: str) -> None:
        super().__init__(
            f"a definition with key {key!r} already exists: edit it, or create this one under another key",
            errors=[{"field": "key", "in": "body", "message": "already used by another definition"}],
            definition_key=key,
        )


class StaleVersion(Conflict):
    def __init__(self, expected: int, latest: int) -> None:
        super().__init__(
            f"version {expected} is not the latest (version {latest} is): reload and edit that one",
            expected_version=expected,
            latest_version=latest,
        )


async def key_of(work: Work, ref: DefinitionRef) -> str:
    """The key of the definition `ref` names (a version's id, or the key), or NotFound."""
    if isinstance(ref, uuid.UUID):
        key = await work.session.scalar(
            sa.select(definitions.c.definition_key).where(
                definitions.c.org_id == work.ctx.org_id, definitions.c.id == ref
            )
        )
    else:
        key = await work.session.scalar(
            sa.select(definitions.c.definition_key)
            .where(definitions.c.org_id == work.ctx.org_id, definitions.c.definition_key == ref)
            .limit(1)
        )
    if key is None:
        raise NotFound("definition")
    return key


async def lock_latest(work: Work, key: str) -> Any:
    """The latest version of `key`, locked. An edit committing while this waited has moved
    `is_latest` to a new row; a new statement (a new snapshot) finds it."""
    for _ in range(3):
        row = (
            await work.session.execute(
                sa.select(*SNAPSHOT_COLUMNS)
                .where(
                    definitions.c.org_id == work.ctx.org_id,
                    definitions.c.definition_key == key,
                    definitions.c.is_latest,
                )
                .with_for_update()
            )
        ).one_or_none()
        if row is not None:
            return row
    raise NotFound("definition")


async def insert_first(work: Work, key: str, definition: Definition) -> DefinitionSnapshot | None:
    """Version 1 of `key`, or None when the key is taken."""
    row = (
        await work.session.execute(
            insert(definitions)
            .values(
                id=uuid.uuid4(),
                org_id=work.ctx.org_id,
                definition_key=key,
                version=1,
                is_active=True,
                is_latest=True,
                created_by=work.ctx.actor,
                **document_columns(definition),
            )
            .on_conflict_do_nothing()
            .returning(*SNAPSHOT_COLUMNS)
        )
    ).one_or_none()
    if row is None:
        return None
    created = snapshot(row)
    await work.emit("definition.created", created.id, DefinitionCreated(definition=created))
    return created


@dataclass
class DefinitionHandlers:
    uow: UnitOfWork

    async def create(self, ctx: Context, cmd: CreateDefinition) -> DefinitionSnapshot:
        require_admin(ctx)
        definition = parse_definition(cmd.document)
        key = domain.check_key(cmd.key) if cmd.key is not None else domain.key_from_name(definition.name)
        async with self.uow.begin(ctx) as work:
            created = await insert_first(work, key, definition)
            if created is None:
                raise KeyTaken(key)
        return created

    async def edit(self, ctx: Context, cmd: EditDefinition) -> DefinitionSnapshot:
        """Version n+1 from the document, and n deactivated, in one transaction. Concurrent
        edits of version n wait on n's row lock; the first wins and the others, seeing n no
        longer latest, are refused. The unique (org, key, version) is the last word: no
        version number is ever used twice."""
        require_admin(ctx)
        definition = parse_definition(cmd.document)
        try:
            async with self.uow.begin(ctx) as work:
                key = await key_of(work, cmd.definition)
                current = (
                    await work.session.execute(
                        sa.select(*SNAPSHOT_COLUMNS, definitions.c.is_latest)
                        .where(
                            definitions.c.org_id == ctx.org_id,
                            definitions.c.definition_key == key,
                            definitions.c.version == cmd.expected_version,
                        )
                        .with_for_update()
                    )
                ).one_or_none()
                if current is None or not current.is_latest:
                    latest = await work.session.scalar(
                        sa.select(sa.func.max(definitions.c.version)).where(
                            definitions.c.org_id == ctx.org_id, definitions.c.definition_key == key
                        )
                    )
                    raise StaleVersion(cmd.expected_version, latest or 0)
                await work.session.execute(
                    sa.update(definitions)
                    .where(definitions.c.id == current.id)
                    .values(is_latest=False, is_active=False, updated_at=sa.func.now())
                )
                row = (
                    await work.session.execute(
                        sa.insert(definitions)
                        .values(
                            id=uuid.uuid4(),
                            org_id=ctx.org_id,
                            definition_key=key,
                            version=current.version + 1,
                            is_active=current.is_active,
                            is_latest=True,
                            created_by=ctx.actor,
                            **document_columns(definition),
                        )
                        .returning(*SNAPSHOT_COLUMNS)
                    )
                ).one()
                new = snapshot(row)
                await work.emit(
                    "definition.versioned", new.id, DefinitionVersioned(definition=new, previous_id=current.id)
                )
        except IntegrityError as exc:
            raise Conflict("another edit of this definition won the race: reload and edit the latest version") from exc
        return new

    async def set_active(self, ctx: Context, cmd: SetDefinitionActive) -> DefinitionSnapshot:
        require_admin(ctx)
        async with self.uow.begin(ctx) as work:
            key = await key_of(work, cmd.definition)
            latest = await lock_latest(work, key)
            if latest.is_active == cmd.active:
                return snapshot(latest)
            row = (
                await work.session.execute(
                    sa.update(definitions)
                    .where(definitions.c.id == latest.id)
                    .values(is_active=cmd.active, updated_at=sa.func.now())
                    .returning(*SNAPSHOT_COLUMNS)
                )
            ).one()
            changed = snapshot(row)
            if cmd.active:
                await work.emit(
                    "definition.reactivated",
                    changed.id,
                    DefinitionReactivated(definition_id=changed.id, definition_key=key, version=changed.version),
                )
            else:
                await work.emit(
                    "definition.deactivated",
                    changed.id,
                    DefinitionDeactivated(definition_id=changed.id, definition_key=key, version=changed.version),
                )
        return changed


@dataclass
class Provisioning:
    """Every org starts with Applicant Review, provisioned once: on `identity.organization.created`
    or on the org's first request, whichever comes first, even when both race. The first
    transaction to insert the org's `provisioned_orgs` row provisions; a concurrent one waits
    on that row's unique key and then finds it there. Orgs known to be provisioned are
    remembered, so later requests cost nothing."""

    definitions: DefinitionHandlers
    known: set[str] = field(default_factory=set)

    async def ensure(self, ctx: Context) -> None:
        if ctx.org_id not in self.known:
            await self.provision(Context.system(ctx.org_id, SERVICE, correlation_id=ctx.correlation_id), ProvisionOrg())

    async def provision(self, ctx: Context, cmd: ProvisionOrg) -> bool:
        """True when this call provisioned the org, False when it already was."""
        async with self.definitions.uow.begin(ctx) as work:
            marked = await work.session.scalar(
                insert(provisioned_orgs)
                .values(org_id=ctx.org_id, provisioned_by=ctx.actor)
                .on_conflict_do_nothing()
                .returning(provisioned_orgs.c.org_id)
            )
            if marked is not None:
                await insert_first(work, domain.APPLICANT_REVIEW_KEY, applicant_review())
            if cmd.name is not None:
                await work.session.execute(
                    sa.update(provisioned_orgs).where(provisioned_orgs.c.org_id == ctx.org_id).values(name=cmd.name)
                )
        self.known.add(ctx.org_id)
        return marked is not None
