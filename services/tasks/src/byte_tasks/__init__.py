"""The tasks service: manual and workflow tasks, user-or-role assignment, atomic claim,
approvals, kanban order, due dates."""
