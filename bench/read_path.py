"""The read path: one page of contacts from a bare endpoint, from the contacts service, and
through the gateway, in one run.

    uv run python bench/read_path.py [--requests 2000] [--rounds 2]

Starts (or reuses) the `test` profile of the local stack, makes throwaway databases, seeds 1,000
contacts in one org, and starts three servers on them: the baseline (bench/bare_contacts.py: a
minimal Starlette route, one asyncpg transaction with the org set, the same SELECT,
`json.dumps`), the contacts service, and a gateway in front of the service (Clerk key as PEM,
rate limits out of the way). Each is measured with 1 client and with 16, in alternating rounds
so that machine noise hits all alike. Goals: service p50 <= 1.3x bare at one client; the gateway
adds <= 1 ms p50 at one client and keeps >= 0.9 of the service's throughput at 16.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import psutil
import psycopg
from byte_platform.identity import HEADER, mint
from byte_testing.plugin import ClerkIssuer
from byte_testing.processes import free_port
from harness import Databases, load, plain_dsn, service, summarize, test_stack

ORG = "org_bench"
PAGE = [{"limit": 50}]


def seed(dsn: str, count: int) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SELECT set_config('app.org_id', %s, false)", (ORG,))
        conn.execute(
            """
            INSERT INTO contacts (id, org_id, first_name, last_name, email, phone, status, tags, metadata,
                                  created_at, updated_at)
            SELECT gen_random_uuid(), %s, 'First' || i, 'Last' || i, 'person' || i || '@example.com',
                   '770-555-' || lpad((i %% 10000)::text, 4, '0'), 'active', ARRAY['tag' || (i %% 20)],
                   jsonb_build_object('source', 'bench', 'n', i), now() - (i || ' seconds')::interval, now()
            FROM generate_series(1, %s) AS i
            """,
            (ORG, count),
        )
        conn.execute("ANALYZE contacts")


class Bare:
    """bench/bare_contacts.py in a process of its own, like the service."""

    def __init__(self, dsn: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.dsn = dsn
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                sys.executable,
                str(Path(__file__).parent / "bare_contacts.py"),
                "--dsn",
                self.dsn,
                "--port",
                str(self.port),
                "--org",
                ORG,
            ]
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                httpx.get(f"{self.url}/v1/contacts", timeout=1).raise_for_status()
                return
            except httpx.HTTPError:
                time.sleep(0.2)
        raise RuntimeError("the bare endpoint did not start")

    def stop(self) -> None:
        if self.proc:
            self.proc.terminate()
            self.proc.wait(10)


def _cpu(times: Any) -> float:
    return float(times.user + times.system)


def combined(rounds: list[tuple[list[float], float]]) -> dict:
    return summarize([x for latencies, _ in rounds for x in latencies], sum(elapsed for _, elapsed in rounds))


async def run(args: argparse.Namespace) -> dict:
    results: dict = {
        "requests_per_round": args.requests,
        "rounds": args.rounds,
        "seeded_contacts": 1000,
        "page_size": 50,
    }
    issuer = ClerkIssuer()
    with test_stack() as env, Databases(env) as databases:
        contacts_url = databases.create("contacts")
        seed(plain_dsn(contacts_url), 1000)
        bare = Bare(plain_dsn(contacts_url))
        contacts = service(env, "contacts", contacts_url, consumers_enabled="false")
        gateway = service(
            env,
            "gateway",
            databases.create("gateway"),
            identity_private_key_file=env["identity_private_key_file"],
            clerk_jwt_key=issuer.public_pem,
            clerk_issuer=issuer.issuer,
            rate_limit_per_user="1000000/minute",
            rate_limit_per_org="1000000/minute",
        )
        try:
            bare.start()
            contacts.start()
            gateway.env["SERVICE_URLS_JSON"] = json.dumps({"contacts": contacts.url})
            gateway.start()
            direct = {
                HEADER: mint(
                    Path(env["identity_private_key_file"]).read_text(),
                    user_id="bench",
                    org_id=ORG,
                    roles=["admin"],
                    ttl_seconds=3600,
                )
            }
            session = {"Authorization": f"Bearer {issuer.token(ORG, 'bench', 'admin', exp=int(time.time()) + 3600)}"}
            paths = {"bare": (bare.url, {}), "service": (contacts.url, direct), "gateway": (gateway.url, session)}
            # CPU time each server process spends per request, its own only (the gateway's
            # excludes the service behind it): unlike latency, hardly moved by other load
            processes = {
                name: psutil.Process(server.proc.pid)
                for name, server in (("bare", bare), ("service", contacts), ("gateway", gateway))
                if server.proc is not None
            }
            for clients in (1, 16):
                rounds: dict[str, list[tuple[list[float], float]]] = {name: [] for name in paths}
                async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=clients * 2)) as client:
                    for url, headers in paths.values():  # warm-up
                        await load(client, f"{url}/v1/contacts", PAGE, 200, clients, headers)
                    cpu_seconds = dict.fromkeys(paths, 0.0)
                    for _ in range(args.rounds):
                        for name, (url, headers) in paths.items():
                            before = processes[name].cpu_times()
                            rounds[name].append(
                                await load(client, f"{url}/v1/contacts", PAGE, args.requests, clients, headers)
                            )
                            cpu_seconds[name] += _cpu(processes[name].cpu_times()) - _cpu(before)
                measured = {name: combined(r) for name, r in rounds.items()}
                for name, seconds in cpu_seconds.items():
                    measured[name]["cpu_ms_per_request"] = round(seconds * 1000 / measured[name]["requests"], 3)
                results[f"{clients}_clients"] = {
                    **measured,
                    "service_over_bare_p50": round(measured["service"]["p50_ms"] / measured["bare"]["p50_ms"], 2),
                    "gateway_added_p50_ms": round(measured["gateway"]["p50_ms"] - measured["service"]["p50_ms"], 2),
                    "gateway_over_service_rps": round(measured["gateway"]["rps"] / measured["service"]["rps"], 2),
                    "service_over_bare_cpu": round(
                        measured["service"]["cpu_ms_per_request"] / measured["bare"]["cpu_ms_per_request"], 2
                    ),
                }
        finally:
            gateway.stop()
            contacts.stop()
            bare.stop()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=2)
    print(json.dumps(asyncio.run(run(parser.parse_args())), indent=2))


if __name__ == "__main__":
    main()
