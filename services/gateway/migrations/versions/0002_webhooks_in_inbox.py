"""Clerk deliveries are deduplicated by the shared inbox (processed_messages), not a table of their own

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op
from byte_platform.migrations import create_inbox_v2

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

CONSUMER = "gateway.clerk-webhooks"


def upgrade() -> None:
    create_inbox_v2()
    op.execute(
        "INSERT INTO processed_messages (consumer, message_id, processed_at) "
        f"SELECT '{CONSUMER}', svix_id, processed_at FROM processed_webhooks"
    )
    op.drop_table("processed_webhooks")


def downgrade() -> None:
    op.create_table(
        "processed_webhooks",
        sa.Column("svix_id", sa.Text, primary_key=True),
        sa.Column("event_type", sa.Text, nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )
    op.execute(
        "INSERT INTO processed_webhooks (svix_id, event_type, processed_at) "
        f"SELECT message_id, 'unknown', processed_at FROM processed_messages WHERE consumer = '{CONSUMER}'"
    )
    op.drop_table("processed_messages")
