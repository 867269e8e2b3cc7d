"""a workflow task names the iteration of its step: one task per (org, execution, step, iteration)

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("tasks", sa.Column("created_by_iteration", sa.Integer))
    # every workflow task so far came from a step's first (and only) entry
    op.execute("UPDATE tasks SET created_by_iteration = 1 WHERE created_by_step_id IS NOT NULL")
    op.drop_constraint("tasks_org_execution_step_unique", "tasks", type_="unique")
    op.create_unique_constraint(
        "tasks_org_execution_step_iteration_unique",
        "tasks",
        ["org_id", "workflow_execution_id", "created_by_step_id", "created_by_iteration"],
    )


def downgrade() -> None:
    op.drop_constraint("tasks_org_execution_step_iteration_unique", "tasks", type_="unique")
    op.execute("DELETE FROM tasks WHERE created_by_iteration > 1")
    op.create_unique_constraint(
        "tasks_org_execution_step_unique", "tasks", ["org_id", "workflow_execution_id", "created_by_step_id"]
    )
    op.drop_column("tasks", "created_by_iteration")
