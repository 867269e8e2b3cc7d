"""Profiles, the service registry and the configuration (env.json) derived from them.

Everything here is pure: no process is started, so `byte-stack env` and the unit tests can use it.
"""

from __future__ import annotations

import json
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from .devclerk import DEV_ORIGIN

HOST = "127.0.0.1"
PG_SUPERUSER = "postgres"
PG_SUPERUSER_PASSWORD = "postgres"  # local only; the admin URL carries it


@dataclass(frozen=True)
class Profile:
    name: str
    postgres_port: int
    kafka_port: int
    kafka_controller_port: int
    temporal_port: int
    temporal_ui_port: int
    smtp_port: int
    mail_http_port: int
    service_port_offset: int
    issuer_port: int  # the dev Clerk issuer's JWKS


# Disjoint ports so `make test` (test profile) never touches a running `make up` (dev profile).
PROFILES: dict[str, Profile] = {
    "dev": Profile("dev", 54320, 19092, 19093, 7233, 8233, 2525, 8025, 0, 8090),
    "test": Profile("test", 55320, 29092, 29093, 17233, 18233, 12525, 18025, 10000, 18090),
}


def get_profile(name: str) -> Profile:
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(f"unknown profile {name!r}; choose one of {', '.join(PROFILES)}") from None


def repo_root() -> Path:
    """The uv workspace root: BYTE_REPO_ROOT, else the nearest parent holding the workspace pyproject."""
    if env := os.environ.get("BYTE_REPO_ROOT"):
        return Path(env).resolve()
    for start in (Path(__file__).resolve(), Path.cwd().resolve()):
        for d in (start, *start.parents):
            pp = d / "pyproject.toml"
            if pp.is_file() and "[tool.uv.workspace]" in pp.read_text():
                return d
    raise RuntimeError("cannot find the BYTE repo root; set BYTE_REPO_ROOT")


def state_dir(profile: Profile, root: Path | None = None) -> Path:
    return (root or repo_root()) / ".state" / profile.name


@dataclass(frozen=True)
class Service:
    name: str
    package: str
    port: int  # already shifted for the profile
    database: str | None = None
    alembic: str | None = None
    routes: tuple[str, ...] = ()  # public path prefixes the gateway forwards to this service


def default_registry(root: Path | None = None) -> Path:
    return Path(os.environ.get("BYTE_SERVICES_TOML") or (root or repo_root()) / "deploy/local/services.toml")


def load_services(profile: Profile, path: Path | None = None) -> list[Service]:
    path = path or default_registry()
    if not path.exists():
        return []
    data = tomllib.loads(path.read_text())
    services = []
    for name, spec in (data.get("services") or {}).items():
        unknown = set(spec) - {"package", "port", "database", "alembic", "routes"}
        if unknown or "package" not in spec or "port" not in spec:
            raise ValueError(f"{path}: [services.{name}] needs package and port (unknown keys: {sorted(unknown)})")
        routes = spec.get("routes", [])
        if not isinstance(routes, list) or not all(isinstance(r, str) and r.startswith("/") for r in routes):
            raise ValueError(f'{path}: [services.{name}] routes must be a list of paths, e.g. ["/v1/{name}"]')
        services.append(
            Service(
                name=name,
                package=spec["package"],
                port=int(spec["port"]) + profile.service_port_offset,
                database=spec.get("database"),
                alembic=spec.get("alembic"),
                routes=tuple(routes),
            )
        )
    ports = [s.port for s in services]
    if len(ports) != len(set(ports)):
        raise ValueError(f"{path}: two services share a port")
    return services


def strip_driver(url: str) -> str:
    """postgresql+asyncpg://... -> postgresql://... (admin tools and psycopg want the plain scheme)."""
    parts = urlsplit(url)
    scheme = parts.scheme.split("+", 1)[0]
    if scheme == "postgres":
        scheme = "postgresql"
    return urlunsplit((scheme, *parts[1:]))


