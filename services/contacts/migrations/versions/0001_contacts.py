"""contacts, outbox, row-level security

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op
from byte_platform.migrations import create_outbox, enable_row_level_security
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.create_table(
        "contacts",
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
    op.execute(
        "CREATE UNIQUE INDEX contacts_org_email_unique ON contacts (org_id, lower(email)) WHERE email IS NOT NULL"
    )
    # Keyset pagination: one index per sort, (org, sort key, id), walked in either direction.
    op.execute("CREATE INDEX contacts_by_created ON contacts (org_id, created_at, id)")
    op.execute("CREATE INDEX contacts_by_updated ON contacts (org_id, updated_at, id)")
    op.execute("CREATE INDEX contacts_by_last_name ON contacts (org_id, lower(last_name), id)")
    op.execute("CREATE INDEX contacts_by_first_name ON contacts (org_id, lower(first_name), id)")
    op.execute("CREATE INDEX contacts_search ON contacts USING gin (search_text gin_trgm_ops)")
    op.execute("CREATE INDEX contacts_tags ON contacts USING gin (tags)")
    enable_row_level_security("contacts")
    create_outbox()


def downgrade() -> None:
    op.drop_table("outbox")
    op.drop_table("contacts")
