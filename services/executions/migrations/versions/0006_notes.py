"""notes on cases, contacts and tasks; task_summaries, the projection of `task.*` events

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op
from byte_platform.migrations import enable_row_level_security
from sqlalchemy.dialects.postgresql import UUID

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "notes",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("org_id", sa.Text, nullable=False),
        sa.Column("entity_type", sa.Text, nullable=False),
        sa.Column("entity_id", UUID(as_uuid=True), nullable=False),
        sa.Column("execution_id", UUID(as_uuid=True)),
        sa.Column("contact_id", UUID(as_uuid=True)),
        sa.Column("task_id", UUID(as_uuid=True)),
        sa.Column("author_id", sa.Text, nullable=False),
        sa.Column("content", sa.Text, nullable=False),
        sa.Column("is_internal", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.CheckConstraint("entity_type IN ('case', 'contact', 'task')", name="notes_entity_type_valid"),
    )
    op.execute("CREATE INDEX notes_by_entity ON notes (org_id, entity_type, entity_id, created_at, id)")
    enable_row_level_security("notes")
    op.create_table(
        "task_summaries",
        sa.Column("org_id", sa.Text, primary_key=True),
        sa.Column("task_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("execution_id", UUID(as_uuid=True)),
        sa.Column("contact_id", UUID(as_uuid=True)),
        sa.Column("title", sa.Text),
        sa.Column("status", sa.Text),
        sa.Column("assigned_to", sa.Text),
        sa.Column("assigned_role", sa.Text),
        sa.Column("due_date", sa.DateTime(timezone=True)),
        sa.Column("priority", sa.Text),
        sa.Column("step_id", sa.Text),
        sa.Column("created_at", sa.DateTime(timezone=True)),
        sa.Column("updated_at", sa.DateTime(timezone=True)),
        sa.Column("as_of", sa.DateTime(timezone=True)),
        sa.Column("deleted", sa.Boolean, nullable=False, server_default=sa.false()),
    )
    op.execute(
        "CREATE INDEX task_summaries_open_by_assignee ON task_summaries (org_id, assigned_to, due_date, task_id) "
        "WHERE status <> 'done' AND NOT deleted"
    )
    enable_row_level_security("task_summaries")


def downgrade() -> None:
    op.drop_table("task_summaries")
    op.drop_table("notes")
