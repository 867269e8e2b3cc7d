"""pytest fixtures over the real local stack.

The `test` profile of byte-stack (its own ports and state, so a running `make up` is never
touched) is started once per session, or reused when it is already up; what this session
started, it stops. Set BYTE_TEST_REUSE_STACK=1 to leave it running for the next run.
"""

from __future__ import annotations

import functools
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from byte_contracts import Envelope, new_event, topic_for
from byte_platform.broker import make_broker
from byte_platform.identity import mint
from pydantic import BaseModel

from byte_testing.events import EventTap
from byte_testing.kafka import OwnKafka
from byte_testing.postgres import own_postgres  # noqa: F401  (a fixture: importing it registers it)
from byte_testing.processes import ServiceProcess, migrate
from byte_testing.waiting import eventually

PROFILE = os.environ.get("BYTE_TEST_PROFILE", "test")


@pytest.fixture(scope="session")
def stack() -> Iterator[dict[str, Any]]:
    import byte_stack

    env, started = byte_stack.ensure_infra(PROFILE)
    yield env
    if started and not os.environ.get("BYTE_TEST_REUSE_STACK"):
        byte_stack.stop(PROFILE)


@pytest.fixture(scope="session")
def identity_private_key(stack: dict[str, Any]) -> str:
    return Path(stack["identity_private_key_file"]).read_text()


@pytest.fixture(scope="session")
def make_token(identity_private_key: str) -> Callable[..., str]:
    """`make_token(org_id, user_id="user_1", roles=("admin",))`: what the gateway would mint."""

    def _make(
        org_id: str, user_id: str = "user_test", roles: tuple[str, ...] | list[str] = ("admin",), ttl: int = 300
    ) -> str:
        return mint(identity_private_key, user_id=user_id, org_id=org_id, roles=list(roles), ttl_seconds=ttl)

    return _make


@pytest.fixture
def org_id() -> str:
    """A fresh org per test: tests share the broker and never see each other's rows or events."""
    return f"org_{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="session")
