"""Notes on a case, a contact or a task: members write them; only the author or an admin edits
or deletes one. A note on an entity this org does not have (another org's, or none) is a 404,
the same either way."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from byte_contracts.errors import Forbidden, NotFound
from byte_contracts.notes import NoteCreated, NoteDeleted, NoteSnapshot, NoteUpdated
from byte_platform.context import Context, require_writer
from byte_platform.unit_of_work import UnitOfWork, Work

from byte_executions.commands import DeleteNote, EditNote, WriteNote
from byte_executions.models import contact_summaries, notes, task_summaries, workflow_executions

NOTE_COLUMNS = [
    notes.c.id,
    notes.c.entity_type,
    notes.c.entity_id,
    notes.c.execution_id,
    notes.c.contact_id,
    notes.c.task_id,
    notes.c.author_id,
    notes.c.content,
    notes.c.is_internal,
    notes.c.created_at,
    notes.c.updated_at,
]


@dataclass(frozen=True)
class Links:
    execution_id: uuid.UUID | None = None
    contact_id: uuid.UUID | None = None
    task_id: uuid.UUID | None = None


async def links_of(session, entity_type: str, entity_id: uuid.UUID) -> Links:
    """What a note on this entity concerns, or NotFound (row-level security hides other orgs')."""
    if entity_type == "case":
        row = (
            await session.execute(
                sa.select(workflow_executions.c.contact_id).where(workflow_executions.c.id == entity_id)
            )
        ).one_or_none()
        if row is None:
            raise NotFound("case")
        return Links(execution_id=entity_id, contact_id=row.contact_id)
    if entity_type == "contact":
        known = await session.scalar(
            sa.select(sa.literal(True)).where(
                contact_summaries.c.contact_id == entity_id, sa.not_(contact_summaries.c.deleted)
            )
        )
        if not known:
            raise NotFound("contact")
        return Links(contact_id=entity_id)
    row = (
        await session.execute(
            sa.select(task_summaries.c.execution_id, task_summaries.c.contact_id).where(
                task_summaries.c.task_id == entity_id, sa.not_(task_summaries.c.deleted)
            )
        )
    ).one_or_none()
    if row is None:
        raise NotFound("task")
    return Links(execution_id=row.execution_id, contact_id=row.contact_id, task_id=entity_id)


def snapshot(row) -> NoteSnapshot:
    return NoteSnapshot.model_validate(dict(row._mapping))


@dataclass
class NoteHandlers:
    uow: UnitOfWork

    async def write(self, ctx: Context, cmd: WriteNote) -> NoteSnapshot:
        require_writer(ctx)
        async with self.uow.begin(ctx) as work:
            links = await links_of(work.session, cmd.entity_type, cmd.entity_id)
            row = (
                await work.session.execute(
                    sa.insert(notes)
                    .values(
                        id=uuid.uuid4(),
                        org_id=ctx.org_id,
                        entity_type=cmd.entity_type,
                        entity_id=cmd.entity_id,
                        execution_id=links.execution_id,
                        contact_id=links.contact_id,
                        task_id=links.task_id,
                        author_id=ctx.user_id,
                        content=cmd.content,
                        is_internal=cmd.is_internal,
                    )
                    .returning(*NOTE_COLUMNS)
                )
            ).one()
            note = snapshot(row)
            await work.emit("note.created", note.id, NoteCreated(note=note))
            return note

    async def edit(self, ctx: Context, cmd: EditNote) -> NoteSnapshot:
        require_writer(ctx)
        async with self.uow.begin(ctx) as work:
            before = await self._own(work, ctx, cmd.note_id)
            changes = {
                name: value
                for name, value in (("content", cmd.content), ("is_internal", cmd.is_internal))
                if value is not None and value != getattr(before, name)
            }
            if not changes:
                return before
            row = (
                await work.session.execute(
                    sa.update(notes)
                    .where(notes.c.id == cmd.note_id)
                    .values(**changes, updated_at=datetime.now(UTC))
                    .returning(*NOTE_COLUMNS)
                )
            ).one()
            note = snapshot(row)
            await work.emit(
                "note.updated",
                note.id,
                NoteUpdated(
                    note=note, changed_fields=sorted(changes), previous={k: getattr(before, k) for k in changes}
                ),
            )
            return note

    async def delete(self, ctx: Context, cmd: DeleteNote) -> None:
        require_writer(ctx)
        async with self.uow.begin(ctx) as work:
            note = await self._own(work, ctx, cmd.note_id)
            await work.session.execute(sa.delete(notes).where(notes.c.id == cmd.note_id))
            await work.emit("note.deleted", note.id, NoteDeleted(note=note))

    @staticmethod
    async def _own(work: Work, ctx: Context, note_id: uuid.UUID) -> NoteSnapshot:
        """The note, locked, if the caller wrote it or is an admin."""
        row = (
            await work.session.execute(
                sa.select(*NOTE_COLUMNS).where(notes.c.id == note_id, notes.c.org_id == ctx.org_id).with_for_update()
            )
        ).one_or_none()
        if row is None:
            raise NotFound("note")
        note = snapshot(row)
        if note.author_id != ctx.user_id and not ctx.is_admin:
            raise Forbidden("only the note's author or an admin may change it")
        return note
