"""The worker answers no reads of its own: a case's live state is the workflow's `state` query
(`messages.CaseState`), which the executions service asks Temporal for directly."""
