"""HTTP routes, one module per aggregate: parse the request into a command (or a query), call
the handler, shape the answer. Refusals are the handlers' `DomainError`s; the platform renders
them as problem+json. Every route first makes sure the caller's org has its default definition."""

from byte_executions.api import activity, cases, dashboard, definitions, exports, intake, notes

routers = [definitions.router, cases.router, intake.router, dashboard.router, exports.router]
routers += [notes.router, activity.router, activity.dashboard]

__all__ = ["routers"]
