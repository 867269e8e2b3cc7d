"""case_counts: the board's counts per (definition, status), kept with every case write;
filled from the cases already there, row-level security

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op
from byte_platform.migrations import enable_row_level_security

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "case_counts",
        sa.Column("org_id", sa.Text, primary_key=True),
        sa.Column("definition_key", sa.Text, primary_key=True),
        sa.Column("status", sa.Text, primary_key=True),
        sa.Column("count", sa.BigInteger, nullable=False),
        sa.CheckConstraint("count >= 0", name="case_counts_not_negative"),
    )
    # Migrations run as the tables' owner, whom FORCE binds to the (unset) org: lifted for the
    # backfill only, inside this migration's transaction. The cases are locked meanwhile so no
    # write lands between the count and the table going live.
    op.execute("LOCK TABLE workflow_executions IN SHARE MODE")
    op.execute("ALTER TABLE workflow_executions NO FORCE ROW LEVEL SECURITY")
    op.execute(
        "INSERT INTO case_counts (org_id, definition_key, status, count) "
        "SELECT org_id, definition_key, status, count(*) FROM workflow_executions "
        "GROUP BY org_id, definition_key, status"
    )
    op.execute("ALTER TABLE workflow_executions FORCE ROW LEVEL SECURITY")
    enable_row_level_security("case_counts")


def downgrade() -> None:
    op.drop_table("case_counts")
