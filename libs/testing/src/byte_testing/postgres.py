"""A PostgreSQL of one test's own, for tests that must break the database (stop it under load,
restart it): the shared one serves every other test and is never touched.

Same binaries and settings as the stack's (`byte_stack.postgres`), on a free port, in a
temporary directory removed afterwards.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from byte_testing.processes import free_port, migrate


class OwnPostgres:
    def __init__(self, log_dir: Path) -> None:
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="byte-own-pg-"))
        self.pgdata = self.root / "pg"
        self.log_path = log_dir / f"own-postgres-{self.port}.log"
        self.proc: subprocess.Popen | None = None

    @property
    def admin_url(self) -> str:
        from byte_stack.profiles import PG_SUPERUSER, PG_SUPERUSER_PASSWORD

        return f"postgresql://{PG_SUPERUSER}:{PG_SUPERUSER_PASSWORD}@127.0.0.1:{self.port}/postgres"

    def start(self, timeout: float = 60) -> OwnPostgres:
        from byte_stack import postgres as stack_pg
        from byte_stack.profiles import PROFILES

        stack_pg.initdb(self.pgdata, self.log_path)
        (self.pgdata / "postmaster.pid").unlink(missing_ok=True)  # we stopped it; it is not running
        profile = dataclasses.replace(PROFILES["test"], postgres_port=self.port)
        kwargs: dict = {}
        if os.geteuid() == 0:  # PostgreSQL refuses root; the stack runs it as its own system user
            import pwd

            user = pwd.getpwnam(stack_pg.SYSTEM_USER)
            kwargs = {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                stack_pg.server_argv(profile, self.pgdata, fast=True),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env={"PATH": os.environ.get("PATH", ""), "LC_ALL": "C.UTF-8"},
                **kwargs,
            )
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"own PostgreSQL exited with {self.proc.returncode}; see {self.log_path}")
            try:
                with psycopg.connect(self.admin_url, connect_timeout=2) as conn:
                    conn.execute("SELECT 1")
                return self
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"own PostgreSQL not up after {timeout}s; see {self.log_path}") from None
                time.sleep(0.1)

    def stop(self) -> None:
        """PostgreSQL's fast shutdown: every session is disconnected, as in a failover."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)

    def restart(self, down_for: float) -> None:
        self.stop()
        time.sleep(down_for)
        self.start()

    def provision(self, service: str) -> str:
        """A role and database for `service`, as the stack makes them (not a superuser, so
        row-level security binds it), migrated; returns its URL."""
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(
                sql.SQL("CREATE ROLE {} LOGIN NOSUPERUSER NOBYPASSRLS PASSWORD {}").format(
                    sql.Identifier(service), sql.Literal(service)
                )
            )
            conn.execute(
                sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(service), sql.Identifier(service))
            )
        url = f"postgresql+asyncpg://{service}:{service}@127.0.0.1:{self.port}/{service}"
        migrate(service, url)
        return url

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture
def own_postgres(logs_dir: Path) -> Iterator[Callable[[], OwnPostgres]]:
    """`own_postgres()` -> a running PostgreSQL of this test's own, which it may stop and start;
    removed when the test ends (stop the services using it first)."""
    made: list[OwnPostgres] = []

    def _make() -> OwnPostgres:
        server = OwnPostgres(logs_dir)
        made.append(server)
        return server.start()

    yield _make
    for server in made:
        server.remove()
