"""The worker owns no tables: Temporal keeps every case's workflow state (its event history),
and what a case does reaches other services as events (`activities.publish`)."""
