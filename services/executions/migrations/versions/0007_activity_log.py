"""activity_log: the append-only audit trail of every domain event

The service's role owns its tables (it runs the migrations), so it could undo a bare REVOKE:
the trigger refuses UPDATE, DELETE and TRUNCATE whoever asks, and the revoke makes the refusal
a permission error where the role's privileges are checked (not for a superuser).

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op
from byte_platform.migrations import enable_row_level_security
from sqlalchemy.dialects.postgresql import JSONB, UUID

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

LINKS = ("execution_id", "contact_id", "task_id", "submission_id")


def upgrade() -> None:
    op.create_table(
        "activity_log",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("org_id", sa.Text, nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("actor_type", sa.Text, nullable=False),
        sa.Column("action", sa.Text, nullable=False),
        sa.Column("entity_type", sa.Text, nullable=False),
        sa.Column("entity_id", sa.Text, nullable=False),
        sa.Column("execution_id", UUID(as_uuid=True)),
        sa.Column("contact_id", UUID(as_uuid=True)),
        sa.Column("task_id", UUID(as_uuid=True)),
        sa.Column("submission_id", sa.Text),
        sa.Column("details", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
        sa.Column("correlation_id", sa.Text),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.CheckConstraint("actor_type IN ('user', 'system')", name="activity_log_actor_type_valid"),
    )
    op.execute("CREATE INDEX activity_log_feed ON activity_log (org_id, occurred_at, id)")
    for link in LINKS:
        op.execute(
            f"CREATE INDEX activity_log_by_{link} ON activity_log (org_id, {link}, occurred_at, id) "
            f"WHERE {link} IS NOT NULL"
        )
    for column in ("actor", "action"):
        op.execute(f"CREATE INDEX activity_log_by_{column} ON activity_log (org_id, {column}, occurred_at, id)")
    enable_row_level_security("activity_log")
    op.execute(
        """
        CREATE FUNCTION activity_log_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'activity_log is append-only: % refused', TG_OP
                USING ERRCODE = 'insufficient_privilege';
        END
        $$
        """
    )
    op.execute(
        "CREATE TRIGGER activity_log_no_change BEFORE UPDATE OR DELETE ON activity_log "
        "FOR EACH ROW EXECUTE FUNCTION activity_log_is_append_only()"
    )
    op.execute(
        "CREATE TRIGGER activity_log_no_truncate BEFORE TRUNCATE ON activity_log "
        "FOR EACH STATEMENT EXECUTE FUNCTION activity_log_is_append_only()"
    )
    op.execute("REVOKE UPDATE, DELETE, TRUNCATE ON activity_log FROM PUBLIC")
    op.execute("REVOKE UPDATE, DELETE, TRUNCATE ON activity_log FROM CURRENT_USER")


def downgrade() -> None:
    op.drop_table("activity_log")
    op.execute("DROP FUNCTION activity_log_is_append_only()")
