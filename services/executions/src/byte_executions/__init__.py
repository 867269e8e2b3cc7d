"""The executions service: versioned workflow definitions, the cases (executions) that run
them, and the projections a case page needs (contact summaries)."""
