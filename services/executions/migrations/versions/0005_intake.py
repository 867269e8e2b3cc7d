"""intake_submissions: a Formstack submission's two halves, joined to open its case once; the
contact summaries keep the zip (possible duplicates)

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op
from byte_platform.migrations import enable_row_level_security
from sqlalchemy.dialects.postgresql import JSONB, UUID

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "intake_submissions",
        sa.Column("org_id", sa.Text, primary_key=True),
        sa.Column("submission_id", sa.Text, primary_key=True),
        sa.Column("received", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("form_id", sa.Text),
        sa.Column("definition_id", UUID(as_uuid=True)),
        sa.Column("variables", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
        sa.Column("contact_id", UUID(as_uuid=True)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )
    enable_row_level_security("intake_submissions")
    # possible duplicates compare first and last name with the same zip
    op.add_column("contact_summaries", sa.Column("zip", sa.Text))


def downgrade() -> None:
    op.drop_column("contact_summaries", "zip")
    op.drop_table("intake_submissions")
