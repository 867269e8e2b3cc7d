"""The gateway's rules, free of I/O: Clerk claims -> a session, Clerk roles -> BYTE roles, which
service owns a path, and which roles may call what (the matrix in docs/roles.md)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

# ---------------------------------------------------------------------------------------------
# Roles
# ---------------------------------------------------------------------------------------------

# Clerk org role (without the `org:` prefix) -> BYTE role. Clerk has no owner role of its own:
# an instance that wants one defines the custom role `owner` (or `creator`) and gives it to the
# org's creator; see docs/roles.md.
ROLE_MAP: dict[str, str] = {
    "admin": "admin",
    "member": "user",
    "basic_member": "user",
    "owner": "owner",
    "creator": "owner",
    "guest": "guest",
}
_ROLE_KEY = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


class InvalidClaims(Exception):
    """The token verified but its content is unusable: 401 (or 403 when `forbidden`)."""

    def __init__(self, detail: str, *, forbidden: bool = False) -> None:
        super().__init__(detail)
        self.detail = detail
        self.forbidden = forbidden


def map_role(clerk_role: str) -> str:
    """`org:admin`/`admin` -> admin, `org:member`/`basic_member` -> user, `org:guest` -> guest,
    `org:owner`/`org:creator` -> owner, custom `org:<key>` -> `<key>`."""
    key = clerk_role.strip().lower().removeprefix("org:")
    if key in ROLE_MAP:
        return ROLE_MAP[key]
    if not _ROLE_KEY.match(key):
        raise InvalidClaims(f"unusable org role {clerk_role!r}")
    return key


@dataclass(frozen=True)
class Session:
    """A verified Clerk session with an active org."""

    user_id: str
    org_id: str
    roles: frozenset[str]
    clerk_role: str
    permissions: tuple[str, ...] = ()
    session_id: str | None = None
    claims_version: int = 1


def _permissions(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return tuple(p for p in (x.strip() for x in value.split(",")) if p)
    if isinstance(value, list):
        return tuple(str(p) for p in value)
    return ()


def session_from_claims(claims: dict[str, Any]) -> Session:
    """Reads the org and role from v2 (`o: {id, rol, per}`) or v1 (`org_id`, `org_role`,
    `org_permissions`) claims. Signature, exp/nbf and azp are checked before this."""
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub:
        raise InvalidClaims("token has no subject")
    if claims.get("sts") == "pending":
        raise InvalidClaims("session is pending: the user has unfinished session tasks")
    org = claims.get("o")
    version = 2 if claims.get("v") == 2 or isinstance(org, dict) else 1
    if version == 2:
        org = org if isinstance(org, dict) else {}
        org_id, role, perms = org.get("id"), org.get("rol"), org.get("per")
    else:
        org_id, role, perms = claims.get("org_id"), claims.get("org_role"), claims.get("org_permissions")
    if not isinstance(org_id, str) or not org_id:
        raise InvalidClaims(
            "no active organization: select an organization in the app before calling the API", forbidden=True
        )
    if not isinstance(role, str) or not role:
        raise InvalidClaims("the active organization carries no role", forbidden=True)
    sid = claims.get("sid")
    return Session(
        user_id=sub,
        org_id=org_id,
        roles=frozenset({map_role(role)}),
        clerk_role=role,
        permissions=_permissions(perms),
        session_id=sid if isinstance(sid, str) else None,
        claims_version=version,
    )


# ---------------------------------------------------------------------------------------------
# Routing: path prefix -> owning service.
# ---------------------------------------------------------------------------------------------

# The gateway's image holds only services/gateway, so this table lives here rather than being
# read from deploy/local/services.toml; a built service lists the same prefixes there as its
# `routes`, and tests/test_service_registry.py fails when the two disagree. Prefixes of services
# not built yet answer 503 until a service of that name is deployed.

ROUTES: tuple[tuple[str, str], ...] = (
    ("/v1/contacts", "contacts"),
    ("/v1/tasks", "tasks"),
    ("/v1/executions", "executions"),
    ("/v1/definitions", "executions"),
    ("/v1/notes", "executions"),
    ("/v1/activity", "executions"),
    ("/v1/dashboard", "executions"),
    ("/v1/exports", "executions"),
    ("/v1/formstack", "ingest"),
)


def route_for(path: str) -> str | None:
    """The service owning `path`, matching whole segments (`/v1/contactsX` matches nothing)."""
    for prefix, service in ROUTES:
        if path == prefix or path.startswith(prefix + "/"):
            return service
    return None


def prefixes_of(service: str) -> list[str]:
    return [prefix for prefix, svc in ROUTES if svc == service]


# ---------------------------------------------------------------------------------------------
# The role matrix
# ---------------------------------------------------------------------------------------------


class Level(IntEnum):
    """What a role may do: guests read, members also write what the matrix allows, admins all."""

    READ = 0
    WRITE = 1
    ADMIN = 2


def level_of(roles: frozenset[str]) -> Level:
    if roles & {"owner", "admin"}:
        return Level.ADMIN
    if roles - {"guest"}:  # user and every custom role (reviewer, hr, manager, ...)
        return Level.WRITE
    return Level.READ


READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_ID = r"[^/]+"


@dataclass(frozen=True)
class Rule:
    methods: frozenset[str]
    pattern: str
    needs: Level
    regex: re.Pattern[str] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        regex = "^" + re.escape(self.pattern).replace(re.escape("{id}"), _ID).replace(re.escape("/**"), "(/.*)?") + "$"
        object.__setattr__(self, "regex", re.compile(regex))

    def matches(self, method: str, path: str) -> bool:
        return method in self.methods and bool(self.regex.match(path))


def _rule(methods: str, pattern: str, needs: Level) -> Rule:
    return Rule(frozenset(methods.split()), pattern, needs)


# First match wins. Reads need READ everywhere; a write matching no rule needs ADMIN (deny by
# default), so a new endpoint is admin-only until a line here opens it. docs/roles.md shows it.
WRITE_RULES: tuple[Rule, ...] = (
    # contacts: members create and edit; deleting and merging are for admins (no rule here; the
    # service checks the same)
    _rule("POST", "/v1/contacts", Level.WRITE),
    _rule("POST", "/v1/contacts/upsert", Level.WRITE),
    _rule("PATCH PUT", "/v1/contacts/{id}", Level.WRITE),
    # tasks: members create tasks and work the ones assigned to them or their roles, and may
    # delete a standalone task they created; the tasks service checks assignment and creator
    _rule("POST", "/v1/tasks", Level.WRITE),
    _rule("PATCH", "/v1/tasks/{id}", Level.WRITE),
    _rule("PATCH", "/v1/tasks/{id}/**", Level.WRITE),
    _rule("DELETE", "/v1/tasks/{id}", Level.WRITE),
    # cases: members open them, edit their variables and metadata, ask their workflow for a
    # status change or to cancel; deleting a case, and every definition write, stays with admins
    # (the executions service checks the same)
    _rule("POST", "/v1/executions", Level.WRITE),
    _rule("PATCH", "/v1/executions/{id}", Level.WRITE),
    _rule("POST", "/v1/executions/{id}/status", Level.WRITE),
    _rule("POST", "/v1/executions/{id}/cancel", Level.WRITE),
    # notes on a case, a contact or a task: members write; the executions service lets only the
    # author or an admin edit or delete one
    _rule("POST", "/v1/notes", Level.WRITE),
    _rule("PATCH PUT", "/v1/notes/{id}", Level.WRITE),
    _rule("DELETE", "/v1/notes/{id}", Level.WRITE),
)


# Prefixes whose every method, reads included, is for admins: the Formstack configuration (webhook
# settings, mappings) and the raw submissions (applicants' data as received).
ADMIN_ONLY_PREFIXES: tuple[str, ...] = ("/v1/formstack",)
# Prefixes whose every method, reads included, is for members (not guests): exports take an
# org's data out in bulk (contacts, cases with their contacts as CSV, the pipeline report). The
# owning services check the same.
MEMBER_PREFIXES: tuple[str, ...] = ("/v1/exports", "/v1/contacts/export")


def _under(path: str, prefixes: tuple[str, ...]) -> bool:
    return any(path == prefix or path.startswith(prefix + "/") for prefix in prefixes)


def required_level(method: str, path: str) -> Level:
    method = method.upper()
    if _under(path, ADMIN_ONLY_PREFIXES):
        return Level.ADMIN
    if _under(path, MEMBER_PREFIXES):
        return Level.WRITE
    if method in READ_METHODS:
        return Level.READ
    for rule in WRITE_RULES:
        if rule.matches(method, path):
            return rule.needs
    return Level.ADMIN


def allowed(roles: frozenset[str], method: str, path: str) -> bool:
    return level_of(roles) >= required_level(method, path)
