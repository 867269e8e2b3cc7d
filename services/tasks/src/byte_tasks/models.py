"""Tables the tasks service owns: `tasks`, the `members` projection of the gateway's identity
events, and the plumbing (`outbox`, `processed_messages`)."""

import sqlalchemy as sa
from byte_platform.inbox import inbox_table
from byte_platform.outbox import outbox_table
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID

metadata = sa.MetaData()

tasks = sa.Table(
    "tasks",
    metadata,
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
)

# One task per workflow step of one execution: what makes task requests idempotent.
STEP_UNIQUE = "tasks_org_execution_step_unique"

members = sa.Table(
    "members",
    metadata,
    sa.Column("org_id", sa.Text, primary_key=True),
    sa.Column("user_id", sa.Text, primary_key=True),
    sa.Column("roles", ARRAY(sa.Text), nullable=False, server_default=sa.text("'{}'::text[]")),
    sa.Column("email", sa.Text),
    sa.Column("first_name", sa.Text),
    sa.Column("last_name", sa.Text),
    # A removed member stays as a tombstone, so a late, older event cannot bring them back.
    sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
    # occurred_at of the identity event that last changed the row (last writer wins by event time).
    sa.Column("as_of", sa.DateTime(timezone=True), nullable=False),
)

outbox = outbox_table(metadata)
inbox = inbox_table(metadata)
