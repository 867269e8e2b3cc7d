"""formstack_config, formstack_submissions, outbox, inbox, row-level security

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op
from byte_platform.migrations import create_inbox_v2, create_outbox, enable_row_level_security
from sqlalchemy.dialects.postgresql import BYTEA, JSONB, UUID

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "formstack_config",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("org_id", sa.Text, nullable=False),
        sa.Column("form_id", sa.Text, nullable=False),
        sa.Column("name", sa.Text, nullable=False, server_default=""),
        sa.Column("token_digest", sa.Text, nullable=False),
        sa.Column("hmac_key_encrypted", sa.Text),
        sa.Column("previous_hmac_key_encrypted", sa.Text),
        sa.Column("previous_hmac_key_expires_at", sa.DateTime(timezone=True)),
        sa.Column("handshake_key_digest", sa.Text),
        sa.Column("signature_header", sa.Text, nullable=False, server_default="X-FS-Signature"),
        sa.Column("field_mappings", JSONB, nullable=False, server_default=sa.text("'[]'::jsonb")),
        sa.Column("default_definition_id", UUID(as_uuid=True)),
        sa.Column("is_active", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.UniqueConstraint("org_id", "form_id", name="formstack_config_form_unique"),
        sa.UniqueConstraint("token_digest", name="formstack_config_token_unique"),
        sa.CheckConstraint(
            "hmac_key_encrypted IS NOT NULL OR handshake_key_digest IS NOT NULL",
            name="formstack_config_verifiable",
        ),
    )
    enable_row_level_security("formstack_config")
    op.create_table(
        "formstack_submissions",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("org_id", sa.Text, nullable=False),
        sa.Column("config_id", UUID(as_uuid=True), sa.ForeignKey("formstack_config.id"), nullable=False),
        sa.Column("form_id", sa.Text, nullable=False),
        sa.Column("submission_id", sa.Text),
        sa.Column("raw_body", BYTEA, nullable=False),
        sa.Column("raw_truncated", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("content_type", sa.Text, nullable=False, server_default=""),
        sa.Column("payload", JSONB),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("error", sa.Text),
        sa.Column("contact_id", UUID(as_uuid=True)),
        sa.Column("execution_id", UUID(as_uuid=True)),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="1"),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("processed_at", sa.DateTime(timezone=True)),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.UniqueConstraint("org_id", "submission_id", name="formstack_submissions_once"),
        sa.CheckConstraint(
            "status IN ('received', 'processed', 'failed', 'rejected')", name="formstack_submissions_status_valid"
        ),
    )
    op.execute("CREATE INDEX formstack_submissions_by_received ON formstack_submissions (org_id, received_at, id)")
    enable_row_level_security("formstack_submissions")
    create_outbox()
    create_inbox_v2()


def downgrade() -> None:
    op.drop_table("processed_messages")
    op.drop_table("outbox")
    op.drop_table("formstack_submissions")
    op.drop_table("formstack_config")