def service_database_url(admin_url: str, database: str) -> str:
    """The service's own role, same server as the admin URL; role, password and database are all `database`."""
    parts = urlsplit(strip_driver(admin_url))
    host = parts.hostname or HOST
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{database}:{database}@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(("postgresql+asyncpg", netloc, f"/{database}", "", ""))


@dataclass
class Externals:
    """Servers given by the environment; None means the stack runs its own."""

    database_admin_url: str | None = None
    kafka_bootstrap_servers: str | None = None
    temporal_address: str | None = None
    smtp: tuple[str, int] | None = None
    notes: list[str] = field(default_factory=list)


def local_addresses(profile: Profile) -> dict[str, str]:
    return {
        "database_admin_url": f"postgresql://{PG_SUPERUSER}:{PG_SUPERUSER_PASSWORD}@{HOST}:{profile.postgres_port}/postgres",
        "kafka_bootstrap_servers": f"{HOST}:{profile.kafka_port}",
        "temporal_address": f"{HOST}:{profile.temporal_port}",
        "smtp": f"{HOST}:{profile.smtp_port}",
    }


def find_externals(profile: Profile, environ: dict[str, str] | None = None) -> Externals:
    """Which components the environment points elsewhere.

    A value equal to what this profile itself provides (e.g. after `eval "$(byte-stack env)"`)
    is not external: the stack still starts its own server for it.
    """
    env = os.environ if environ is None else environ
    local = local_addresses(profile)
    ext = Externals()
    db = env.get("DATABASE_ADMIN_URL") or env.get("DATABASE_URL")
    if db and strip_driver(db) != local["database_admin_url"]:
        ext.database_admin_url = strip_driver(db)
        if not env.get("DATABASE_ADMIN_URL"):
            ext.notes.append("DATABASE_URL is used as the admin URL: it needs CREATEROLE and CREATEDB")
    kafka = env.get("KAFKA_BOOTSTRAP_SERVERS")
    if kafka and kafka != local["kafka_bootstrap_servers"]:
        ext.kafka_bootstrap_servers = kafka
    temporal = env.get("TEMPORAL_ADDRESS")
    if temporal and temporal != local["temporal_address"]:
        ext.temporal_address = temporal
    smtp_host, smtp_port = env.get("SMTP_HOST"), env.get("SMTP_PORT")
    if smtp_host or smtp_port:
        smtp = (smtp_host or HOST, int(smtp_port or 25))
        if f"{smtp[0]}:{smtp[1]}" != local["smtp"]:
            ext.smtp = smtp
    return ext


def build_env(
    profile: Profile,
    services: list[Service],
    root: Path | None = None,
    externals: Externals | None = None,
) -> dict:
    """The content of .state/<profile>/env.json: everything a test or a service needs."""
    root = root or repo_root()
    ext = externals or Externals()
    state = state_dir(profile, root)
    local = local_addresses(profile)
    admin_url = ext.database_admin_url or local["database_admin_url"]
    smtp_host, smtp_port = ext.smtp or (HOST, profile.smtp_port)
    return {
        "profile": profile.name,
        "state_dir": str(state),
        "logs_dir": str(state / "logs"),
        "database_admin_url": admin_url,
        "kafka_bootstrap_servers": ext.kafka_bootstrap_servers or local["kafka_bootstrap_servers"],
        "temporal_address": ext.temporal_address or local["temporal_address"],
        # an external Temporal's UI is unknown to us
        "temporal_ui_url": None if ext.temporal_address else f"http://{HOST}:{profile.temporal_ui_port}",
        "smtp_host": smtp_host,
        "smtp_port": smtp_port,
        # the mail sink only exists when we run the SMTP server ourselves
        "mail_dir": None if ext.smtp else str(state / "mail"),
        "mail_http_url": None if ext.smtp else f"http://{HOST}:{profile.mail_http_port}",
        "identity_private_key_file": str(state / "identity" / "private.pem"),
        "identity_public_key_file": str(state / "identity" / "public.pem"),
        # the dev issuer standing in for Clerk (see devclerk.py)
        "clerk_issuer": f"http://{HOST}:{profile.issuer_port}",
        "clerk_jwks_url": f"http://{HOST}:{profile.issuer_port}/.well-known/jwks.json",
        "clerk_private_key_file": str(state / "clerk" / "private.pem"),
        "clerk_public_key_file": str(state / "clerk" / "public.pem"),
        "clerk_webhook_secret_file": str(state / "clerk" / "webhook_secret"),
        "external": sorted(
            k
            for k, v in {
                "postgres": ext.database_admin_url,
                "kafka": ext.kafka_bootstrap_servers,
                "temporal": ext.temporal_address,
                "mail": ext.smtp,
            }.items()
            if v
        ),
        "services": {
            s.name: {
                "url": f"http://{HOST}:{s.port}",
                "port": s.port,
                "database_url": service_database_url(admin_url, s.database) if s.database else None,
            }
            for s in services
        },
    }


