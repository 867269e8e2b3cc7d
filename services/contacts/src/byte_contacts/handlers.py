"""Commands in, rows and events out: each handler is one unit of work (row, outbox and inbox
commit together). Callers are api.py (HTTP) and consumers.py (events); neither is seen here."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from byte_contracts.contacts import (
    ContactCreated,
    ContactDeleted,
    ContactMerged,
    ContactSnapshot,
    ContactUpdated,
    ContactUpserted,
)
from byte_contracts.errors import Conflict, Invalid, NotFound
from byte_platform.context import Context, require_admin, require_writer
from byte_platform.db import row_in_org
from byte_platform.unit_of_work import UnitOfWork, Work
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError

from byte_contacts import domain
from byte_contacts.commands import (
    CreateContact,
    DeleteContact,
    MergeContact,
    TakeInApplicant,
    UpdateContact,
    UpsertContact,
)
from byte_contacts.models import EMAIL_UNIQUE_INDEX, contact_merges, contacts

PUBLIC_COLUMNS = [c for c in contacts.c if c.name not in ("org_id", "search_text")]
INTAKE_CONSUMER = "contacts.intake"
UPDATE_REQUEST_CONSUMER = "contacts.update_requests"


def snapshot(row: Any) -> ContactSnapshot:
    return ContactSnapshot.model_validate(dict(row._mapping))


class EmailTaken(Conflict):
    def __init__(self) -> None:
        super().__init__(
            "another contact in this organization has this email",
            errors=[{"field": "email", "in": "body", "message": "already used by another contact"}],
        )


@dataclass
class ContactHandlers:
    uow: UnitOfWork

    async def create(self, ctx: Context, cmd: CreateContact) -> ContactSnapshot:
        require_writer(ctx)
        try:
            async with self.uow.begin(ctx) as work:
                contact = await self._insert(work, cmd.contact.model_dump())
                await work.emit("contact.created", contact.id, ContactCreated(contact=contact))
        except IntegrityError as exc:
            raise _translate(exc) from exc
        return contact

    async def update(self, ctx: Context, cmd: UpdateContact) -> ContactSnapshot:
        require_writer(ctx)
        try:
            async with self.uow.begin(ctx) as work:
                current = await row_in_org(
                    work.session, contacts, PUBLIC_COLUMNS, cmd.contact_id, ctx.org_id, "contact", for_update=True
                )
                if cmd.request_id is not None and not await work.first_time(UPDATE_REQUEST_CONSUMER, cmd.request_id):
                    return snapshot(current)
                changed = domain.changes(dict(current._mapping), cmd.changes.model_dump(exclude_unset=True))
                if not changed:
                    return snapshot(current)
                contact = await _change(work, cmd.contact_id, changed)
        except IntegrityError as exc:
            raise _translate(exc) from exc
        return contact

    async def delete(self, ctx: Context, cmd: DeleteContact) -> None:
        require_admin(ctx)
        async with self.uow.begin(ctx) as work:
            deleted = await work.session.scalar(
                sa.delete(contacts)
                .where(contacts.c.id == cmd.contact_id, contacts.c.org_id == ctx.org_id)
                .returning(contacts.c.id)
            )
            if deleted is None:
                raise NotFound("contact")
            await work.emit("contact.deleted", cmd.contact_id, ContactDeleted(contact_id=cmd.contact_id))

    async def upsert(self, ctx: Context, cmd: UpsertContact) -> tuple[ContactSnapshot, bool]:
        require_writer(ctx)
        async with self.uow.begin(ctx) as work:
            contact, created = await self._upsert(
                work,
                cmd.contact.model_dump(exclude={"submission_id"}),
                cmd.contact.model_fields_set - {"submission_id"},
            )
            await work.emit(
                "contact.upserted",
                contact.id,
                ContactUpserted(contact=contact, created=created, submission_id=cmd.contact.submission_id),
            )
        return contact, created

    async def take_in(self, ctx: Context, cmd: TakeInApplicant) -> ContactSnapshot | None:
        """From `submission.received`; None when this submission was already taken in."""
        async with self.uow.begin(ctx) as work:
            if not await work.first_time(INTAKE_CONSUMER, ctx.causation_id or cmd.submission_id):
                return None
            values = cmd.applicant.model_dump()
            if cmd.applicant.email is None:
                contact, created = await self._insert(work, values), True
            else:
                contact, created = await self._upsert(work, values, cmd.applicant.model_fields_set)
            await work.emit(
                "contact.upserted",
                contact.id,
                ContactUpserted(contact=contact, created=created, submission_id=cmd.submission_id),
            )
        return contact

    async def merge(self, ctx: Context, cmd: MergeContact) -> ContactSnapshot:
        """`cmd.contact_id` into `cmd.into`: the survivor keeps its values and gains what it
        lacked (domain.merged); the merged contact's row goes (its email with it, which the
        survivor may then take), recorded whole in `contact_merges`. One `contact.updated` for
        the survivor when it changed, then `contact.merged` (same subject: read in that order),
        on which executions and tasks re-point what named the merged contact. Admins only, as
        deleting is (docs/roles.md): a merge cannot be undone."""
        require_admin(ctx)
        if cmd.contact_id == cmd.into:
            raise Invalid("into", "a contact cannot be merged into itself")
        async with self.uow.begin(ctx) as work:
            # both rows locked, in id order: concurrent merges of the same pair, either way
            # round, queue instead of deadlocking
            rows = {
                row.id: row
                for row in (
                    await work.session.execute(
                        sa.select(*PUBLIC_COLUMNS)
                        .where(contacts.c.org_id == ctx.org_id, contacts.c.id.in_([cmd.contact_id, cmd.into]))
                        .order_by(contacts.c.id)
                        .with_for_update()
                    )
                ).all()
            }
            if cmd.contact_id not in rows:
                raise await self._gone(work, cmd.contact_id, NotFound("contact"))
            if cmd.into not in rows:
                raise await self._gone(work, cmd.into, Invalid("into", "no such contact in this organization"))
            duplicate, survivor = snapshot(rows[cmd.contact_id]), rows[cmd.into]
            await work.session.execute(
                sa.delete(contacts).where(contacts.c.id == cmd.contact_id, contacts.c.org_id == ctx.org_id)
            )
            await work.session.execute(
                sa.insert(contact_merges).values(
                    org_id=ctx.org_id,
                    from_contact_id=cmd.contact_id,
                    into_contact_id=cmd.into,
                    merged_contact=duplicate.model_dump(mode="json"),
                    merged_by=ctx.actor,
                )
            )
            changed = domain.merged(dict(survivor._mapping), duplicate.model_dump())
            contact = snapshot(survivor)
            if changed:
                contact = await _change(work, cmd.into, changed)
            merged_at = await work.session.scalar(sa.select(sa.func.now()))
            await work.emit(
                "contact.merged",
                contact.id,
                ContactMerged(
                    from_contact_id=cmd.contact_id,
                    into_contact_id=cmd.into,
                    contact=contact,
                    merged_at=merged_at,
                    merged_by=ctx.actor,
                ),
            )
        return contact

    async def _gone(self, work: Work, contact_id: uuid.UUID, otherwise: Exception) -> Exception:
        """A contact named in a merge that is not there: if it was merged, say where it went."""
        into = await work.session.scalar(
            sa.select(contact_merges.c.into_contact_id).where(
                contact_merges.c.org_id == work.ctx.org_id, contact_merges.c.from_contact_id == contact_id
            )
        )
        if into is None:
            return otherwise
        return Conflict(f"contact {contact_id} was merged into {into}", merged_into=str(into))

    # --- statements the handlers share ---

    async def _insert(self, work: Work, values: dict[str, Any]) -> ContactSnapshot:
        values["tags"] = domain.normalize_tags(values["tags"])
        row = (
            await work.session.execute(
                sa.insert(contacts).values(id=uuid.uuid4(), org_id=work.ctx.org_id, **values).returning(*PUBLIC_COLUMNS)
            )
        ).one()
        return snapshot(row)

    async def _upsert(self, work: Work, values: dict[str, Any], sent: set[str]) -> tuple[ContactSnapshot, bool]:
        """Insert, or update the contact with this email, in one statement: concurrent upserts
        of one email serialize on the unique index and end in one contact. On a match only the
        fields `sent` change; tags are added and metadata merged."""
        sent = sent | {"email", "first_name"}
        values["tags"] = domain.normalize_tags(values["tags"])
        stmt = insert(contacts).values(id=uuid.uuid4(), org_id=work.ctx.org_id, **values)
        on_match: dict[str, Any] = {
            name: stmt.excluded[name] for name in sent if name not in ("tags", "metadata", "email")
        }
        if "tags" in sent:
            on_match["tags"] = sa.text("ARRAY(SELECT DISTINCT unnest(contacts.tags || excluded.tags))")
        if "metadata" in sent:
            on_match["metadata"] = contacts.c.metadata.op("||")(stmt.excluded.metadata)
        on_match["updated_at"] = sa.func.now()
        upsert = stmt.on_conflict_do_update(
            index_elements=[contacts.c.org_id, sa.func.lower(contacts.c.email)],
            index_where=contacts.c.email.isnot(None),
            set_=on_match,
        ).returning(*PUBLIC_COLUMNS, sa.literal_column("xmax = 0").label("inserted"))
        row = (await work.session.execute(upsert)).one()
        return snapshot(row), row.inserted


async def _change(work: Work, contact_id: uuid.UUID, changed: dict[str, Any]) -> ContactSnapshot:
    """Writes `changed` to the contact and says so (`contact.updated`)."""
    row = (
        await work.session.execute(
            sa.update(contacts)
            .where(contacts.c.id == contact_id, contacts.c.org_id == work.ctx.org_id)
            .values(**changed, updated_at=sa.func.now())
            .returning(*PUBLIC_COLUMNS)
        )
    ).one()
    contact = snapshot(row)
    await work.emit("contact.updated", contact.id, ContactUpdated(contact=contact, changed_fields=sorted(changed)))
    return contact


def _translate(exc: IntegrityError) -> Exception:
    if EMAIL_UNIQUE_INDEX in str(exc.orig):
        return EmailTaken()
    return exc
