"""Commands in, rows and events out: each handler is one unit of work (row + outbox commit together)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from byte_contracts import new_event
from byte_contracts.contacts import ContactCreated, ContactDeleted, ContactSnapshot, ContactUpdated, ContactUpserted
from byte_platform.db import Database, row_in_org
from byte_platform.http import Conflict, NotFound
from byte_platform.identity import Identity
from byte_platform.logging import correlation_id
from byte_platform.outbox import Outbox
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from byte_contacts import domain
from byte_contacts.models import EMAIL_UNIQUE_INDEX, contacts
from byte_contacts.schemas import ContactCreate, ContactUpdate, ContactUpsert

PUBLIC_COLUMNS = [c for c in contacts.c if c.name not in ("org_id", "search_text")]


def snapshot(row: Any) -> ContactSnapshot:
    return ContactSnapshot.model_validate(dict(row._mapping))


class EmailTaken(Conflict):
    def __init__(self) -> None:
        super().__init__("another contact in this organization has this email", errors=[
            {"field": "email", "in": "body", "message": "already used by another contact"}
        ])


@dataclass
class ContactHandlers:
    db: Database
    outbox: Outbox

    async def _emit(self, session: AsyncSession, who: Identity, event_type: str, subject: uuid.UUID, data: Any) -> None:
        await self.outbox.add(
            session,
            new_event(event_type, org_id=who.org_id, subject=str(subject), actor=who.actor, data=data,
                      correlation_id=correlation_id.get()),
        )

    async def create(self, who: Identity, cmd: ContactCreate) -> ContactSnapshot:
        values = cmd.model_dump()
        values["tags"] = domain.normalize_tags(values["tags"])
        try:
            async with self.db.scoped(who.org_id) as session:
                row = (
                    await session.execute(
                        sa.insert(contacts)
                        .values(id=uuid.uuid4(), org_id=who.org_id, **values)
                        .returning(*PUBLIC_COLUMNS)
                    )
                ).one()
                contact = snapshot(row)
                await self._emit(session, who, "contact.created", contact.id, ContactCreated(contact=contact))
        except IntegrityError as exc:
            raise _translate(exc) from exc
        return contact

    async def update(self, who: Identity, contact_id: uuid.UUID, cmd: ContactUpdate) -> ContactSnapshot:
        try:
            async with self.db.scoped(who.org_id) as session:
                current = await row_in_org(session, contacts, PUBLIC_COLUMNS, contact_id, who.org_id, "contact",
                                           for_update=True)
                changed = domain.changes(dict(current._mapping), cmd.model_dump(exclude_unset=True))
                if not changed:
                    return snapshot(current)
                row = (
                    await session.execute(
                        sa.update(contacts)
                        .where(contacts.c.id == contact_id, contacts.c.org_id == who.org_id)
                        .values(**changed, updated_at=sa.func.now())
                        .returning(*PUBLIC_COLUMNS)
                    )
                ).one()
                contact = snapshot(row)
                await self._emit(session, who, "contact.updated", contact.id,
                                 ContactUpdated(contact=contact, changed_fields=sorted(changed)))
        except IntegrityError as exc:
            raise _translate(exc) from exc
        return contact

    async def delete(self, who: Identity, contact_id: uuid.UUID) -> None:
        async with self.db.scoped(who.org_id) as session:
            deleted = await session.scalar(
                sa.delete(contacts)
                .where(contacts.c.id == contact_id, contacts.c.org_id == who.org_id)
                .returning(contacts.c.id)
            )
            if deleted is None:
                raise NotFound("contact")
            await self._emit(session, who, "contact.deleted", contact_id, ContactDeleted(contact_id=contact_id))

    async def upsert(self, who: Identity, cmd: ContactUpsert) -> tuple[ContactSnapshot, bool]:
        """Insert, or update the contact with this email, in one statement: concurrent upserts
        of one email serialize on the unique index and end in one contact."""
        sent = cmd.model_dump(exclude={"submission_id"}, exclude_unset=True)
        sent["email"] = cmd.email
        sent["first_name"] = cmd.first_name
        values = cmd.model_dump(exclude={"submission_id"})
        values["tags"] = domain.normalize_tags(values["tags"])
        stmt = insert(contacts).values(id=uuid.uuid4(), org_id=who.org_id, **values)
        on_match: dict[str, Any] = {
            name: stmt.excluded[name] for name in sent if name not in ("tags", "metadata", "email")
        }
        if "tags" in sent:
            on_match["tags"] = sa.text("ARRAY(SELECT DISTINCT unnest(contacts.tags || excluded.tags))")
        if "metadata" in sent:
            on_match["metadata"] = contacts.c.metadata.op("||")(stmt.excluded.metadata)
        on_match["updated_at"] = sa.func.now()
        stmt = stmt.on_conflict_do_update(
            index_elements=[contacts.c.org_id, sa.func.lower(contacts.c.email)],
            index_where=contacts.c.email.isnot(None),
            set_=on_match,
        ).returning(*PUBLIC_COLUMNS, sa.literal_column("xmax = 0").label("inserted"))
        async with self.db.scoped(who.org_id) as session:
            row = (await session.execute(stmt)).one()
            contact = snapshot(row)
            await self._emit(session, who, "contact.upserted", contact.id,
                             ContactUpserted(contact=contact, created=row.inserted, submission_id=cmd.submission_id))
        return contact, row.inserted


def _translate(exc: IntegrityError) -> Exception:
    if EMAIL_UNIQUE_INDEX in str(exc.orig):
        return EmailTaken()
    return exc
