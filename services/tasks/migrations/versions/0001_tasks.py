"""tasks, members projection, outbox, inbox, row-level security

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op
from byte_platform.migrations import create_inbox_v1, create_outbox, enable_row_level_security
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tasks",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("org_id", sa.Text, nullable=False),
        sa.Column("workflow_execution_id", UUID(as_uuid=True)),
        sa.Column("contact_id", UUID(as_uuid=True)),
        sa.Column("assigned_to", sa.Text),
        sa.Column("assigned_role", sa.Text),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("description", sa.Text),
        sa.Column("task_type", sa.Text, nullable=False, server_default="standard"),
        sa.Column("status", sa.Text, nullable=False, server_default="todo"),
        sa.Column("priority", sa.Text, nullable=False, server_default="medium"),
        sa.Column("outcome", sa.Text),
        sa.Column("outcome_comment", sa.Text),
        sa.Column("position", sa.Float(precision=53), nullable=False),
        sa.Column("due_date", sa.DateTime(timezone=True)),
        sa.Column("completed_at", sa.DateTime(timezone=True)),
        sa.Column("created_by_step_id", sa.Text),
        sa.Column("created_by", sa.Text),
        sa.Column("metadata", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.CheckConstraint("task_type IN ('standard', 'approval')", name="tasks_type_valid"),
        sa.CheckConstraint("status IN ('todo', 'in_progress', 'done')", name="tasks_status_valid"),
        sa.CheckConstraint("priority IN ('low', 'medium', 'high')", name="tasks_priority_valid"),
        # done <=> an outcome <=> a completion time; the outcome fits the task type.
        sa.CheckConstraint(
            "(status = 'done') = (outcome IS NOT NULL) AND (status = 'done') = (completed_at IS NOT NULL)",
            name="tasks_done_has_outcome",
        ),
        sa.CheckConstraint(
            "outcome IS NULL OR (task_type = 'standard' AND outcome = 'completed') "
            "OR (task_type = 'approval' AND outcome IN ('approved', 'rejected'))",
            name="tasks_outcome_fits_type",
        ),
        sa.UniqueConstraint(
            "org_id", "workflow_execution_id", "created_by_step_id", name="tasks_org_execution_step_unique"
        ),
    )
    # Keyset pagination: (org, [filter,] sort key, id).
    op.execute("CREATE INDEX tasks_by_created ON tasks (org_id, created_at, id)")
    op.execute("CREATE INDEX tasks_by_updated ON tasks (org_id, updated_at, id)")
    op.execute(
        "CREATE INDEX tasks_by_due ON tasks (org_id, coalesce(due_date, '9999-12-31 00:00:00+00'::timestamptz), id)"
    )
    # "My tasks": assignee=me, newest first.
    op.execute("CREATE INDEX tasks_by_assignee ON tasks (org_id, assigned_to, created_at, id)")
    # "Available for my roles": unclaimed, open, by role.
    op.execute(
        "CREATE INDEX tasks_available ON tasks (org_id, assigned_role, created_at, id) "
        "WHERE assigned_to IS NULL AND status <> 'done'"
    )
    # Kanban columns: (org, status) ordered by position.
    op.execute("CREATE INDEX tasks_kanban ON tasks (org_id, status, position, id)")
    # Per execution is served by the unique constraint's (org_id, workflow_execution_id, ...) prefix.
    op.execute("CREATE INDEX tasks_by_contact ON tasks (org_id, contact_id) WHERE contact_id IS NOT NULL")
    op.execute(
        "CREATE INDEX tasks_open_by_due ON tasks (org_id, due_date) WHERE status <> 'done' AND due_date IS NOT NULL"
    )
    enable_row_level_security("tasks")

    op.create_table(
        "members",
        sa.Column("org_id", sa.Text, primary_key=True),
        sa.Column("user_id", sa.Text, primary_key=True),
        sa.Column("roles", ARRAY(sa.Text), nullable=False, server_default=sa.text("'{}'::text[]")),
        sa.Column("email", sa.Text),
        sa.Column("first_name", sa.Text),
        sa.Column("last_name", sa.Text),
        sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("as_of", sa.DateTime(timezone=True), nullable=False),
    )
    enable_row_level_security("members")
    create_outbox()
    create_inbox_v1()


def downgrade() -> None:
    op.drop_table("processed_messages")
    op.drop_table("outbox")
    op.drop_table("members")
    op.drop_table("tasks")
