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
    # the org's name as its identity events last said (`org.name` in its cases' templates)
    sa.Column("name", sa.Text),
)

# A case: one contact going through one definition version, frozen when it opened. The
# workflow (Temporal) is authoritative for where a case stands: `status`, `current_*` and
# `run_state` change only when its events say so; a manual change waits in `pending_*`.
workflow_executions = sa.Table(
    "workflow_executions",
    metadata,
    sa.Column("id", UUID(as_uuid=True), primary_key=True),
    sa.Column("org_id", sa.Text, nullable=False),
    sa.Column("definition_id", UUID(as_uuid=True), sa.ForeignKey("workflow_definitions.id"), nullable=False),
    sa.Column("definition_key", sa.Text, nullable=False),
    sa.Column("definition_version", sa.Integer, nullable=False),
    sa.Column("contact_id", UUID(as_uuid=True), nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("run_state", sa.Text, nullable=False, server_default="running"),
    sa.Column("current_step_id", sa.Text),
    sa.Column("current_phase_id", sa.Text),
    sa.Column("step_entered_at", sa.DateTime(timezone=True)),
    sa.Column("waiting_for", sa.Text),
    sa.Column("pending_status", sa.Text),
    sa.Column("pending_request_id", UUID(as_uuid=True)),
    sa.Column("pending_requested_at", sa.DateTime(timezone=True)),
    sa.Column("cancel_request_id", UUID(as_uuid=True)),
    sa.Column("cancel_requested_at", sa.DateTime(timezone=True)),
    sa.Column("failure", sa.Text),
    sa.Column("updated_by_temporal", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("source", sa.Text, nullable=False, server_default="manual"),
    sa.Column("source_id", sa.Text),
    sa.Column("temporal_workflow_id", sa.Text, nullable=False),
    sa.Column("temporal_run_id", sa.Text),
    sa.Column("variables", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
    sa.Column("metadata", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.Column("completed_at", sa.DateTime(timezone=True)),
    sa.Column("created_by", sa.Text),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    # One case per submission (or other source id), however often it is asked for.
    sa.UniqueConstraint("org_id", "source", "source_id", name="workflow_executions_source_unique"),
    sa.CheckConstraint("source IN ('manual', 'formstack', 'api')", name="workflow_executions_source_valid"),
    sa.CheckConstraint(
        "run_state IN ('running', 'completed', 'failed', 'cancelled')", name="workflow_executions_run_state_valid"
    ),
)
SOURCE_UNIQUE = "workflow_executions_source_unique"
# Keyset pagination, (org, sort key, id); the board and the status filter walk the first.
sa.Index(
    "workflow_executions_by_status",
    workflow_executions.c.org_id,
    workflow_executions.c.status,
    workflow_executions.c.started_at,
    workflow_executions.c.id,
)
sa.Index(
    "workflow_executions_by_started",
    workflow_executions.c.org_id,
    workflow_executions.c.started_at,
    workflow_executions.c.id,
)
sa.Index(
    "workflow_executions_by_updated",
    workflow_executions.c.org_id,
    workflow_executions.c.updated_at,
    workflow_executions.c.id,
)
sa.Index("workflow_executions_by_contact", workflow_executions.c.org_id, workflow_executions.c.contact_id)
sa.Index(
    "workflow_executions_by_definition",
    workflow_executions.c.org_id,
    workflow_executions.c.definition_key,
    workflow_executions.c.started_at,
)

# How many cases of each definition stand in each status, per org: what the board counts,
# without scanning the cases. Every case write that changes a count (a case opened, its status
# confirmed or ended, a case deleted) shifts it in the same transaction (`handlers.cases.shift_counts`).
case_counts = sa.Table(
    "case_counts",
    metadata,
    sa.Column("org_id", sa.Text, primary_key=True),
    sa.Column("definition_key", sa.Text, primary_key=True),
    sa.Column("status", sa.Text, primary_key=True),
    sa.Column("count", sa.BigInteger, nullable=False),
    sa.CheckConstraint("count >= 0", name="case_counts_not_negative"),
)

# Cases opened and closed per UTC day, per definition: the dashboard's chart over a date range
# reads a row a day, however many cases. Kept by a trigger on `workflow_executions` (migration
# 0008), so that every write of a case, bulk loads included, keeps it.
case_days = sa.Table(
    "case_days",
    metadata,
    sa.Column("org_id", sa.Text, primary_key=True),
    sa.Column("day", sa.Date, primary_key=True),
    sa.Column("definition_key", sa.Text, primary_key=True),
    sa.Column("opened", sa.BigInteger, nullable=False),
    sa.Column("closed", sa.BigInteger, nullable=False),
    sa.CheckConstraint("opened >= 0 AND closed >= 0", name="case_days_not_negative"),
)

# Where cases wait: a span per step a case entered (`workflow.step_entered`) and per status it
# stood in (opened, `execution.status_changed`, its end), keyed by when it began, so that a
# redelivered event adds nothing. A span ends where the case's next one begins, or when the case
# ended: `left_at` is recomputed over the case's spans after every event (handlers/spans.py), so
# events arriving out of order end with the same spans. NULL `left_at`: the case is there now.
case_step_spans = sa.Table(
    "case_step_spans",
    metadata,
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
sa.Index(
    "case_step_spans_by_version",
    case_step_spans.c.org_id,
    case_step_spans.c.definition_key,
    case_step_spans.c.definition_version,
    case_step_spans.c.left_at,
)
# the cases waiting longest right now, oldest first
sa.Index(
    "case_step_spans_open",
    case_step_spans.c.org_id,
    case_step_spans.c.entered_at,
    postgresql_where=case_step_spans.c.left_at.is_(None),
)
case_status_spans = sa.Table(
    "case_status_spans",
    metadata,
    sa.Column("org_id", sa.Text, primary_key=True),
    sa.Column("execution_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("entered_at", sa.DateTime(timezone=True), primary_key=True),
    sa.Column("status", sa.Text, primary_key=True),
    sa.Column("definition_key", sa.Text, nullable=False),
    sa.Column("definition_version", sa.Integer, nullable=False),
    sa.Column("left_at", sa.DateTime(timezone=True)),
)
sa.Index(
    "case_status_spans_by_version",
    case_status_spans.c.org_id,
    case_status_spans.c.definition_key,
    case_status_spans.c.definition_version,
    case_status_spans.c.left_at,
)
# decisions per week: when cases entered `approved` / `rejected`
sa.Index(
    "case_status_spans_by_status",
    case_status_spans.c.org_id,
    case_status_spans.c.status,
    case_status_spans.c.entered_at,
)

# What a case list shows of its contact, kept from `contact.*` events (no call to contacts).
# `as_of` is the snapshot's `updated_at`: an older snapshot arriving late changes nothing. A
# deletion is final and keeps the last known name.
contact_summaries = sa.Table(
    "contact_summaries",
    metadata,
    sa.Column("org_id", sa.Text, primary_key=True),
    sa.Column("contact_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("first_name", sa.Text),
    sa.Column("last_name", sa.Text),
    sa.Column("email", sa.Text),
    sa.Column("phone", sa.Text),
    sa.Column("as_of", sa.DateTime(timezone=True)),
    sa.Column("deleted", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("deleted_at", sa.DateTime(timezone=True)),
    # Lower-cased haystack for the case list's text search; a trigram index serves LIKE '%q%'.
    sa.Column(
        "search_text",
        sa.Text,
        sa.Computed(
            "lower(coalesce(first_name, '') || ' ' || coalesce(last_name, '') || ' ' || coalesce(email, ''))",
            persisted=True,
        ),
    ),
    # For possible duplicates at intake (same first and last name with the same zip).
    sa.Column("zip", sa.Text),
)
sa.Index(
    "contact_summaries_search",
    contact_summaries.c.search_text,
    postgresql_using="gin",
    postgresql_ops={"search_text": "gin_trgm_ops"},
)

# Intake: a Formstack submission opens a case once both halves are in, whichever comes first:
# what ingest mapped (`submission.received`: form, definition, variables) and the contact that
# contacts took in for it (`contact.upserted` naming the submission). See ADR 7.
intake_submissions = sa.Table(
    "intake_submissions",
    metadata,
    sa.Column("org_id", sa.Text, primary_key=True),
    sa.Column("submission_id", sa.Text, primary_key=True),
    sa.Column("received", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("form_id", sa.Text),
    sa.Column("definition_id", UUID(as_uuid=True)),
    sa.Column("variables", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
    sa.Column("contact_id", UUID(as_uuid=True)),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
)

# Notes on a case, a contact or a task (`entity_type`, `entity_id`); `execution_id`,
# `contact_id` and `task_id` are what the note concerns, resolved when it was written, so a case
# finds the notes on its tasks without a join. Content is plain text, stored as given.
notes = sa.Table(
    "notes",
    metadata,
    sa.Column("id", UUID(as_uuid=True), primary_key=True),
    sa.Column("org_id", sa.Text, nullable=False),
    sa.Column("entity_type", sa.Text, nullable=False),
    sa.Column("entity_id", UUID(as_uuid=True), nullable=False),
    sa.Column("execution_id", UUID(as_uuid=True)),
    sa.Column("contact_id", UUID(as_uuid=True)),
    sa.Column("task_id", UUID(as_uuid=True)),
    sa.Column("author_id", sa.Text, nullable=False),
    sa.Column("content", sa.Text, nullable=False),
    sa.Column("is_internal", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.CheckConstraint("entity_type IN ('case', 'contact', 'task')", name="notes_entity_type_valid"),
)
# an entity's notes, newest first, walked by keyset
sa.Index("notes_by_entity", notes.c.org_id, notes.c.entity_type, notes.c.entity_id, notes.c.created_at, notes.c.id)

# What a dashboard and a note need of a task, kept from `task.*` events (no call to tasks).
# `as_of` is the snapshot's `updated_at`: an older snapshot arriving late changes nothing; a
# deletion is final.
task_summaries = sa.Table(
    "task_summaries",
    metadata,
    sa.Column("org_id", sa.Text, primary_key=True),
    sa.Column("task_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("execution_id", UUID(as_uuid=True)),
    sa.Column("contact_id", UUID(as_uuid=True)),
    sa.Column("title", sa.Text),
    sa.Column("status", sa.Text),
    sa.Column("assigned_to", sa.Text),
    sa.Column("assigned_role", sa.Text),
    sa.Column("due_date", sa.DateTime(timezone=True)),
    sa.Column("priority", sa.Text),
    sa.Column("step_id", sa.Text),
    sa.Column("created_at", sa.DateTime(timezone=True)),
    sa.Column("updated_at", sa.DateTime(timezone=True)),
    sa.Column("as_of", sa.DateTime(timezone=True)),
    sa.Column("deleted", sa.Boolean, nullable=False, server_default=sa.false()),
)
# my tasks: a member's open tasks by due date (the dashboard's counts and first page)
sa.Index(
    "task_summaries_open_by_assignee",
    task_summaries.c.org_id,
    task_summaries.c.assigned_to,
    task_summaries.c.due_date,
    task_summaries.c.task_id,
    postgresql_where=sa.and_(task_summaries.c.status != "done", sa.not_(task_summaries.c.deleted)),
)

# The audit trail: one row per domain event of any service (the envelope id is the key), never
# changed nor deleted (migration 0007 revokes UPDATE, DELETE and TRUNCATE and adds a trigger
# refusing them). `execution_id`, `contact_id`, `task_id`, `submission_id` link the row to what
# it concerns; `details` is what changed (`{field: {"before": .., "after": ..}}`) and context.
activity_log = sa.Table(
    "activity_log",
    metadata,
    sa.Column("id", UUID(as_uuid=True), primary_key=True),
    sa.Column("org_id", sa.Text, nullable=False),
    sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("actor", sa.Text, nullable=False),
    sa.Column("actor_type", sa.Text, nullable=False),
    sa.Column("action", sa.Text, nullable=False),
    sa.Column("entity_type", sa.Text, nullable=False),
    sa.Column("entity_id", sa.Text, nullable=False),
    sa.Column("execution_id", UUID(as_uuid=True)),
    sa.Column("contact_id", UUID(as_uuid=True)),
    sa.Column("task_id", UUID(as_uuid=True)),
    sa.Column("submission_id", sa.Text),
    sa.Column("details", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
    sa.Column("correlation_id", sa.Text),
    sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.CheckConstraint("actor_type IN ('user', 'system')", name="activity_log_actor_type_valid"),
)
# every read is (org, [one filter,] newest first), walked by keyset on (occurred_at, id)
sa.Index("activity_log_feed", activity_log.c.org_id, activity_log.c.occurred_at, activity_log.c.id)
for _link in ("execution_id", "contact_id", "task_id", "submission_id", "actor", "action"):
    sa.Index(
        f"activity_log_by_{_link}",
        activity_log.c.org_id,
        activity_log.c[_link],
        activity_log.c.occurred_at,
        activity_log.c.id,
        postgresql_where=activity_log.c[_link].isnot(None) if _link.endswith("_id") else None,
    )

outbox = outbox_table(metadata)
inbox = inbox_table(metadata)
