"""Commands in, rows and events out, one module per aggregate: each handler is one unit of work
(rows, outbox and inbox commit together). Callers are api/ (HTTP) and consumers.py (events)."""

from byte_executions.handlers.definitions import DefinitionHandlers, Provisioning

__all__ = ["DefinitionHandlers", "Provisioning"]
