"""Reads, one module per aggregate."""

from byte_executions.queries.definitions import DefinitionFilter, DefinitionQueries

__all__ = ["DefinitionFilter", "DefinitionQueries"]
