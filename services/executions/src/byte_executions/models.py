"""Tables the executions service owns."""

import sqlalchemy as sa
from byte_platform.inbox import inbox_table
from byte_platform.outbox import outbox_table
from sqlalchemy.dialects.postgresql import JSONB, UUID

metadata = sa.MetaData()

# One row per version of a definition. Versions are immutable: an edit inserts version n+1
# (and deactivates n) in one transaction; `definition_key` is what all versions share.
workflow_definitions = sa.Table(
    "workflow_definitions",
    metadata,
    sa.Column("id", UUID(as_uuid=True), primary_key=True),
    sa.Column("org_id", sa.Text, nullable=False),
    sa.Column("definition_key", sa.Text, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("language_version", sa.Integer, nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("description", sa.Text, nullable=False, server_default=""),
    sa.Column("phases", JSONB, nullable=False),
    sa.Column("steps", JSONB, nullable=False),
    sa.Column("variables", JSONB, nullable=False, server_default=sa.text("'[]'::jsonb")),
    sa.Column("statuses", JSONB, nullable=False),
    sa.Column("is_active", sa.Boolean, nullable=False, server_default=sa.true()),
    # The newest version of its key; exactly one per key (the partial unique index below).
    sa.Column("is_latest", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("created_by", sa.Text),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.UniqueConstraint("org_id", "definition_key", "version", name="workflow_definitions_version_unique"),
    sa.CheckConstraint("version >= 1", name="workflow_definitions_version_positive"),
)
VERSION_UNIQUE = "workflow_definitions_version_unique"
LATEST_UNIQUE = "workflow_definitions_one_latest"
sa.Index(
    LATEST_UNIQUE,
    workflow_definitions.c.org_id,
    workflow_definitions.c.definition_key,
    unique=True,
    postgresql_where=workflow_definitions.c.is_latest,
)
# The list (latest versions only), in either sort, walked by keyset.
sa.Index(
    "workflow_definitions_latest_by_created",
    workflow_definitions.c.org_id,
    workflow_definitions.c.created_at,
    workflow_definitions.c.id,
    postgresql_where=workflow_definitions.c.is_latest,
)
sa.Index(
    "workflow_definitions_latest_by_name",
    workflow_definitions.c.org_id,
    sa.func.lower(workflow_definitions.c.name),
    workflow_definitions.c.id,
    postgresql_where=workflow_definitions.c.is_latest,
)

# Orgs whose default definition was provisioned: the first of the org's creation event and its
# first request inserts the row, and only that one provisions.
provisioned_orgs = sa.Table(
    "provisioned_orgs",
    metadata,
    sa.Column("org_id", sa.Text, primary_key=True),
    sa.Column("provisioned_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.Column("provisioned_by", sa.Text, nullable=False),
)

outbox = outbox_table(metadata)
inbox = inbox_table(metadata)
