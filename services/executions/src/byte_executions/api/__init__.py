"""HTTP routes, one module per aggregate: parse the request into a command (or a query), call
the handler, shape the answer. Refusals are the handlers' `DomainError`s; the platform renders
them as problem+json. Every route first makes sure the caller's org has its default definition."""

from byte_executions.api import cases, dashboard, definitions, exports, intake

routers = [definitions.router, cases.router, intake.router, dashboard.router, exports.router]

__all__ = ["routers"]
