"""cases (workflow_executions) and the contact summaries projection, row-level security

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op
from byte_platform.migrations import enable_row_level_security
from sqlalchemy.dialects.postgresql import JSONB, UUID

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.create_table(
        "workflow_executions",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("org_id", sa.Text, nullable=False),
        sa.Column("definition_id", UUID(as_uuid=True), sa.ForeignKey("workflow_definitions.id"), nullable=False),
        sa.Column("definition_key", sa.Text, nullable=False),
        sa.Column("definition_version", sa.Integer, nullable=False),
        sa.Column("contact_id", UUID(as_uuid=True), nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("run_state", sa.Text, nullable=False, server_default="running"),
        sa.Column("current_step_id", sa.Text),
        sa.Column("current_phase_id", sa.Text),
        sa.Column("step_entered_at", sa.DateTime(timezone=True)),
        sa.Column("waiting_for", sa.Text),
        sa.Column("pending_status", sa.Text),
        sa.Column("pending_request_id", UUID(as_uuid=True)),
        sa.Column("pending_requested_at", sa.DateTime(timezone=True)),
        sa.Column("cancel_request_id", UUID(as_uuid=True)),
        sa.Column("cancel_requested_at", sa.DateTime(timezone=True)),
        sa.Column("failure", sa.Text),
        sa.Column("updated_by_temporal", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("source", sa.Text, nullable=False, server_default="manual"),
        sa.Column("source_id", sa.Text),
        sa.Column("temporal_workflow_id", sa.Text, nullable=False),
        sa.Column("temporal_run_id", sa.Text),
        sa.Column("variables", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
        sa.Column("metadata", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("completed_at", sa.DateTime(timezone=True)),
        sa.Column("created_by", sa.Text),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.UniqueConstraint("org_id", "source", "source_id", name="workflow_executions_source_unique"),
        sa.CheckConstraint("source IN ('manual', 'formstack', 'api')", name="workflow_executions_source_valid"),
        sa.CheckConstraint(
            "run_state IN ('running', 'completed', 'failed', 'cancelled')", name="workflow_executions_run_state_valid"
        ),
    )
    op.execute("CREATE INDEX workflow_executions_by_status ON workflow_executions (org_id, status, started_at, id)")
    op.execute("CREATE INDEX workflow_executions_by_started ON workflow_executions (org_id, started_at, id)")
    op.execute("CREATE INDEX workflow_executions_by_updated ON workflow_executions (org_id, updated_at, id)")
    op.execute("CREATE INDEX workflow_executions_by_contact ON workflow_executions (org_id, contact_id)")
    op.execute(
        "CREATE INDEX workflow_executions_by_definition ON workflow_executions (org_id, definition_key, started_at)"
    )
    enable_row_level_security("workflow_executions")
    op.create_table(
        "contact_summaries",
        sa.Column("org_id", sa.Text, primary_key=True),
        sa.Column("contact_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("first_name", sa.Text),
        sa.Column("last_name", sa.Text),
        sa.Column("email", sa.Text),
        sa.Column("phone", sa.Text),
        sa.Column("as_of", sa.DateTime(timezone=True)),
        sa.Column("deleted", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("deleted_at", sa.DateTime(timezone=True)),
        sa.Column(
            "search_text",
            sa.Text,
            sa.Computed(
                "lower(coalesce(first_name, '') || ' ' || coalesce(last_name, '') || ' ' || coalesce(email, ''))",
                persisted=True,
            ),
        ),
    )
    op.execute("CREATE INDEX contact_summaries_search ON contact_summaries USING gin (search_text gin_trgm_ops)")
    enable_row_level_security("contact_summaries")


def downgrade() -> None:
    op.drop_table("contact_summaries")
    op.drop_table("workflow_executions")
