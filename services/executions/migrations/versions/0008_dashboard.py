"""Dashboard projections: cases opened and closed per day (kept by a trigger on the cases), and
the spans a case spent in each workflow step and each status (kept from the workflow's
events), with row-level security; filled from the cases already there.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op
from byte_platform.migrations import enable_row_level_security
from sqlalchemy.dialects.postgresql import UUID

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

# Every write of a case, whatever its path (a handler, a bulk load, a backfill), shifts the day
# rows in its own transaction, so the per-day counts cannot drift from the cases. Days are UTC
# dates. A negative shift updates (the row exists: the case being counted out was counted in).
SHIFT_FUNCTION = """
CREATE FUNCTION case_days_shift(p_org text, p_key text, p_day date, p_opened int, p_closed int)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF p_day IS NULL OR (p_opened = 0 AND p_closed = 0) THEN
        RETURN;
    END IF;
    IF p_opened >= 0 AND p_closed >= 0 THEN
        INSERT INTO case_days (org_id, day, definition_key, opened, closed)
        VALUES (p_org, p_day, p_key, p_opened, p_closed)
        ON CONFLICT (org_id, day, definition_key)
        DO UPDATE SET opened = case_days.opened + EXCLUDED.opened, closed = case_days.closed + EXCLUDED.closed;
    ELSE
        UPDATE case_days SET opened = opened + p_opened, closed = closed + p_closed
        WHERE org_id = p_org AND day = p_day AND definition_key = p_key;
    END IF;
END $$;
"""
TRIGGER_FUNCTION = """
CREATE FUNCTION case_days_keep() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM case_days_shift(OLD.org_id, OLD.definition_key, (OLD.started_at AT TIME ZONE 'UTC')::date, -1, 0);
        PERFORM case_days_shift(OLD.org_id, OLD.definition_key, (OLD.completed_at AT TIME ZONE 'UTC')::date, 0, -1);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        PERFORM case_days_shift(NEW.org_id, NEW.definition_key, (NEW.started_at AT TIME ZONE 'UTC')::date, 1, 0);
        PERFORM case_days_shift(NEW.org_id, NEW.definition_key, (NEW.completed_at AT TIME ZONE 'UTC')::date, 0, 1);
    END IF;
    RETURN NULL;
END $$;
"""
TRIGGERS = (
    """
CREATE TRIGGER case_days_on_insert_delete AFTER INSERT OR DELETE ON workflow_executions
    FOR EACH ROW EXECUTE FUNCTION case_days_keep()
""",
    """
CREATE TRIGGER case_days_on_dates AFTER UPDATE OF started_at, completed_at, definition_key ON workflow_executions
    FOR EACH ROW WHEN (OLD.started_at IS DISTINCT FROM NEW.started_at
                       OR OLD.completed_at IS DISTINCT FROM NEW.completed_at
                       OR OLD.definition_key IS DISTINCT FROM NEW.definition_key)
    EXECUTE FUNCTION case_days_keep()
""",
)


def upgrade() -> None:
    op.create_table(
        "case_days",
        sa.Column("org_id", sa.Text, primary_key=True),
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("definition_key", sa.Text, primary_key=True),
        sa.Column("opened", sa.BigInteger, nullable=False),
        sa.Column("closed", sa.BigInteger, nullable=False),
        sa.CheckConstraint("opened >= 0 AND closed >= 0", name="case_days_not_negative"),
    )
    op.create_table(
        "case_step_spans",
        sa.Column("org_id", sa.Text, primary_key=True),
        sa.Column("execution_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("entered_at", sa.DateTime(timezone=True), primary_key=True),
        sa.Column("step_id", sa.Text, primary_key=True),
        sa.Column("phase_id", sa.Text),
        sa.Column("waiting_for", sa.Text),
        sa.Column("definition_key", sa.Text, nullable=False),
        sa.Column("definition_version", sa.Integer, nullable=False),
        sa.Column("left_at", sa.DateTime(timezone=True)),
    )
    op.create_index(
        "case_step_spans_by_version",
        "case_step_spans",
        ["org_id", "definition_key", "definition_version", "left_at"],
    )
    op.create_index(
        "case_step_spans_open",
        "case_step_spans",
        ["org_id", "entered_at"],
        postgresql_where=sa.text("left_at IS NULL"),
    )
    op.create_table(
        "case_status_spans",
        sa.Column("org_id", sa.Text, primary_key=True),
        sa.Column("execution_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("entered_at", sa.DateTime(timezone=True), primary_key=True),
        sa.Column("status", sa.Text, primary_key=True),
        sa.Column("definition_key", sa.Text, nullable=False),
        sa.Column("definition_version", sa.Integer, nullable=False),
        sa.Column("left_at", sa.DateTime(timezone=True)),
    )
    op.create_index(
        "case_status_spans_by_version",
        "case_status_spans",
        ["org_id", "definition_key", "definition_version", "left_at"],
    )
    op.create_index("case_status_spans_by_status", "case_status_spans", ["org_id", "status", "entered_at"])
    op.execute(SHIFT_FUNCTION)
    op.execute(TRIGGER_FUNCTION)
    # As in 0003: lifted for the backfill only, the cases locked so no write lands in between.
    op.execute("LOCK TABLE workflow_executions IN SHARE MODE")
    for trigger in TRIGGERS:
        op.execute(trigger)
    op.execute("ALTER TABLE workflow_executions NO FORCE ROW LEVEL SECURITY")
    op.execute(
        "INSERT INTO case_days (org_id, day, definition_key, opened, closed) "
        "SELECT org_id, day, definition_key, sum(opened), sum(closed) FROM ("
        "  SELECT org_id, (started_at AT TIME ZONE 'UTC')::date AS day, definition_key, 1 AS opened, 0 AS closed"
        "  FROM workflow_executions"
        "  UNION ALL"
        "  SELECT org_id, (completed_at AT TIME ZONE 'UTC')::date, definition_key, 0, 1"
        "  FROM workflow_executions WHERE completed_at IS NOT NULL"
        ") AS d GROUP BY org_id, day, definition_key"
    )
    # What is known of the cases already there: their current step since it was entered and
    # their current status (since the case opened: its earlier statuses were not kept).
    op.execute(
        "INSERT INTO case_step_spans (org_id, execution_id, entered_at, step_id, phase_id, waiting_for,"
        " definition_key, definition_version, left_at) "
        "SELECT org_id, id, step_entered_at, current_step_id, current_phase_id, waiting_for,"
        " definition_key, definition_version, completed_at FROM workflow_executions"
        " WHERE current_step_id IS NOT NULL AND step_entered_at IS NOT NULL"
    )
    op.execute(
        "INSERT INTO case_status_spans (org_id, execution_id, entered_at, status,"
        " definition_key, definition_version, left_at) "
        "SELECT org_id, id, started_at, status, definition_key, definition_version, completed_at"
        " FROM workflow_executions"
    )
    op.execute("ALTER TABLE workflow_executions FORCE ROW LEVEL SECURITY")
    for table in ("case_days", "case_step_spans", "case_status_spans"):
        enable_row_level_security(table)


def downgrade() -> None:
    op.execute("DROP TRIGGER case_days_on_dates ON workflow_executions")
    op.execute("DROP TRIGGER case_days_on_insert_delete ON workflow_executions")
    op.execute("DROP FUNCTION case_days_keep()")
    op.execute("DROP FUNCTION case_days_shift(text, text, date, int, int)")
    op.drop_table("case_status_spans")
    op.drop_table("case_step_spans")
    op.drop_table("case_days")
