"""Tables the contacts service owns."""

import sqlalchemy as sa
from byte_platform.inbox import inbox_table
from byte_platform.outbox import outbox_table
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID

metadata = sa.MetaData()

contacts = sa.Table(
    "contacts",
    metadata,
    sa.Column("id", UUID(as_uuid=True), primary_key=True),
    sa.Column("org_id", sa.Text, nullable=False),
    sa.Column("first_name", sa.Text, nullable=False),
    sa.Column("last_name", sa.Text, nullable=False, server_default=""),
    sa.Column("email", sa.Text),
    sa.Column("phone", sa.Text),
    sa.Column("company", sa.Text),
    sa.Column("role", sa.Text),
    sa.Column("status", sa.Text, nullable=False, server_default="active"),
    sa.Column("avatar_url", sa.Text),
    sa.Column("last_contacted_at", sa.DateTime(timezone=True)),
    sa.Column("address_line_1", sa.Text),
    sa.Column("address_line_2", sa.Text),
    sa.Column("city", sa.Text),
    sa.Column("state", sa.Text),
    sa.Column("zip", sa.Text),
    sa.Column("metadata", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
    sa.Column("tags", ARRAY(sa.Text), nullable=False, server_default=sa.text("'{}'::text[]")),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    # Lower-cased haystack for substring search; a trigram index serves LIKE '%q%' on it.
    sa.Column(
        "search_text",
        sa.Text,
        sa.Computed(
            "lower(first_name || ' ' || last_name || ' ' || coalesce(email, '') || ' ' || coalesce(phone, ''))",
            persisted=True,
        ),
    ),
    sa.CheckConstraint("status IN ('active', 'inactive', 'lead')", name="contacts_status_valid"),
)

# One contact per email within an org, whatever the case: what upsert-by-email matches on.
EMAIL_UNIQUE_INDEX = "contacts_org_email_unique"
sa.Index(
    EMAIL_UNIQUE_INDEX,
    contacts.c.org_id,
    sa.func.lower(contacts.c.email),
    unique=True,
    postgresql_where=contacts.c.email.isnot(None),
)
# Keyset pagination: one index per sort, (org, sort key, id), walked in either direction.
sa.Index("contacts_by_created", contacts.c.org_id, contacts.c.created_at, contacts.c.id)
sa.Index("contacts_by_updated", contacts.c.org_id, contacts.c.updated_at, contacts.c.id)
sa.Index("contacts_by_last_name", contacts.c.org_id, sa.func.lower(contacts.c.last_name), contacts.c.id)
sa.Index("contacts_by_first_name", contacts.c.org_id, sa.func.lower(contacts.c.first_name), contacts.c.id)
sa.Index(
    "contacts_search", contacts.c.search_text, postgresql_using="gin", postgresql_ops={"search_text": "gin_trgm_ops"}
)
sa.Index("contacts_tags", contacts.c.tags, postgresql_using="gin")

# A contact merged into another (POST /v1/contacts/{id}/merge): the merged contact's row is
# gone (its email free again); this keeps what it was and where it went, so that a merge is
# answered for once and a later request naming it says where to look.
contact_merges = sa.Table(
    "contact_merges",
    metadata,
    sa.Column("org_id", sa.Text, primary_key=True),
    sa.Column("from_contact_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("into_contact_id", UUID(as_uuid=True), nullable=False),
    sa.Column("merged_contact", JSONB, nullable=False),
    sa.Column("merged_by", sa.Text),
    sa.Column("merged_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
)
sa.Index("contact_merges_into", contact_merges.c.org_id, contact_merges.c.into_contact_id)

outbox = outbox_table(metadata)
inbox = inbox_table(metadata)
