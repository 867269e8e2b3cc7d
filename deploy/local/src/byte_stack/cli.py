"""`byte-stack up|infra|down|status|env|token|identity-token|demo [--profile dev|test]`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import time
from pathlib import Path

from . import demo, devclerk, identity, stack
from .procs import StackError
from .profiles import (
    PROFILES,
    build_env,
    export_lines,
    find_externals,
    get_profile,
    load_services,
)


def _summary(env: dict, with_services: bool) -> str:
    state = Path(env["state_dir"])
    lines = [f"BYTE stack ({env['profile']}) is up:"]
    for name, svc in env["services"].items() if with_services else ():
        lines.append(f"  {name:<12} {svc['url']}/docs")
    lines += [
        f"  {'temporal':<12} {env['temporal_address']}"
        + (f"  (UI {env['temporal_ui_url']})" if env["temporal_ui_url"] else ""),
        f"  {'postgres':<12} {env['database_admin_url']}",
        f"  {'kafka':<12} {env['kafka_bootstrap_servers']}",
        f"  {'smtp':<12} {env['smtp_host']}:{env['smtp_port']}"
        + (f"  (mail: {env['mail_http_url']}/messages, files in {env['mail_dir']})" if env["mail_http_url"] else ""),
        f"  {'logs':<12} {env['logs_dir']}",
        f'  {"env":<12} {state / "env.json"}   (shell: eval "$(byte-stack env --profile {env["profile"]})")',
    ]
    if env["external"]:
        lines.append(f"  external:    {', '.join(env['external'])}")
    return "\n".join(lines)


def _roles(args: argparse.Namespace) -> list[str]:
    return [r.strip() for r in args.roles.split(",") if r.strip()]


def _token(args: argparse.Namespace) -> str:
    """A Clerk-shaped session token from the dev issuer: what a browser would send the gateway."""
    profile = get_profile(args.profile)
    env = build_env(profile, [], externals=find_externals(profile))
    private, public = Path(env["clerk_private_key_file"]), Path(env["clerk_public_key_file"])
    devclerk.ensure_keys(private, public)
    roles = _roles(args)
    if len(roles) > 1:
        raise StackError(f"token: a Clerk session carries one org role, not {roles} (use --role)")
    claims = devclerk.session_claims(
        user_id=args.user,
        org_id=args.org or None,
        role=roles[0] if roles else "admin",
        issuer=env["clerk_issuer"],
        ttl_seconds=args.ttl,
        version=1 if args.v1 else 2,
        azp=args.azp or None,
    )
    return devclerk.mint_session_token(private.read_text(), public.read_text(), claims)


def _identity_token(args: argparse.Namespace) -> str:
    """An internal identity, as the gateway mints it for the services (for calling one directly)."""
    profile = get_profile(args.profile)
    env = build_env(profile, [], externals=find_externals(profile))
    private, public = Path(env["identity_private_key_file"]), Path(env["identity_public_key_file"])
    identity.ensure_keys(private, public)
    try:
        # the gateway's own minting code, so the token is exactly what services verify
        from byte_platform.identity import mint
    except ImportError as e:
        raise StackError(f"identity-token: byte_platform is not installed in this environment ({e})") from e
    return mint(private.read_text(), user_id=args.user, org_id=args.org, roles=_roles(args), ttl_seconds=args.ttl)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="byte-stack", description="BYTE's local runtime stack, without Docker")
    ap.add_argument("command", choices=["up", "infra", "down", "status", "env", "token", "identity-token", "demo"])
    ap.add_argument("--profile", default="dev", choices=sorted(PROFILES))
    ap.add_argument("--services", type=Path, default=None, help="service registry (default deploy/local/services.toml)")
    tok = ap.add_argument_group(
        "token (a Clerk-shaped session token from the dev issuer, for the gateway) and "
        "identity-token (an internal identity, as the gateway mints it for the services)"
    )
    tok.add_argument("--org", default="org_dev", help="the active org; empty for a session without one")
    tok.add_argument("--user", default="user_dev")
    tok.add_argument(
        "--roles",
        "--role",
        dest="roles",
        default="admin",
        help="admin, user, guest, owner or a custom role (reviewer, ...); identity-token: comma-separated",
    )
    tok.add_argument("--ttl", type=int, default=3600, help="seconds")
    tok.add_argument("--v1", action="store_true", help="token: Clerk's v1 claims (org_id, org_role) instead of v2")
    tok.add_argument("--azp", default=devclerk.DEV_ORIGIN, help="token: the authorized party (origin); empty for none")
    args = ap.parse_args(argv)

    t0 = time.monotonic()
    try:
        if args.command in ("up", "infra"):
            fn = stack.up if args.command == "up" else stack.ensure_infra
            env, started = fn(args.profile, args.services)
            print(_summary(env, with_services=args.command == "up"))
            print(f"({'started' if started else 'already running'}; {time.monotonic() - t0:.1f}s)")
        elif args.command == "down":
            stopped = stack.stop(args.profile)
            print(f"stopped: {', '.join(stopped)}" if stopped else "nothing was running")
        elif args.command == "status":
            rows = stack.status(args.profile, args.services)
            for r in rows:
                state = "external" if r["external"] else (f"pid {r['pid']}" if r["pid"] else "stopped")
                health = "healthy" if r["healthy"] else ("UNHEALTHY" if (r["pid"] or r["external"]) else "-")
                print(f"{r['name']:<12} {state:<12} {health:<10} {r['where']}")
            if any((r["pid"] or r["external"]) and not r["healthy"] for r in rows):
                return 3  # something runs but does not answer; merely stopped is not an error
        elif args.command == "env":
            profile = get_profile(args.profile)
            env = build_env(profile, load_services(profile, args.services), externals=find_externals(profile))
            with contextlib.suppress(BrokenPipeError):  # `byte-stack env | head`
                print("\n".join(export_lines(env)))
        elif args.command == "token":
            print(_token(args))
        elif args.command == "identity-token":
            print(_identity_token(args))
        elif args.command == "demo":
            asyncio.run(demo.run(demo.target_for(args.profile, args.org or "org_demo")))
    except StackError as e:
        print(f"byte-stack {args.command} --profile {args.profile} FAILED:\n{e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"\ninterrupted; `byte-stack down --profile {args.profile}` stops what started", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
