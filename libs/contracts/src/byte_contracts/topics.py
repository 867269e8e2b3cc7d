"""Kafka topic names, one per owning domain. Key = the entity id, so one entity's events stay ordered."""

CONTACTS = "contacts"
TASKS = "tasks"
EXECUTIONS = "executions"
INGEST = "ingest"
IDENTITY = "identity"
WORKFLOW = "workflow"

ALL = (CONTACTS, TASKS, EXECUTIONS, INGEST, IDENTITY, WORKFLOW)


def dead_letter(topic: str) -> str:
    """Where a consumer parks a message that keeps failing, with the error in its headers."""
    return f"{topic}.dlq"
