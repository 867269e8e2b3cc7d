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
    # the how-many-th time the case entered that step (a loop re-enters it): one task each time
    sa.Column("created_by_iteration", sa.Integer),
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
)

# One task per workflow step of one execution and each time the case entered it: what makes
# task requests idempotent. Its (org_id, workflow_execution_id, ...) prefix also serves "the
# tasks of one execution".
STEP_UNIQUE = "tasks_org_execution_step_iteration_unique"
tasks.append_constraint(
    sa.UniqueConstraint(
        tasks.c.org_id,
        tasks.c.workflow_execution_id,
        tasks.c.created_by_step_id,
        tasks.c.created_by_iteration,
        name=STEP_UNIQUE,
    )
)
# Keyset pagination: (org, [filter,] sort key, id).
sa.Index("tasks_by_created", tasks.c.org_id, tasks.c.created_at, tasks.c.id)
sa.Index("tasks_by_updated", tasks.c.org_id, tasks.c.updated_at, tasks.c.id)
sa.Index(
    "tasks_by_due",
    tasks.c.org_id,
    sa.func.coalesce(tasks.c.due_date, sa.text("'9999-12-31 00:00:00+00'::timestamptz")),
    tasks.c.id,
)
# "My tasks": assignee=me, newest first.
sa.Index("tasks_by_assignee", tasks.c.org_id, tasks.c.assigned_to, tasks.c.created_at, tasks.c.id)
# "Available for my roles": unclaimed, open, by role.
sa.Index(
    "tasks_available",
    tasks.c.org_id,
    tasks.c.assigned_role,
    tasks.c.created_at,
    tasks.c.id,
    postgresql_where=sa.text("assigned_to IS NULL AND status <> 'done'"),
)
# Kanban columns: (org, status) ordered by position.
sa.Index("tasks_kanban", tasks.c.org_id, tasks.c.status, tasks.c.position, tasks.c.id)
sa.Index("tasks_by_contact", tasks.c.org_id, tasks.c.contact_id, postgresql_where=sa.text("contact_id IS NOT NULL"))
sa.Index(
    "tasks_open_by_due",
    tasks.c.org_id,
    tasks.c.due_date,
    postgresql_where=sa.text("status <> 'done' AND due_date IS NOT NULL"),
)

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
