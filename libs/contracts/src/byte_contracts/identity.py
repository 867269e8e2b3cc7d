"""Payloads of the `identity` topic: the gateway's view of Clerk users, memberships and orgs.

Every event belongs to one org (the envelope's `org_id`): a change to a user who belongs to three
orgs is three events, one per org, so each org's consumers keep their own projection. A user who
belongs to no org yet produces no event until a membership arrives.
"""

from __future__ import annotations

from pydantic import BaseModel


class Member(BaseModel):
    """A user as a member of one org, after the change."""

    user_id: str
    org_id: str
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    roles: list[str] = []
    clerk_role: str | None = None


class MembershipCreated(BaseModel):
    member: Member


class MembershipUpdated(BaseModel):
    member: Member


class MembershipDeleted(BaseModel):
    user_id: str


class UserUpdated(BaseModel):
    """The user's profile (email, names) changed; sent once per org the user belongs to."""

    member: Member


class UserDeleted(BaseModel):
    """The user was deleted in Clerk; sent once per org the user belonged to."""

    user_id: str


class Organization(BaseModel):
    org_id: str
    name: str | None = None
    slug: str | None = None
    created_by: str | None = None


class OrganizationCreated(BaseModel):
    """A new org: services provision what it needs (the default workflow definition) before
    its first request; they must also cope with a first request arriving before this."""

    organization: Organization


class OrganizationUpdated(BaseModel):
    organization: Organization


class OrganizationDeleted(BaseModel):
    org_id: str
