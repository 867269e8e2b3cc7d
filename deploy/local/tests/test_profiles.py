"""Config generation and profile logic: no process is started."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest
from byte_stack import devclerk, kafka, postgres, temporal
from byte_stack.profiles import (
    PROFILES,
    build_env,
    export_lines,
    find_externals,
    get_profile,
    load_services,
    service_database_url,
    service_environment,
    strip_driver,
)

ROOT = Path("/repo")

REGISTRY = """
[services.contacts]
package = "byte_contacts"
port = 8001
database = "contacts"
alembic = "services/contacts/alembic.ini"
routes = ["/v1/contacts"]

[services.gateway]
package = "byte_gateway"
port = 8000
"""


@pytest.fixture
def registry(tmp_path: Path) -> Path:
    path = tmp_path / "services.toml"
    path.write_text(REGISTRY)
    return path


def _ports(p) -> set[int]:
    return {
        p.postgres_port,
        p.kafka_port,
        p.kafka_controller_port,
        p.temporal_port,
        p.temporal_ui_port,
        p.smtp_port,
        p.mail_http_port,
        p.issuer_port,
    }


def test_profiles_have_disjoint_ports() -> None:
    dev, test = PROFILES["dev"], PROFILES["test"]
    assert len(_ports(dev)) == 8 and len(_ports(test)) == 8
    assert not _ports(dev) & _ports(test)
    assert (dev.postgres_port, dev.kafka_port, dev.temporal_port, dev.temporal_ui_port) == (54320, 19092, 7233, 8233)
    assert (test.postgres_port, test.kafka_port, test.temporal_port, test.temporal_ui_port) == (
        55320,
        29092,
        17233,
        18233,
    )


def test_unknown_profile() -> None:
    with pytest.raises(ValueError, match="unknown profile"):
        get_profile("prod")


def test_service_ports_shift_in_test_profile(registry: Path) -> None:
    dev = {s.name: s.port for s in load_services(get_profile("dev"), registry)}
    test = {s.name: s.port for s in load_services(get_profile("test"), registry)}
    assert dev == {"contacts": 8001, "gateway": 8000}
    assert test == {"contacts": 18001, "gateway": 18000}
    routes = {s.name: s.routes for s in load_services(get_profile("dev"), registry)}
    assert routes == {"contacts": ("/v1/contacts",), "gateway": ()}


def test_registry_validation(tmp_path: Path) -> None:
    bad = tmp_path / "s.toml"
    bad.write_text('[services.x]\npackage = "x"\n')
    with pytest.raises(ValueError, match="needs package and port"):
        load_services(get_profile("dev"), bad)
    bad.write_text('[services.x]\npackage = "x"\nport = 1\nroutes = "/v1/x"\n')
    with pytest.raises(ValueError, match="routes must be a list of paths"):
        load_services(get_profile("dev"), bad)
    bad.write_text('[services.a]\npackage="a"\nport=1\n[services.b]\npackage="b"\nport=1\n')
    with pytest.raises(ValueError, match="share a port"):
        load_services(get_profile("dev"), bad)
    assert load_services(get_profile("dev"), tmp_path / "missing.toml") == []


def test_the_repo_registry_parses() -> None:
    svcs = load_services(get_profile("dev"))
    assert all(s.package and s.port for s in svcs)


def test_env_json_content(registry: Path) -> None:
    profile = get_profile("test")
    env = build_env(profile, load_services(profile, registry), ROOT)
    assert env["database_admin_url"] == "postgresql://postgres:postgres@127.0.0.1:55320/postgres"
    assert env["kafka_bootstrap_servers"] == "127.0.0.1:29092"
    assert env["temporal_address"] == "127.0.0.1:17233"
    assert env["temporal_ui_url"] == "http://127.0.0.1:18233"
    assert (env["smtp_host"], env["smtp_port"]) == ("127.0.0.1", 12525)
    assert env["mail_http_url"] == "http://127.0.0.1:18025"
    assert env["mail_dir"] == "/repo/.state/test/mail"
    assert env["logs_dir"] == "/repo/.state/test/logs"
    assert env["identity_private_key_file"] == "/repo/.state/test/identity/private.pem"
    assert env["identity_public_key_file"] == "/repo/.state/test/identity/public.pem"
    assert env["services"]["contacts"] == {
        "url": "http://127.0.0.1:18001",
        "port": 18001,
        "database_url": "postgresql+asyncpg://contacts:contacts@127.0.0.1:55320/contacts",
    }
    assert env["services"]["gateway"]["database_url"] is None
    json.dumps(env)  # it is written as env.json


def test_externals_replace_components(registry: Path) -> None:
    profile = get_profile("dev")
    ext = find_externals(
        profile,
        {
            "DATABASE_URL": "postgresql+asyncpg://admin:pw@db.example:5432/app",
            "KAFKA_BOOTSTRAP_SERVERS": "k1:9092,k2:9092",
            "TEMPORAL_ADDRESS": "t:7233",
            "SMTP_HOST": "mail.example",
            "SMTP_PORT": "1025",
        },
    )
    env = build_env(profile, load_services(profile, registry), ROOT, ext)
    assert env["database_admin_url"] == "postgresql://admin:pw@db.example:5432/app"
    assert env["services"]["contacts"]["database_url"] == (
        "postgresql+asyncpg://contacts:contacts@db.example:5432/contacts"
    )
    assert env["kafka_bootstrap_servers"] == "k1:9092,k2:9092"
    assert env["temporal_address"] == "t:7233" and env["temporal_ui_url"] is None
    assert (env["smtp_host"], env["smtp_port"]) == ("mail.example", 1025)
    assert env["mail_http_url"] is None
    assert env["external"] == ["kafka", "mail", "postgres", "temporal"]
    assert ext.notes  # DATABASE_URL standing in for the admin URL is worth a note


def test_own_addresses_in_the_environment_are_not_external() -> None:
    """After `eval "$(byte-stack env)"` the next `up` must still start its own servers."""
    profile = get_profile("dev")
    env = build_env(profile, [], ROOT)
    exported = dict(line.removeprefix("export ").split("=", 1) for line in export_lines(env))
    exported = {k: shlex.split(v)[0] for k, v in exported.items()}
    ext = find_externals(profile, exported)
    assert not (ext.database_admin_url or ext.kafka_bootstrap_servers or ext.temporal_address or ext.smtp)


def test_url_helpers() -> None:
    assert strip_driver("postgresql+asyncpg://u:p@h:1/d") == "postgresql://u:p@h:1/d"
    assert strip_driver("postgres://u@h/d") == "postgresql://u@h/d"
    assert (
        service_database_url("postgresql://a:b@h:5/x?sslmode=require", "svc") == "postgresql+asyncpg://svc:svc@h:5/svc"
    )


def test_service_environment(registry: Path) -> None:
    profile = get_profile("test")
    svcs = {s.name: s for s in load_services(profile, registry)}
    env = build_env(profile, list(svcs.values()), ROOT)
    contacts = service_environment(env, svcs["contacts"])
    gateway = service_environment(env, svcs["gateway"])
    assert contacts["PORT"] == "18001" and contacts["HOST"] == "127.0.0.1" and contacts["ENVIRONMENT"] == "dev"
    assert contacts["DATABASE_URL"].startswith("postgresql+asyncpg://contacts:contacts@")
    assert "IDENTITY_PRIVATE_KEY_FILE" not in contacts
    assert gateway["IDENTITY_PRIVATE_KEY_FILE"].endswith("private.pem")
    assert gateway["CLERK_JWKS_URL"] == "http://127.0.0.1:18090/.well-known/jwks.json"
    assert gateway["CLERK_ISSUER"] == "http://127.0.0.1:18090"
    assert gateway["CLERK_WEBHOOK_SECRET_FILE"] == "/repo/.state/test/clerk/webhook_secret"
    # the dev issuer's tokens are made for the dev origin, and the dev gateway accepts only that one
    assert (
        gateway["CLERK_AUTHORIZED_PARTIES"]
        == devclerk.DEV_ORIGIN
        == devclerk.session_claims(user_id="user_1", org_id="org_1", issuer=gateway["CLERK_ISSUER"])["azp"]
    )
    assert "CLERK_JWKS_URL" not in contacts and "CLERK_WEBHOOK_SECRET_FILE" not in contacts
    assert "DATABASE_URL" not in gateway
    assert json.loads(gateway["SERVICE_URLS_JSON"]) == {
        "contacts": "http://127.0.0.1:18001",
        "gateway": "http://127.0.0.1:18000",
    }


def test_export_lines_are_shell_safe(registry: Path) -> None:
    profile = get_profile("dev")
    lines = export_lines(build_env(profile, load_services(profile, registry), ROOT))
    assert "export KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:19092" in lines
    assert "export CONTACTS_DATABASE_URL=postgresql+asyncpg://contacts:contacts@127.0.0.1:54320/contacts" in lines
    svc_urls = next(line for line in lines if line.startswith("export SERVICE_URLS_JSON="))
    assert json.loads(shlex.split(svc_urls.split("=", 1)[1])[0])["gateway"] == "http://127.0.0.1:8000"


def test_kafka_config(tmp_path: Path) -> None:
    props = dict(line.split("=", 1) for line in kafka.server_properties(get_profile("test"), tmp_path).splitlines())
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:29092,CONTROLLER://127.0.0.1:29093"
    assert props["controller.quorum.bootstrap.servers"] == "127.0.0.1:29093"
    assert props["process.roles"] == "broker,controller"
    assert props["offsets.topic.replication.factor"] == "1"
    assert props["group.initial.rebalance.delay.ms"] == "0"
    assert props["auto.create.topics.enable"] == "true" and props["num.partitions"] == "3"
    assert "controller.quorum.voters" not in props  # --standalone format wants the bootstrap form
    assert kafka.kafka_version().startswith("4.1.")


def test_postgres_settings(tmp_path: Path) -> None:
    argv = postgres.server_argv(get_profile("dev"), tmp_path / "pg", fast=False)
    settings = dict(a.split("=", 1) for a in argv if "=" in a)
    assert settings["listen_addresses"] == "127.0.0.1"
    assert settings["port"] == "54320"
    assert int(settings["max_connections"]) >= 300
    assert "fsync" not in settings
    fast = dict(a.split("=", 1) for a in postgres.server_argv(get_profile("test"), tmp_path, fast=True) if "=" in a)
    assert fast["fsync"] == "off"


def test_temporal_argv(tmp_path: Path) -> None:
    argv = temporal.server_argv(get_profile("test"), tmp_path)
    assert argv[1:3] == ["server", "start-dev"]
    joined = " ".join(argv)
    assert "--ip 127.0.0.1" in joined and "--port 17233" in joined and "--ui-port 18233" in joined
    assert f"--db-filename {tmp_path / 'temporal.db'}" in joined
    assert "--headless" not in argv
