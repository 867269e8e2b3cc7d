"""Tables the ingest service owns."""

import sqlalchemy as sa
from byte_platform.inbox import inbox_table
from byte_platform.outbox import outbox_table
from sqlalchemy.dialects.postgresql import BYTEA, JSONB, UUID

metadata = sa.MetaData()

# One row per Formstack form an org receives. Secrets: the URL token and the handshake key are
# only compared, so only their SHA-256 is kept; the HMAC keys must be read back to verify a
# signature, so they are kept encrypted (Fernet, SECRETS_KEY). The API never returns any of them.
formstack_config = sa.Table(
    "formstack_config",
    metadata,
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
FORM_UNIQUE = "formstack_config_form_unique"

# Every delivery that proved itself (signature or handshake key), as received: the raw bytes for
# audit and reprocessing, what they parsed into, and how far they got. A delivery that could
# not be read (oversized, unparsable, wrong content type) is `rejected` and has no submission id.
formstack_submissions = sa.Table(
    "formstack_submissions",
    metadata,
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
    # Formstack may deliver a submission more than once: the first delivery is the submission.
    sa.UniqueConstraint("org_id", "submission_id", name="formstack_submissions_once"),
    sa.CheckConstraint(
        "status IN ('received', 'processed', 'failed', 'rejected')", name="formstack_submissions_status_valid"
    ),
)
SUBMISSION_UNIQUE = "formstack_submissions_once"
sa.Index(
    "formstack_submissions_by_received",
    formstack_submissions.c.org_id,
    formstack_submissions.c.received_at,
    formstack_submissions.c.id,
)

outbox = outbox_table(metadata)
inbox = inbox_table(metadata)
