"""Clerk webhooks in, `users` rows and `identity.*` events out.

Each delivery is one unit of work: its Svix id (in the shared inbox), its effect on the tables
and its outbox rows commit together, so a redelivery (same `svix-id`) finds its id and changes
nothing. Svix does not
promise order, so a membership may arrive before its user: the membership's `public_user_data`
fills the row until the user's own event brings the full profile (and, once it has, never
overwrites it), and Clerk's `updated_at` keeps an older redelivery from overwriting a newer state.
A payload PostgreSQL could not store (NUL, lone surrogates, NaN, absurd depth) is refused whole.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from byte_contracts import identity as events
from byte_contracts.errors import Malformed
from byte_platform.context import SYSTEM_ROLE, Context
from byte_platform.unit_of_work import UnitOfWork, Work
from byte_platform.validation import json_problems, printable
from pydantic import BaseModel
from sqlalchemy.dialects.postgresql import insert

from byte_gateway.domain import InvalidClaims, map_role
from byte_gateway.models import user_profiles, users

ACTOR = "system:clerk"
CONSUMER = "gateway.clerk-webhooks"
WEBHOOK_MAX_DEPTH = 64
EVENT_NAMESPACE = uuid.UUID("5f0b7a52-8d0e-4a55-9a55-0c1e4b9d2f61")


class BadPayload(Malformed):
    def __init__(self, detail: str) -> None:
        super().__init__("body", detail, location="body")
        self.title = "Invalid webhook payload"


@dataclass(frozen=True)
class ApplyClerkDelivery:
    """One verified Svix delivery: its id and its parsed JSON body."""

    svix_id: str
    body: Any


def _str(data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    return value if isinstance(value, str) and value else None


def _required(data: dict[str, Any], key: str) -> str:
    value = _str(data, key)
    if value is None:
        raise BadPayload(f"data.{key} is missing or not a string")
    return value


MAX_MILLIS = 2**63 - 1  # a BIGINT column


def _millis(data: dict[str, Any]) -> int:
    """Clerk's `updated_at` (ms since the epoch); 0 when absent, which any real time supersedes."""
    value = data.get("updated_at")
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_MILLIS:
        raise BadPayload("data.updated_at is not a time in milliseconds")
    return value


def primary_email(data: dict[str, Any]) -> str | None:
    addresses = [a for a in data.get("email_addresses") or [] if isinstance(a, dict)]
    primary = data.get("primary_email_address_id")
    for a in addresses:
        if a.get("id") == primary and isinstance(a.get("email_address"), str):
            return a["email_address"]
    return next((a["email_address"] for a in addresses if isinstance(a.get("email_address"), str)), None)


def _member(row: Any) -> events.Member:
    return events.Member(
        user_id=row.id,
        org_id=row.org_id,
        email=row.email,
        first_name=row.first_name,
        last_name=row.last_name,
        roles=list(row.roles),
        clerk_role=row.clerk_role,
    )


@dataclass
class Delivery:
    svix_id: str
    event_type: str


Handler = Callable[[Work, Delivery, dict[str, Any]], Awaitable[None]]


