"""Reads, one module per aggregate."""

from byte_executions.queries.cases import CaseFilter, CaseQueries
from byte_executions.queries.definitions import DefinitionFilter, DefinitionQueries

__all__ = ["CaseFilter", "CaseQueries", "DefinitionFilter", "DefinitionQueries"]
