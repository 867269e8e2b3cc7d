"""inbox keys are any text (envelope ids, Svix ids, Formstack UniqueIDs)

Revision ID: 0002
Revises: 0001
"""

from alembic import op
from byte_platform.migrations import inbox_v2_any_key
from sqlalchemy.dialects.postgresql import UUID

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    inbox_v2_any_key()


def downgrade() -> None:
    op.drop_index("processed_messages_by_age", table_name="processed_messages")
    op.alter_column(
        "processed_messages",
        "message_id",
        new_column_name="event_id",
        type_=UUID(as_uuid=True),
        postgresql_using="message_id::uuid",
    )
