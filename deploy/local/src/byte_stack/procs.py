"""Starting, finding and stopping the stack's processes, and waiting for them to be healthy.

Each component runs in its own session (process group), so `down` can end it with everything it
forked. Its pid file holds the pid and the process start time, so a recycled pid is not mistaken
for ours.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil

# Popen objects of children started by this process, so they are reaped (no zombies when a
# long-lived caller such as pytest starts and stops the stack).
_children: dict[int, subprocess.Popen] = {}


class StackError(RuntimeError):
    """A component failed; the message names it and points at its log."""


@dataclass(frozen=True)
class Proc:
    name: str
    pid: int
    create_time: float


def pid_dir(state: Path) -> Path:
    return state / "pids"


def log_path(state: Path, name: str) -> Path:
    return state / "logs" / f"{name}.log"


def read_pidfile(state: Path, name: str) -> Proc | None:
    try:
        data = json.loads((pid_dir(state) / f"{name}.json").read_text())
        return Proc(name, int(data["pid"]), float(data["create_time"]))
    except (FileNotFoundError, ValueError, KeyError):
        return None


def alive(proc: Proc | None) -> bool:
    if proc is None:
        return False
    if (child := _children.get(proc.pid)) is not None and child.poll() is not None:
        return False
    try:
        p = psutil.Process(proc.pid)
        return abs(p.create_time() - proc.create_time) < 1.0 and p.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def running(state: Path, name: str) -> Proc | None:
    proc = read_pidfile(state, name)
    return proc if alive(proc) else None


def recorded(state: Path) -> list[str]:
    d = pid_dir(state)
    return sorted(p.stem for p in d.glob("*.json")) if d.exists() else []


def spawn(
    state: Path,
    name: str,
    argv: list[str],
    *,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    user: str | None = None,
    log: Path | None = None,
) -> Proc:
    log = log or log_path(state, name)
    log.parent.mkdir(parents=True, exist_ok=True)
    pid_dir(state).mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        out.write(
            f"\n===== byte-stack: starting {name} at {time.strftime('%Y-%m-%d %H:%M:%S')}: {' '.join(argv)}\n".encode()
        )
        out.flush()
        kwargs: dict = {}
        if user is not None:
            import pwd

            pw = pwd.getpwnam(user)
            kwargs = {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": []}
        popen = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=cwd,
            start_new_session=True,
            **kwargs,
        )
    _children[popen.pid] = popen
    try:
        create_time = psutil.Process(popen.pid).create_time()
    except psutil.Error:  # died at once; wait_healthy reports it with its log
        create_time = 0.0
    proc = Proc(name, popen.pid, create_time)
    (pid_dir(state) / f"{name}.json").write_text(
        json.dumps({"pid": proc.pid, "create_time": create_time, "argv": argv})
    )
    return proc


def _group_members(pgid: int) -> list[psutil.Process]:
    out = []
    for p in psutil.process_iter(["pid"]):
        with contextlib.suppress(psutil.Error, OSError):
            if os.getpgid(p.pid) == pgid:
                out.append(p)
    return out


def stop(state: Path, name: str, *, timeout: float = 20.0, first_signal: int = signal.SIGTERM) -> bool:
    """Stop a component: first_signal to its leader, then SIGTERM to its group, SIGKILL after timeout.

    Returns True when something was running.
    """
    proc = read_pidfile(state, name)
    pidfile = pid_dir(state) / f"{name}.json"
    if not alive(proc):
        pidfile.unlink(missing_ok=True)
        return False
    assert proc is not None
    # the leader and its descendants, also those that left the group
    try:
        leader = psutil.Process(proc.pid)
        procs = [leader, *leader.children(recursive=True)]
    except psutil.Error:
        procs = []
    pgid = proc.pid  # start_new_session made the leader a group leader
    procs += [p for p in _group_members(pgid) if p.pid not in {q.pid for q in procs}]
    with contextlib.suppress(ProcessLookupError):
        os.kill(proc.pid, first_signal)
    # let the leader shut its children down in order before signalling them directly
    _, still = psutil.wait_procs(procs[:1], timeout=timeout / 2)
    if still or first_signal != signal.SIGTERM:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGTERM)
    _, still = psutil.wait_procs(procs, timeout=timeout / 2)
    for p in still:
        with contextlib.suppress(psutil.Error):
            p.kill()
    psutil.wait_procs(still, timeout=5)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)
    if (child := _children.pop(proc.pid, None)) is not None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.wait(timeout=5)
    pidfile.unlink(missing_ok=True)
    return True


def tail(path: Path, lines: int = 25) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no log)"


def wait_healthy(
    name: str,
    check: Callable[[], bool],
    *,
    timeout: float,
    proc: Proc | None = None,
    log: Path | None = None,
    interval: float = 0.25,
) -> None:
    """Poll `check` until it returns True; fail early if `proc` dies, fail after `timeout`."""
    deadline = time.monotonic() + timeout
    last_error: BaseException | None = None
    while True:
        try:
            if check():
                return
        except Exception as e:
            last_error = e
        if proc is not None and not alive(proc):
            raise StackError(_failure(name, "exited while starting", log, last_error))
        if time.monotonic() > deadline:
            raise StackError(_failure(name, f"not healthy after {timeout:.0f}s", log, last_error))
        time.sleep(interval)


def _failure(name: str, what: str, log: Path | None, err: BaseException | None) -> str:
    msg = f"{name}: {what}"
    if err is not None:
        msg += f" (last check: {type(err).__name__}: {err})"
    if log is not None:
        msg += f"\n  log: {log}\n  --- last lines ---\n{tail(log)}"
    return msg


def port_open(host: str, port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def ensure_port_free(name: str, host: str, port: int) -> None:
    """Fail clearly when a port we are about to bind is held by something that is not ours."""
    if port_open(host, port, timeout=0.5):
        raise StackError(f"{name}: port {host}:{port} is already in use by {_port_owner(port)}, not by this profile")


def _port_owner(port: int) -> str:
    with contextlib.suppress(psutil.Error, OSError):
        for c in psutil.net_connections("tcp"):
            if c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port == port and c.pid:
                return f"pid {c.pid} ({' '.join(psutil.Process(c.pid).cmdline())[:160]})"
    return "another process"


def orphans(state: Path) -> list[psutil.Process]:
    """Processes whose command line points into this profile's state dir but that no pid file
    names (e.g. the pid files were deleted while the stack ran)."""
    marker = str(state.resolve()) + "/"
    known = {p.pid for n in recorded(state) if (p := read_pidfile(state, n))}
    me = os.getpid()
    found = []
    for p in psutil.process_iter(["pid", "cmdline"]):
        argv = p.info["cmdline"] or []
        cmd = " ".join(argv)
        # only our own kinds of server, never e.g. someone's `tail -f .state/dev/logs/kafka.log`
        ours = any(sig in cmd for sig in _SERVER_SIGNATURES)
        if ours and marker in cmd and p.pid not in known and p.pid != me:
            found.append(p)
    return found


_SERVER_SIGNATURES = ("pginstall/bin/postgres ", " kafka.Kafka ", " server start-dev ", "-m byte_stack.mail_server ")


def stop_orphans(state: Path, timeout: float = 10.0) -> list[int]:
    found = orphans(state)
    for p in found:
        with contextlib.suppress(psutil.Error):
            p.terminate()
    _, still = psutil.wait_procs(found, timeout=timeout)
    for p in still:
        with contextlib.suppress(psutil.Error):
            p.kill()
    psutil.wait_procs(still, timeout=5)
    return [p.pid for p in found]


@contextlib.contextmanager
def locked(state: Path) -> Iterator[None]:
    """One `up`/`down` at a time per profile (e.g. several pytest workers calling ensure_infra)."""
    state.mkdir(parents=True, exist_ok=True)
    with open(state / "stack.lock", "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)
