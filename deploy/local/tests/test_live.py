"""The `test` profile's infrastructure really answers, and the service-launch path works.

Starts the infrastructure unless it already runs (then it is reused and left running).
"""

from __future__ import annotations

import asyncio
import json
import os
import smtplib
import subprocess
import textwrap
import uuid
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import byte_stack
import httpx
import psycopg
import pytest
from byte_stack import procs, services, temporal
from byte_stack.profiles import get_profile, state_dir

PROFILE = "test"


@pytest.fixture(scope="module")
def infra() -> Iterator[dict]:
    env, started = byte_stack.ensure_infra(PROFILE)
    yield env
    if started and not os.environ.get("BYTE_TEST_REUSE_STACK"):
        byte_stack.stop(PROFILE)


def test_env_json_is_written(infra: dict) -> None:
    on_disk = json.loads((state_dir(get_profile(PROFILE)) / "env.json").read_text())
    assert on_disk == infra
    assert Path(infra["identity_private_key_file"]).exists()


def test_second_ensure_reuses_what_runs(infra: dict) -> None:
    env, started = byte_stack.ensure_infra(PROFILE)
    assert env == infra and started is False


def test_postgres_roles_and_admin(infra: dict) -> None:
    with psycopg.connect(infra["database_admin_url"], autocommit=True) as admin:
        assert int(admin.execute("SHOW max_connections").fetchone()[0]) >= 300
        name = f"throwaway_{uuid.uuid4().hex[:8]}"
        admin.execute(f'CREATE DATABASE "{name}"')
        admin.execute(f'DROP DATABASE "{name}"')
    for svc in infra["services"].values():
        if not svc["database_url"]:
            continue
        with psycopg.connect(svc["database_url"].replace("+asyncpg", "")) as conn:
            user, db, privileged = conn.execute(
                "SELECT current_user, current_database(),"
                " (SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user)"
            ).fetchone()
            assert user == db and privileged is False


def test_kafka_round_trip(infra: dict) -> None:
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

    async def run() -> bytes:
        topic = f"stack-test-{uuid.uuid4().hex[:8]}"
        producer = AIOKafkaProducer(bootstrap_servers=infra["kafka_bootstrap_servers"], enable_idempotence=True)
        await producer.start()
        try:
            await producer.send_and_wait(topic, b"ping")
        finally:
            await producer.stop()
        consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=infra["kafka_bootstrap_servers"],
            group_id=f"g-{topic}",
            auto_offset_reset="earliest",
        )
        await consumer.start()
        try:
            return (await asyncio.wait_for(consumer.getone(), 60)).value
        finally:
            await consumer.stop()

    assert asyncio.run(run()) == b"ping"