@dataclass
class WebhookHandlers:
    uow: UnitOfWork

    def __post_init__(self) -> None:
        self._dispatch: dict[str, Handler] = {
            "user.created": self._user_changed,
            "user.updated": self._user_changed,
            "user.deleted": self._user_deleted,
            "organizationMembership.created": self._membership_changed,
            "organizationMembership.updated": self._membership_changed,
            "organizationMembership.deleted": self._membership_deleted,
            "organization.created": self._organization_changed,
            "organization.updated": self._organization_changed,
            "organization.deleted": self._organization_deleted,
        }

    async def apply(self, cmd: ApplyClerkDelivery) -> str:
        """Returns `processed`, `duplicate` (seen before) or `ignored` (a type we don't use)."""
        body = cmd.body
        if (
            not isinstance(body, dict)
            or not isinstance(body.get("type"), str)
            or not isinstance(body.get("data"), dict)
        ):
            raise BadPayload("expected an object with `type` and `data`")
        # anything PostgreSQL could not keep (NUL, lone surrogates, NaN, absurd depth), anywhere,
        # refuses the whole delivery before a row is written
        if problems := json_problems(body, max_depth=WEBHOOK_MAX_DEPTH):
            path, why = problems[0]
            raise BadPayload(f"{printable('.'.join(map(str, ('body', *path))))}: {why}")
        delivery = Delivery(svix_id=cmd.svix_id, event_type=body["type"])
        handler = self._dispatch.get(delivery.event_type)
        # Clerk's user events name no org: the delivery starts in none and each org it touches
        # is entered with `switch_org`, which row-level security follows.
        ctx = Context(
            org_id="", actor=ACTOR, roles=frozenset({SYSTEM_ROLE}), correlation_id=cmd.svix_id, causation_id=cmd.svix_id
        )
        async with self.uow.unscoped(ctx) as work:
            if not await work.first_time(CONSUMER, cmd.svix_id):
                return "duplicate"
            if handler is None:
                return "ignored"
            await handler(work, delivery, body["data"])
        return "processed"

    # -- helpers ---------------------------------------------------------------------------

    @staticmethod
    async def _emit(work: Work, d: Delivery, event_type: str, org_id: str, subject: str, data: BaseModel) -> None:
        """In `org_id`; the id is derived from the delivery, so a delivery
        replayed after a crash before commit emits the same ids."""
        if work.ctx.org_id != org_id:
            await work.switch_org(org_id)
        event_id = uuid.uuid5(EVENT_NAMESPACE, f"{d.svix_id}/{event_type}/{org_id}/{subject}")
        await work.emit(event_type, subject, data, event_id=event_id)

    # -- users -------------------------------------------------------------------------------

    async def _user_changed(self, work: Work, d: Delivery, data: dict[str, Any]) -> None:
        user_id = _required(data, "id")
        values = {
            "email": primary_email(data),
            "first_name": _str(data, "first_name"),
            "last_name": _str(data, "last_name"),
            "source_updated_at": _millis(data),
            "has_own_profile": True,
        }
        stmt = insert(user_profiles).values(id=user_id, **values)
        row = (
            await work.session.execute(
                stmt.on_conflict_do_update(
                    index_elements=[user_profiles.c.id],
                    set_={**{k: stmt.excluded[k] for k in values}, "updated_at": sa.func.now()},
                    where=(user_profiles.c.source_updated_at <= stmt.excluded.source_updated_at)
                    & user_profiles.c.deleted.is_(False),
                ).returning(user_profiles.c.org_ids)
            )
        ).one_or_none()
        if row is None:  # an older state, or a deleted user: nothing changes
            return
        profile = {k: values[k] for k in ("email", "first_name", "last_name")}
        for org_id in row.org_ids:
            await work.switch_org(org_id)
            member = (
                await work.session.execute(
                    sa.update(users)
                    .where(users.c.org_id == org_id, users.c.id == user_id)
                    .values(**profile, updated_at=sa.func.now())
                    .returning(*users.c)
                )
            ).one_or_none()
            if member is not None:
                await self._emit(
                    work, d, "identity.user.updated", org_id, user_id, events.UserUpdated(member=_member(member))
                )

    async def _user_deleted(self, work: Work, d: Delivery, data: dict[str, Any]) -> None:
        user_id = _required(data, "id")
        old = await work.session.scalar(
            sa.select(user_profiles.c.org_ids).where(user_profiles.c.id == user_id).with_for_update()
        )
        # a tombstone, so a late membership or user event does not bring the user back
        stmt = insert(user_profiles).values(id=user_id, deleted=True)
        await work.session.execute(
            stmt.on_conflict_do_update(
                index_elements=[user_profiles.c.id],
                set_={
                    "deleted": True,
                    "org_ids": sa.text("'{}'::text[]"),
                    "email": None,
                    "first_name": None,
                    "last_name": None,
                    "updated_at": sa.func.now(),
                },
            )
        )
        for org_id in old or []:
            await work.switch_org(org_id)
            gone = await work.session.scalar(
                sa.delete(users).where(users.c.org_id == org_id, users.c.id == user_id).returning(users.c.id)
            )
            if gone is not None:
                await self._emit(work, d, "identity.user.deleted", org_id, user_id, events.UserDeleted(user_id=user_id))

    # -- memberships -------------------------------------------------------------------------

    @staticmethod
    def _membership_parts(data: dict[str, Any]) -> tuple[str, str, dict[str, Any]]:
        org = data.get("organization")
        public = data.get("public_user_data")
        if not isinstance(org, dict) or not isinstance(public, dict):
            raise BadPayload("data.organization and data.public_user_data are required")
        return _required(org, "id"), _required(public, "user_id"), public

    async def _membership_changed(self, work: Work, d: Delivery, data: dict[str, Any]) -> None:
        org_id, user_id, public = self._membership_parts(data)
        clerk_role = _required(data, "role")
        source_updated_at = _millis(data)
        try:
            roles = [map_role(clerk_role)]
        except InvalidClaims as exc:
            raise BadPayload(exc.detail) from None
        profile = (
            await work.session.execute(sa.select(user_profiles).where(user_profiles.c.id == user_id).with_for_update())
        ).one_or_none()
        if profile is not None and profile.deleted:
            return
        identifier = _str(public, "identifier")
        from_membership = {
            "email": identifier if identifier and "@" in identifier else None,
            "first_name": _str(public, "first_name"),
            "last_name": _str(public, "last_name"),
        }
        if profile is None:
            await work.session.execute(sa.insert(user_profiles).values(id=user_id, org_ids=[org_id], **from_membership))
            names = from_membership
        else:
            await work.session.execute(
                sa.update(user_profiles)
                .where(user_profiles.c.id == user_id)
                .values(org_ids=sa.func.array_append(sa.func.array_remove(user_profiles.c.org_ids, org_id), org_id))
            )
            # the user's own events carry the primary email; a membership only the identifier.
            # Not `source_updated_at > 0`: a user event without `updated_at` is still the user's own.
            names = {k: (getattr(profile, k) if profile.has_own_profile else v) for k, v in from_membership.items()}
        await work.switch_org(org_id)
        values = {**names, "roles": roles, "clerk_role": clerk_role, "source_updated_at": source_updated_at}
        stmt = insert(users).values(org_id=org_id, id=user_id, **values)
        row = (
            await work.session.execute(
                stmt.on_conflict_do_update(
                    index_elements=[users.c.org_id, users.c.id],
                    set_={**{k: stmt.excluded[k] for k in values}, "updated_at": sa.func.now()},
                    where=users.c.source_updated_at <= stmt.excluded.source_updated_at,
                ).returning(*users.c, sa.literal_column("xmax = 0").label("inserted"))
            )
        ).one_or_none()
        if row is None:
            return
        if row.inserted:
            await self._emit(
                work, d, "identity.membership.created", org_id, user_id, events.MembershipCreated(member=_member(row))
            )
        else:
            await self._emit(
                work, d, "identity.membership.updated", org_id, user_id, events.MembershipUpdated(member=_member(row))
            )

    async def _membership_deleted(self, work: Work, d: Delivery, data: dict[str, Any]) -> None:
        org_id, user_id, _ = self._membership_parts(data)
        await work.session.execute(
            sa.update(user_profiles)
            .where(user_profiles.c.id == user_id)
            .values(org_ids=sa.func.array_remove(user_profiles.c.org_ids, org_id))
        )
        await work.switch_org(org_id)
        gone = await work.session.scalar(
            sa.delete(users).where(users.c.org_id == org_id, users.c.id == user_id).returning(users.c.id)
        )
        if gone is not None:
            await self._emit(
                work, d, "identity.membership.deleted", org_id, user_id, events.MembershipDeleted(user_id=user_id)
            )

    # -- organizations ----------------------------------------------------------------------

    async def _organization_changed(self, work: Work, d: Delivery, data: dict[str, Any]) -> None:
        org_id = _required(data, "id")
        org = events.Organization(
            org_id=org_id, name=_str(data, "name"), slug=_str(data, "slug"), created_by=_str(data, "created_by")
        )
        if d.event_type == "organization.created":
            await self._emit(
                work, d, "identity.organization.created", org_id, org_id, events.OrganizationCreated(organization=org)
            )
        else:
            await self._emit(
                work, d, "identity.organization.updated", org_id, org_id, events.OrganizationUpdated(organization=org)
            )

    async def _organization_deleted(self, work: Work, d: Delivery, data: dict[str, Any]) -> None:
        org_id = _required(data, "id")
        await work.switch_org(org_id)
        await work.session.execute(sa.delete(users).where(users.c.org_id == org_id))
        await work.session.execute(
            sa.update(user_profiles)
            .where(user_profiles.c.org_ids.contains([org_id]))
            .values(org_ids=sa.func.array_remove(user_profiles.c.org_ids, org_id))
        )
        await self._emit(
            work, d, "identity.organization.deleted", org_id, org_id, events.OrganizationDeleted(org_id=org_id)
        )
