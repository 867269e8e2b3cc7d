"""workflow definitions, provisioned orgs, outbox, inbox, row-level security

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op
from byte_platform.migrations import create_inbox_v2, create_outbox, enable_row_level_security
from sqlalchemy.dialects.postgresql import JSONB, UUID

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "workflow_definitions",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("org_id", sa.Text, nullable=False),
        sa.Column("definition_key", sa.Text, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("language_version", sa.Integer, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("description", sa.Text, nullable=False, server_default=""),
        sa.Column("phases", JSONB, nullable=False),
        sa.Column("steps", JSONB, nullable=False),
        sa.Column("variables", JSONB, nullable=False, server_default=sa.text("'[]'::jsonb")),
        sa.Column("statuses", JSONB, nullable=False),
        sa.Column("is_active", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("is_latest", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("created_by", sa.Text),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.UniqueConstraint("org_id", "definition_key", "version", name="workflow_definitions_version_unique"),
        sa.CheckConstraint("version >= 1", name="workflow_definitions_version_positive"),
    )
    op.execute(
        "CREATE UNIQUE INDEX workflow_definitions_one_latest ON workflow_definitions (org_id, definition_key) "
        "WHERE is_latest"
    )
    op.execute(
        "CREATE INDEX workflow_definitions_latest_by_created ON workflow_definitions (org_id, created_at, id) "
        "WHERE is_latest"
    )
    op.execute(
        "CREATE INDEX workflow_definitions_latest_by_name ON workflow_definitions (org_id, lower(name), id) "
        "WHERE is_latest"
    )
    enable_row_level_security("workflow_definitions")
    op.create_table(
        "provisioned_orgs",
        sa.Column("org_id", sa.Text, primary_key=True),
        sa.Column("provisioned_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("provisioned_by", sa.Text, nullable=False),
    )
    enable_row_level_security("provisioned_orgs")
    create_outbox()
    create_inbox_v2()


def downgrade() -> None:
    op.drop_table("processed_messages")
    op.drop_table("outbox")
    op.drop_table("provisioned_orgs")
    op.drop_table("workflow_definitions")