def logs_dir(stack: dict[str, Any]) -> Path:
    path = Path(stack["logs_dir"]) / "pytest"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _admin(admin_url: str, statement: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(statement)


@pytest.fixture(scope="session")
def fresh_database(stack: dict[str, Any]) -> Iterator[Callable[[str], str]]:
    """`fresh_database("contacts")` -> the URL of a new, migrated database owned by the
    service's role (not a superuser, so row-level security binds it). Dropped at session end."""
    created: list[str] = []
    admin_url = stack["database_admin_url"]

    def _make(service: str) -> str:
        base = stack["services"][service]["database_url"]
        owner = base.rsplit("/", 1)[1]
        name = f"{owner}_t{uuid.uuid4().hex[:10]}"
        _admin(admin_url, f'CREATE DATABASE "{name}" OWNER "{owner}"')
        created.append(name)
        url = base.rsplit("/", 1)[0] + "/" + name
        migrate(service, url)
        return url

    yield _make
    for name in created:
        _admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def start_service(
    stack: dict[str, Any], logs_dir: Path, fresh_database: Callable[[str], str]
) -> Iterator[Callable[..., ServiceProcess]]:
    """`start_service("contacts", database_url=..., **env)` -> a running service process, ready
    within `ready_timeout` seconds.

    Depends on `fresh_database` so that services stop before their databases are dropped.
    A process also stops once the last test of the folder that started it has run: the service
    fixtures live in each folder's conftest, and a process left running would go on consuming
    every later test's events from the shared topics for nothing (with tens of them alive, that
    was most of the machine)."""
    running = _RUNNING

    def _start(
        service: str, *, database_url: str | None = None, ready_timeout: float = 120, **env: str
    ) -> ServiceProcess:
        base = {
            "KAFKA_BOOTSTRAP_SERVERS": stack["kafka_bootstrap_servers"],
            "TEMPORAL_ADDRESS": stack["temporal_address"],
            "SMTP_HOST": stack["smtp_host"],
            "SMTP_PORT": str(stack["smtp_port"]),
            "IDENTITY_PUBLIC_KEY_FILE": stack["identity_public_key_file"],
            # The shared test broker keeps every earlier run's events: a test process's new
            # consumer groups start at the end, so its first tests do not wait for it to catch up.
            "CONSUMER_NEW_GROUPS_START": "end",
        }
        if database_url:
            base["DATABASE_URL"] = database_url
        proc = ServiceProcess(service, base, logs_dir)
        # a bound on waiting, not a target: on a shared two-core machine under load, importing
        # and starting a service has taken over a minute
        proc.start(ready_timeout, **env)
        running.setdefault(_current_folder, []).append(proc)
        return proc

    yield _start
    for procs in running.values():
        for proc in procs:
            proc.stop()
    running.clear()


# service processes by the folder whose test started them (see start_service)
_RUNNING: dict[str | None, list[ServiceProcess]] = {}
_current_folder: str | None = None


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    global _current_folder
    _current_folder = test_folder(item.config.rootpath, item.path)


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    folder = test_folder(item.config.rootpath, item.path)
    if nextitem is not None and test_folder(nextitem.config.rootpath, nextitem.path) == folder:
        return
    for proc in _RUNNING.pop(folder, []):
        proc.stop()


@pytest.fixture
async def event_tap(stack: dict[str, Any]) -> AsyncIterator[Callable[[str], EventTap]]:
    """`async with event_tap("contacts") as tap:` reads only events published after entering."""
    yield lambda topic: EventTap(stack["kafka_bootstrap_servers"], topic)


@pytest.fixture
async def own_kafka(tmp_path: Path) -> AsyncIterator[OwnKafka]:
    """A running Kafka broker of this test's own (`.bootstrap`), which it may `stop()` and
    `start()` again; stopped at the end. Never stop the shared one."""
    kafka = OwnKafka(tmp_path / "own-kafka")
    await kafka.start()
    try:
        yield kafka
    finally:
        await kafka.stop()


class ClerkIssuer:
    """A Clerk stand-in for tests: its own RSA key pair, and session tokens signed with it."""

    def __init__(self, issuer: str = "https://clerk.byte.test", azp: str | None = None) -> None:
        from byte_stack.devclerk import DEV_ORIGIN
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.issuer = issuer
        # the origin its tokens are made for (`azp`), as Clerk's are for the app's: the dev origin,
        # which the gateways under test list among their authorized parties
        self.azp = azp or DEV_ORIGIN
        self.private_pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()
        self.public_pem = (
            key.public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            .decode()
        )

    @property
    def jwk(self) -> dict[str, Any]:
        from byte_stack.devclerk import jwk

        return jwk(self.public_pem)

    @property
    def kid(self) -> str:
        return self.jwk["kid"]

    def claims(
        self, org_id: str | None, user_id: str = "user_test", role: str = "admin", *, version: int = 2, **overrides: Any
    ) -> dict[str, Any]:
        from byte_stack.devclerk import session_claims

        claims = session_claims(
            user_id=user_id, org_id=org_id, role=role, issuer=self.issuer, version=version, azp=self.azp
        )
        claims.update(overrides)
        return {k: v for k, v in claims.items() if v is not None}

    def sign(self, claims: dict[str, Any], *, kid: str | None = None, headers: dict[str, Any] | None = None) -> str:
        import jwt

        return jwt.encode(
            claims, self.private_pem, algorithm="RS256", headers={"kid": kid or self.kid, **(headers or {})}
        )

    def token(
        self, org_id: str | None, user_id: str = "user_test", role: str = "admin", *, version: int = 2, **overrides: Any
    ) -> str:
        """A valid session token; `overrides` replace claims (None removes one)."""
        return self.sign(self.claims(org_id, user_id, role, version=version, **overrides))


@pytest.fixture(scope="session")
def clerk_issuer() -> ClerkIssuer:
    """`clerk_issuer.token(org_id, user_id, role)`: Clerk-shaped session tokens for the gateway."""
    return ClerkIssuer()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "stack: needs the real local stack (set on every test that uses it)")
    config.addinivalue_line(
        "markers", "durability: kills processes under load; in `make test`, and alone in `make test-durability`"
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # `make test-fast` deselects these: every test that reaches the stack, through any fixture.
    # A broker of the test's own counts too: it is a real server, started from the stack's jars.
    for item in items:
        if {"stack", "own_kafka"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.stack)


def test_folder(root: Path, path: Path) -> str:
    """`services/contacts`, `libs/platform`, `deploy/local`, `tests`: the folder whose tests share
    session fixtures."""
    parts = path.relative_to(root).parts
    return "/".join(parts[:1] if parts[0] == "tests" else parts[:2])


@pytest.fixture(scope="session")
def redis_url(logs_dir: Path) -> Iterator[str]:
    """A real Redis (Debian's redis-server, installed by `make test`) on a free port, in memory
    only, for the session."""
    import shutil
    import socket
    import subprocess
    import time

    from byte_testing.processes import free_port

    server = shutil.which("redis-server")
    assert server, "redis-server is not installed: run `make test`, which installs it"
    port = free_port()
    log = (logs_dir / f"redis-{port}.log").open("ab")
    proc = subprocess.Popen(
        [server, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no"],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 20
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                if s.recv(16).startswith(b"+PONG"):
                    break
        except OSError:
            pass
        assert proc.poll() is None and time.monotonic() < deadline, f"redis-server did not start; see {log.name}"
        time.sleep(0.1)
    yield f"redis://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(10)


@pytest.fixture(scope="session")
async def publish(stack: dict[str, Any]) -> AsyncIterator[Callable[[Envelope], Awaitable[None]]]:
    """Publishes an envelope the way another service's outbox relay would (topic of its type,
    key = subject)."""
    broker = make_broker(stack["kafka_bootstrap_servers"], client_id="byte-tests")
    await broker.start()

    async def _publish(envelope: Envelope) -> None:
        await broker.publish(
            envelope.to_bytes(),
            topic=topic_for(envelope.type),
            key=envelope.subject.encode(),
            headers={"event_type": envelope.type, "event_id": str(envelope.id)},
        )

    yield _publish
    await broker.stop()


class Helpers:
    """Plain helpers, as a fixture (tests import nothing from conftest under importlib mode)."""

    @staticmethod
    def event(
        event_type: str, org_id: str, subject: str, data: BaseModel, actor: str = "system:test", **kw: Any
    ) -> Envelope:
        return new_event(event_type, org_id=org_id, subject=subject, actor=actor, data=data, **kw)

    # byte_testing's, with the patience consumers need on a shared test stack
    eventually = staticmethod(functools.partial(eventually, timeout=60.0, interval=0.2))

    @staticmethod
    def is_problem(r: Any, status: int) -> bool:
        return r.status_code == status and r.headers["content-type"].startswith("application/problem+json")


@pytest.fixture(scope="session")
def h() -> type[Helpers]:
    return Helpers
