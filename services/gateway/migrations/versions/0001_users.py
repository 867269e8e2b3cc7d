"""users (per org, row-level security), user profiles, processed webhooks, outbox

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op
from byte_platform.migrations import create_outbox, enable_row_level_security
from sqlalchemy.dialects.postgresql import ARRAY

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("org_id", sa.Text, primary_key=True),
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("email", sa.Text),
        sa.Column("first_name", sa.Text),
        sa.Column("last_name", sa.Text),
        sa.Column("roles", ARRAY(sa.Text), nullable=False, server_default=sa.text("'{}'::text[]")),
        sa.Column("clerk_role", sa.Text),
        sa.Column("source_updated_at", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )
    op.execute(
        "CREATE INDEX users_by_name ON users "
        "(org_id, lower(coalesce(last_name, '')), lower(coalesce(first_name, '')), id)"
    )
    op.execute("CREATE INDEX users_roles ON users USING gin (roles)")
    enable_row_level_security("users")
    op.create_table(
        "user_profiles",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("email", sa.Text),
        sa.Column("first_name", sa.Text),
        sa.Column("last_name", sa.Text),
        sa.Column("org_ids", ARRAY(sa.Text), nullable=False, server_default=sa.text("'{}'::text[]")),
        sa.Column("source_updated_at", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("deleted", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )
    op.create_table(
        "processed_webhooks",
        sa.Column("svix_id", sa.Text, primary_key=True),
        sa.Column("event_type", sa.Text, nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )
    create_outbox()


def downgrade() -> None:
    op.drop_table("outbox")
    op.drop_table("processed_webhooks")
    op.drop_table("user_profiles")
    op.drop_table("users")
