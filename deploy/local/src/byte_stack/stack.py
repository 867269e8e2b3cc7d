"""Bringing the whole stack up and down for a profile."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from . import devclerk, identity, issuer, kafka, mail, postgres, procs, services, temporal
from .profiles import (
    HOST,
    Externals,
    build_env,
    find_externals,
    get_profile,
    load_services,
    repo_root,
    state_dir,
)

INFRA = ("postgres", "kafka", "temporal", "mail", "issuer")
_STOPPERS: dict[str, Callable[[Path], bool]] = {
    "mail": mail.stop,
    "issuer": issuer.stop,
    "temporal": temporal.stop,
    "kafka": kafka.stop,
    "postgres": postgres.stop,
}
EXTERNAL_TIMEOUT = 30.0


def _context(profile_name: str, services_toml: Path | None = None):
    profile = get_profile(profile_name)
    root = repo_root()
    svcs = load_services(profile, services_toml)
    ext = find_externals(profile)
    env = build_env(profile, svcs, root, ext)
    return profile, root, state_dir(profile, root), svcs, ext, env


def _write_env(state: Path, env: dict) -> None:
    tmp = state / "env.json.tmp"
    tmp.write_text(json.dumps(env, indent=2) + "\n")
    tmp.rename(state / "env.json")


def _infra_tasks(profile, state: Path, ext: Externals, env: dict) -> dict[str, Callable[[], bool]]:
    """One callable per component: start it (or check the external one); True when started now."""

    def external(name: str, check: Callable[[], bool]) -> Callable[[], bool]:
        def run() -> bool:
            procs.wait_healthy(f"{name} (external)", check, timeout=EXTERNAL_TIMEOUT)
            return False

        return run

    tasks: dict[str, Callable[[], bool]] = {}
    admin = env["database_admin_url"]
    tasks["postgres"] = (
        external("postgres", lambda: postgres.check(admin))
        if ext.database_admin_url
        else lambda: postgres.ensure(profile, state, admin)
    )
    bootstrap = env["kafka_bootstrap_servers"]
    tasks["kafka"] = (
        external("kafka", lambda: kafka.check(bootstrap))
        if ext.kafka_bootstrap_servers
        else lambda: kafka.ensure(profile, state, bootstrap)
    )
    address = env["temporal_address"]
    tasks["temporal"] = (
        external("temporal", lambda: temporal.check_grpc(address))
        if ext.temporal_address
        else lambda: temporal.ensure(profile, state, address, env["temporal_ui_url"])
    )
    smtp = ext.smtp
    tasks["mail"] = external("smtp", lambda: mail.check_smtp(*smtp)) if smtp else lambda: mail.ensure(profile, state)
    tasks["issuer"] = lambda: issuer.ensure(profile, state, Path(env["clerk_public_key_file"]), env["clerk_jwks_url"])
    return tasks


def _run_parallel(tasks: dict[str, Callable[[], bool]]) -> bool:
    # the JVM, Temporal and initdb all take seconds: start them side by side
    with ThreadPoolExecutor(max_workers=len(tasks)) as pool:
        futures = {name: pool.submit(fn) for name, fn in tasks.items()}
        errors, started = [], False
        for name, fut in futures.items():
            try:
                started |= fut.result()
            except procs.StackError as e:
                errors.append(str(e))
            except Exception as e:
                errors.append(f"{name}: {type(e).__name__}: {e}")
    if errors:
        raise procs.StackError("\n\n".join(errors) + "\n\n(components started by this call were stopped again)")
    return started


def ensure_infra(profile: str = "test", services_toml: Path | None = None) -> tuple[dict, bool]:
    """Start the infrastructure of `profile` unless it runs; returns (env.json content, started).

    `started` is True when this call started at least one component, so a pytest fixture can
    stop only what it started.
    """
    prof, _, state, svcs, ext, env = _context(profile, services_toml)
    with procs.locked(state):
        for d in ("logs", "pids", "mail"):
            (state / d).mkdir(parents=True, exist_ok=True)
        identity.ensure_keys(Path(env["identity_private_key_file"]), Path(env["identity_public_key_file"]))
        devclerk.ensure_keys(Path(env["clerk_private_key_file"]), Path(env["clerk_public_key_file"]))
        devclerk.ensure_webhook_secret(Path(env["clerk_webhook_secret_file"]))
        before = {n for n in INFRA if procs.running(state, n)}
        try:
            started = _run_parallel(_infra_tasks(prof, state, ext, env))
        except procs.StackError:
            # undo only this call's starts: a failed pytest session must not leak servers, and
            # what ran before (someone's `make test`) keeps running
            for name in INFRA:
                if name not in before:
                    _STOPPERS[name](state)
            raise
        try:
            postgres.provision(env["database_admin_url"], svcs)
        except Exception as e:
            raise procs.StackError(
                f"postgres: creating the service roles/databases failed: {e}\n"
                f"  log: {procs.log_path(state, 'postgres')}"
            ) from e
        _write_env(state, env)
    for note in ext.notes:
        print(f"note: {note}")
    return env, started


def up(profile: str = "dev", services_toml: Path | None = None) -> tuple[dict, bool]:
    """Infrastructure, then every service of the registry in order; returns when all are healthy."""
    env, started = ensure_infra(profile, services_toml)
    _, root, state, svcs, _, _ = _context(profile, services_toml)
    with procs.locked(state):
        for svc in svcs:
            started |= services.ensure(svc, env, root, state)
    return env, started


def stop(profile: str = "test") -> list[str]:
    """Stop everything this profile started (services first); returns the names stopped."""
    prof = get_profile(profile)
    state = state_dir(prof)
    if not state.exists():
        return []
    stopped = []
    with procs.locked(state):
        names = procs.recorded(state)
        svc_names = [n for n in names if n.startswith("svc-")]
        for name in reversed(svc_names):
            if services.stop(state, name):
                stopped.append(name.removeprefix("svc-"))
        # the infrastructure parts don't depend on each other once the services are gone
        with ThreadPoolExecutor(max_workers=len(_STOPPERS)) as pool:
            results = {name: pool.submit(fn, state) for name, fn in _STOPPERS.items()}
        stopped += [name for name, fut in results.items() if fut.result()]
        for name in procs.recorded(state):  # anything else a pid file names
            if procs.stop(state, name):
                stopped.append(name)
        # a safety net for processes whose pid files were lost
        stopped += [f"orphan pid {pid}" for pid in procs.stop_orphans(state)]
    return stopped


def status(profile: str = "dev", services_toml: Path | None = None) -> list[dict]:
    _, _, state, svcs, ext, env = _context(profile, services_toml)

    def healthy(fn: Callable[[], bool]) -> bool:
        try:
            return bool(fn())
        except Exception:
            return False

    rows = []
    checks = {
        "postgres": (
            ext.database_admin_url,
            lambda: postgres.check(env["database_admin_url"]),
            env["database_admin_url"],
        ),
        "kafka": (
            ext.kafka_bootstrap_servers,
            lambda: kafka.check(env["kafka_bootstrap_servers"]),
            env["kafka_bootstrap_servers"],
        ),
        "temporal": (
            ext.temporal_address,
            lambda: temporal.check_grpc(env["temporal_address"]),
            env["temporal_address"],
        ),
        "mail": (
            ext.smtp,
            lambda: mail.check_smtp(env["smtp_host"], env["smtp_port"]),
            f"{env['smtp_host']}:{env['smtp_port']}",
        ),
        "issuer": (None, lambda: issuer.check(env["clerk_jwks_url"]), env["clerk_jwks_url"]),
    }
    for name, (external, check, where) in checks.items():
        proc = procs.running(state, name)
        rows.append(
            {
                "name": name,
                "pid": proc.pid if proc else None,
                "external": bool(external),
                "healthy": healthy(check) if (proc or external) else False,
                "where": where,
                "log": None if external else str(procs.log_path(state, name)),
            }
        )
    for svc in svcs:
        proc = procs.running(state, services.proc_name(svc))
        rows.append(
            {
                "name": svc.name,
                "pid": proc.pid if proc else None,
                "external": False,
                "healthy": healthy(functools.partial(services.check, svc)) if proc else False,
                "where": f"http://{HOST}:{svc.port}",
                "log": str(services.log_file(state, svc)),
            }
        )
    return rows