def service_environment(env: dict, service: Service) -> dict[str, str]:
    """Variables a service process gets on top of the caller's environment."""
    info = env["services"][service.name]
    out = {
        "ENVIRONMENT": "dev",
        "HOST": HOST,
        "PORT": str(service.port),
        "KAFKA_BOOTSTRAP_SERVERS": env["kafka_bootstrap_servers"],
        "TEMPORAL_ADDRESS": env["temporal_address"],
        "SMTP_HOST": env["smtp_host"],
        "SMTP_PORT": str(env["smtp_port"]),
        "IDENTITY_PUBLIC_KEY_FILE": env["identity_public_key_file"],
        "SERVICE_URLS_JSON": json.dumps({n: s["url"] for n, s in env["services"].items()}),
    }
    if info["database_url"]:
        out["DATABASE_URL"] = info["database_url"]
    if service.name == "gateway":
        # only the gateway signs identity tokens, and only it talks to Clerk (here: the dev issuer)
        out["IDENTITY_PRIVATE_KEY_FILE"] = env["identity_private_key_file"]
        out["CLERK_JWKS_URL"] = env["clerk_jwks_url"]
        out["CLERK_ISSUER"] = env["clerk_issuer"]
        out["CLERK_WEBHOOK_SECRET_FILE"] = env["clerk_webhook_secret_file"]
        # the dev issuer's tokens carry this azp; a token made for any other origin is refused
        out["CLERK_AUTHORIZED_PARTIES"] = DEV_ORIGIN
    return out


def export_lines(env: dict) -> list[str]:
    """`export NAME=value` lines for a shell or a Makefile (`eval "$(byte-stack env)"`)."""
    import shlex

    values: dict[str, object] = {
        "BYTE_PROFILE": env["profile"],
        "BYTE_STATE_DIR": env["state_dir"],
        "BYTE_LOGS_DIR": env["logs_dir"],
        "DATABASE_ADMIN_URL": env["database_admin_url"],
        "KAFKA_BOOTSTRAP_SERVERS": env["kafka_bootstrap_servers"],
        "TEMPORAL_ADDRESS": env["temporal_address"],
        "TEMPORAL_UI_URL": env["temporal_ui_url"],
        "SMTP_HOST": env["smtp_host"],
        "SMTP_PORT": env["smtp_port"],
        "MAIL_DIR": env["mail_dir"],
        "MAIL_HTTP_URL": env["mail_http_url"],
        "IDENTITY_PRIVATE_KEY_FILE": env["identity_private_key_file"],
        "IDENTITY_PUBLIC_KEY_FILE": env["identity_public_key_file"],
        "CLERK_JWKS_URL": env["clerk_jwks_url"],
        "CLERK_ISSUER": env["clerk_issuer"],
        "CLERK_AUTHORIZED_PARTIES": DEV_ORIGIN,
        "SERVICE_URLS_JSON": json.dumps({n: s["url"] for n, s in env["services"].items()}),
    }
    for name, svc in env["services"].items():
        key = name.upper().replace("-", "_")
        values[f"{key}_URL"] = svc["url"]
        if svc["database_url"]:
            values[f"{key}_DATABASE_URL"] = svc["database_url"]
    return [f"export {k}={shlex.quote(str(v))}" for k, v in values.items() if v is not None]
