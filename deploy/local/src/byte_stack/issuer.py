"""Running the dev issuer (byte_stack.issuer_server) as a component of the stack."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from . import procs
from .profiles import HOST, Profile

NAME = "issuer"
START_TIMEOUT = 30.0


def check(url: str) -> bool:
    import httpx

    return bool(httpx.get(url, timeout=3).json().get("keys"))


def ensure(profile: Profile, state: Path, public_key: Path, jwks_url: str) -> bool:
    log = procs.log_path(state, NAME)
    proc = procs.running(state, NAME)
    started = False
    if proc is None:
        procs.ensure_port_free(NAME, HOST, profile.issuer_port)
        argv = [
            sys.executable,
            "-m",
            "byte_stack.issuer_server",
            "--public-key",
            str(public_key),
            "--port",
            str(profile.issuer_port),
        ]
        proc = procs.spawn(state, NAME, argv, env={**os.environ, "PYTHONUNBUFFERED": "1"})
        started = True
    procs.wait_healthy(NAME, lambda: check(jwks_url), timeout=START_TIMEOUT, proc=proc, log=log)
    return started


def stop(state: Path) -> bool:
    return procs.stop(state, NAME, timeout=10)
