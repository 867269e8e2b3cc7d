"""Tables the gateway owns."""

import sqlalchemy as sa
from byte_platform.inbox import inbox_table
from byte_platform.outbox import outbox_table
from sqlalchemy.dialects.postgresql import ARRAY

metadata = sa.MetaData()

# One row per (org, user): a member of an org, as Clerk's webhooks describe it. Tenant table,
# behind row-level security: `GET /v1/users` lists the caller's org and nothing else.
users = sa.Table(
    "users",
    metadata,
    sa.Column("org_id", sa.Text, primary_key=True),
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("email", sa.Text),
    sa.Column("first_name", sa.Text),
    sa.Column("last_name", sa.Text),
    sa.Column("roles", ARRAY(sa.Text), nullable=False, server_default=sa.text("'{}'::text[]")),
    sa.Column("clerk_role", sa.Text),
    # Clerk's updated_at of the membership: an older redelivery never overwrites a newer state
    sa.Column("source_updated_at", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
)
sa.Index(
    "users_by_name",
    users.c.org_id,
    sa.func.lower(sa.func.coalesce(users.c.last_name, "")),
    sa.func.lower(sa.func.coalesce(users.c.first_name, "")),
    users.c.id,
)
# The role filter of the user list (`roles @> ARRAY[role]`).
sa.Index("users_roles", users.c.roles, postgresql_using="gin")

# A Clerk user's profile, whatever org: user.* webhooks carry no org, so the profile and the
# list of orgs the user belongs to live here, and every change fans out to the user's rows in
# `users`. Not a tenant table (no org of its own); only the webhook handlers read it.
user_profiles = sa.Table(
    "user_profiles",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("email", sa.Text),
    sa.Column("first_name", sa.Text),
    sa.Column("last_name", sa.Text),
    sa.Column("org_ids", ARRAY(sa.Text), nullable=False, server_default=sa.text("'{}'::text[]")),
    sa.Column("source_updated_at", sa.BigInteger, nullable=False, server_default="0"),
    # a user.* event filled it: from then on a membership's public_user_data never overwrites it
    sa.Column("has_own_profile", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("deleted", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
)

outbox = outbox_table(metadata)
# Svix message ids already handled, committed with their effect: a redelivery changes nothing.
inbox = inbox_table(metadata)
