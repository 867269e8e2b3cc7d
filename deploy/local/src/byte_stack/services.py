"""Running the services listed in services.toml: migrations first, then `python -m <package>`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx

from . import procs
from .profiles import HOST, Service, service_environment

START_TIMEOUT = 90.0


def proc_name(svc: Service) -> str:
    return f"svc-{svc.name}"


def log_file(state: Path, svc: Service) -> Path:
    # logs/<service>.log; the pid file is svc-<service> so a service can't shadow an infra component
    return procs.log_path(state, svc.name)


def check(svc: Service) -> bool:
    return httpx.get(f"http://{HOST}:{svc.port}/readyz", timeout=3).status_code == 200


def migrate(svc: Service, env: dict, root: Path, state: Path) -> None:
    if not svc.alembic:
        return
    ini = root / svc.alembic
    if not ini.exists():
        raise procs.StackError(f"{svc.name}: alembic config {ini} does not exist")
    log = state / "logs" / f"{svc.name}-migrate.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        r = subprocess.run(
            [sys.executable, "-m", "alembic", "-c", str(ini), "upgrade", "head"],
            cwd=root,
            env={**os.environ, **service_environment(env, svc)},
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            timeout=300,
            check=False,
        )
    if r.returncode != 0:
        raise procs.StackError(f"{svc.name}: migrations failed (exit {r.returncode})\n  log: {log}\n{procs.tail(log)}")


def ensure(svc: Service, env: dict, root: Path, state: Path) -> bool:
    """Start one service unless it already runs; wait for GET /readyz == 200."""
    name = proc_name(svc)
    log = log_file(state, svc)
    proc = procs.running(state, name)
    started = False
    if proc is None:
        procs.ensure_port_free(svc.name, HOST, svc.port)
        migrate(svc, env, root, state)
        proc = procs.spawn(
            state,
            name,
            [sys.executable, "-m", svc.package],
            env={**os.environ, "PYTHONUNBUFFERED": "1", **service_environment(env, svc)},
            cwd=root,
            log=log,
        )
        started = True
    try:
        procs.wait_healthy(svc.name, lambda: check(svc), timeout=START_TIMEOUT, proc=proc, log=log)
    except procs.StackError:
        if started:  # don't leave a half-started service holding its port
            procs.stop(state, name, timeout=5)
        raise
    return started


def stop(state: Path, svc_proc_name: str) -> bool:
    return procs.stop(state, svc_proc_name, timeout=15)
