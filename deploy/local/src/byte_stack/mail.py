"""Running the SMTP sink (byte_stack.mail_server) as a component of the stack."""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

from . import procs
from .profiles import HOST, Profile

NAME = "mail"
START_TIMEOUT = 30.0


def check_smtp(host: str, port: int) -> bool:
    with socket.create_connection((host, port), timeout=2) as s:
        s.settimeout(3)
        banner = s.recv(512)
        s.sendall(b"QUIT\r\n")
        return banner.startswith(b"220")


def check(host: str, smtp_port: int, http_url: str) -> bool:
    import httpx

    return check_smtp(host, smtp_port) and httpx.get(f"{http_url}/healthz", timeout=3).status_code == 200


def ensure(profile: Profile, state: Path) -> bool:
    log = procs.log_path(state, NAME)
    proc = procs.running(state, NAME)
    started = False
    if proc is None:
        procs.ensure_port_free(NAME, HOST, profile.smtp_port)
        procs.ensure_port_free(NAME, HOST, profile.mail_http_port)
        argv = [
            sys.executable,
            "-m",
            "byte_stack.mail_server",
            "--dir",
            str(state / "mail"),
            "--smtp-port",
            str(profile.smtp_port),
            "--http-port",
            str(profile.mail_http_port),
        ]
        proc = procs.spawn(state, NAME, argv, env={**os.environ, "PYTHONUNBUFFERED": "1"})
        started = True
    http_url = f"http://{HOST}:{profile.mail_http_port}"
    procs.wait_healthy(
        NAME, lambda: check(HOST, profile.smtp_port, http_url), timeout=START_TIMEOUT, proc=proc, log=log
    )
    return started


def stop(state: Path) -> bool:
    return procs.stop(state, NAME, timeout=10)
