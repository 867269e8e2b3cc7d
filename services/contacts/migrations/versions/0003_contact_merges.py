"""contact_merges: a contact merged into another, kept for the record

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op
from byte_platform.migrations import enable_row_level_security
from sqlalchemy.dialects.postgresql import JSONB, UUID

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "contact_merges",
        sa.Column("org_id", sa.Text, nullable=False),
        sa.Column("from_contact_id", UUID(as_uuid=True), nullable=False),
        sa.Column("into_contact_id", UUID(as_uuid=True), nullable=False),
        sa.Column("merged_contact", JSONB, nullable=False),
        sa.Column("merged_by", sa.Text),
        sa.Column("merged_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("org_id", "from_contact_id"),
    )
    op.create_index("contact_merges_into", "contact_merges", ["org_id", "into_contact_id"])
    enable_row_level_security("contact_merges")


def downgrade() -> None:
    op.drop_table("contact_merges")