def test_temporal_answers(infra: dict) -> None:
    r = subprocess.run(
        [temporal.cli(), "operator", "namespace", "describe", "default", "--address", infra["temporal_address"]],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert r.returncode == 0, r.stderr
    assert httpx.get(infra["temporal_ui_url"], timeout=10).status_code == 200


def test_mail_round_trip(infra: dict) -> None:
    to = f"{uuid.uuid4().hex[:8]}@example.test"
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "noreply@byte.test", to, "stack test"
    msg.set_content("hi")
    with smtplib.SMTP(infra["smtp_host"], infra["smtp_port"]) as s:
        s.send_message(msg)
    found = httpx.get(f"{infra['mail_http_url']}/messages", params={"to": to}).json()
    assert [m["subject"] for m in found] == ["stack test"]


def test_dev_issuer_answers_with_the_profile_key(infra: dict) -> None:
    import jwt
    from byte_stack import cli

    keys = httpx.get(infra["clerk_jwks_url"], timeout=10).json()["keys"]
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert cli.main(["token", "--profile", PROFILE, "--org", "org_live", "--role", "admin"]) == 0
    minted = out.getvalue().strip()
    kid = jwt.get_unverified_header(minted)["kid"]
    key = next(jwt.PyJWK(k).key for k in keys if k["kid"] == kid)
    claims = jwt.decode(minted, key, algorithms=["RS256"], issuer=infra["clerk_issuer"], options={"verify_aud": False})
    assert claims["o"]["id"] == "org_live"


# ---- the service-launch path, with a throwaway service ------------------------------------

APP = """
import json, os, psycopg
from http.server import BaseHTTPRequestHandler, HTTPServer

url = os.environ["DATABASE_URL"].replace("+asyncpg", "")
with psycopg.connect(url) as conn:  # the migration must have run before we start
    rows = [r[0] for r in conn.execute("SELECT name FROM widgets")]

class H(BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def do_GET(self):
        body = json.dumps({"rows": rows, "env": {k: os.environ.get(k) for k in (
            "ENVIRONMENT", "HOST", "PORT", "KAFKA_BOOTSTRAP_SERVERS", "TEMPORAL_ADDRESS", "SMTP_HOST",
            "SMTP_PORT", "IDENTITY_PUBLIC_KEY_FILE", "IDENTITY_PRIVATE_KEY_FILE", "SERVICE_URLS_JSON")}}).encode()
        self.send_response(200 if self.path == "/readyz" else 404)
        self.end_headers()
        self.wfile.write(body)

HTTPServer((os.environ["HOST"], int(os.environ["PORT"])), H).serve_forever()
"""

ENV_PY = """
from alembic import context
from sqlalchemy import create_engine
import os
engine = create_engine(os.environ["DATABASE_URL"].replace("+asyncpg", "+psycopg"))
with engine.connect() as conn:
    context.configure(connection=conn, target_metadata=None)
    with context.begin_transaction():
        context.run_migrations()
"""

REVISION = """
from alembic import op
revision = "0001"
down_revision = None
def upgrade():
    op.execute("CREATE TABLE widgets (name text)")
    op.execute("INSERT INTO widgets VALUES ('from-migration')")
"""


@pytest.fixture
def throwaway(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    pkg = tmp_path / "pkgs" / "byte_throwaway"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "__main__.py").write_text(APP)
    mig = tmp_path / "migrations"
    (mig / "versions").mkdir(parents=True)
    (mig / "env.py").write_text(ENV_PY)
    (mig / "versions" / "0001_widgets.py").write_text(REVISION)
    (tmp_path / "alembic.ini").write_text(f"[alembic]\nscript_location = {mig}\n")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path / "pkgs"))  # service processes inherit it
    registry = tmp_path / "services.toml"
    db = f"throwaway{uuid.uuid4().hex[:6]}"
    registry.write_text(
        textwrap.dedent(f"""
        [services.throwaway]
        package = "byte_throwaway"
        port = 8790
        database = "{db}"
        alembic = "{tmp_path / "alembic.ini"}"

        [services.gateway]
        package = "byte_throwaway_gateway"
        port = 8791
        """)
    )
    gw = tmp_path / "pkgs" / "byte_throwaway_gateway"
    gw.mkdir()
    (gw / "__init__.py").write_text("")
    (gw / "__main__.py").write_text(
        APP.replace('os.environ["DATABASE_URL"]', '"postgresql:///none"').replace(
            "with psycopg.connect(url) as conn:  # the migration must have run before we start\n"
            '    rows = [r[0] for r in conn.execute("SELECT name FROM widgets")]',
            "rows = []",
        )
    )
    yield registry
    state = state_dir(get_profile(PROFILE))
    for name in ("svc-throwaway", "svc-gateway"):
        services.stop(state, name)
    with psycopg.connect(infra_admin_url(), autocommit=True) as c:
        c.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        c.execute(f'DROP ROLE IF EXISTS "{db}"')


def infra_admin_url() -> str:
    return json.loads((state_dir(get_profile(PROFILE)) / "env.json").read_text())["database_admin_url"]


@pytest.fixture(autouse=True)
def restore_env_json(request: pytest.FixtureRequest) -> Iterator[None]:
    """`up` with a throwaway registry rewrites env.json; put the real registry's back."""
    yield
    if "infra" in request.fixturenames:
        byte_stack.ensure_infra(PROFILE)


def test_services_start_after_migrations(infra: dict, throwaway: Path) -> None:
    env, _ = byte_stack.up(PROFILE, throwaway)
    svc = env["services"]["throwaway"]
    assert svc["port"] == 18790
    body = httpx.get(f"{svc['url']}/readyz").json()
    assert body["rows"] == ["from-migration"]
    assert body["env"]["PORT"] == "18790" and body["env"]["HOST"] == "127.0.0.1"
    assert body["env"]["KAFKA_BOOTSTRAP_SERVERS"] == infra["kafka_bootstrap_servers"]
    assert body["env"]["IDENTITY_PRIVATE_KEY_FILE"] is None
    gw = httpx.get(f"{env['services']['gateway']['url']}/readyz").json()
    assert gw["env"]["IDENTITY_PRIVATE_KEY_FILE"] == infra["identity_private_key_file"]
    assert json.loads(gw["env"]["SERVICE_URLS_JSON"])["throwaway"] == "http://127.0.0.1:18790"
    log = Path(infra["logs_dir"]) / "throwaway.log"
    assert log.exists()

    # a second `up` reuses the running service
    pid = procs.running(Path(infra["state_dir"]), "svc-throwaway").pid
    _, started = byte_stack.up(PROFILE, throwaway)
    assert started is False
    assert procs.running(Path(infra["state_dir"]), "svc-throwaway").pid == pid

    rows = {r["name"]: r for r in byte_stack.status(PROFILE, throwaway)}
    assert rows["throwaway"]["healthy"] and rows["kafka"]["healthy"]


def test_failing_service_names_itself_and_its_log(infra: dict, tmp_path: Path, monkeypatch) -> None:
    pkg = tmp_path / "byte_broken"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "__main__.py").write_text("raise SystemExit('broken: no config')\n")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    registry = tmp_path / "services.toml"
    registry.write_text('[services.broken]\npackage = "byte_broken"\nport = 8792\n')
    with pytest.raises(byte_stack.StackError) as err:
        byte_stack.up(PROFILE, registry)
    text = str(err.value)
    assert text.startswith("broken: exited while starting")
    assert "broken: no config" in text and "logs/broken.log" in text
