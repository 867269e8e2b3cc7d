"""inbox: contacts consumes intake submissions

Revision ID: 0002
Revises: 0001
"""

from alembic import op
from byte_platform.migrations import create_inbox_v2

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_inbox_v2()


def downgrade() -> None:
    op.drop_table("processed_messages")
