"""Commands in, rows and events out, one module per aggregate: each handler is one unit of work
(rows, outbox and inbox commit together). Callers are api/ (HTTP) and consumers.py (events)."""

from byte_executions.handlers.cases import CaseHandlers
from byte_executions.handlers.definitions import DefinitionHandlers, Provisioning
from byte_executions.handlers.intake import IntakeHandlers
from byte_executions.handlers.projections import ProjectionHandlers

__all__ = ["CaseHandlers", "DefinitionHandlers", "IntakeHandlers", "ProjectionHandlers", "Provisioning"]
