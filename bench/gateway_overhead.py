"""What the gateway costs: authenticated `GET /v1/contacts` through the gateway against the same
request straight at the contacts service (with an internal identity), one client, one run.

    uv run python bench/gateway_overhead.py [--requests 3000] [--concurrency 16] [--rounds 2]

Starts (or reuses) the `test` profile of the local stack, makes throwaway databases, starts the
contacts service and a gateway in front of it (Clerk key as PEM, rate limits out of the way),
seeds 1,000 contacts, then alternates direct and gateway rounds so that machine noise hits both
alike. Prints p50/p99/throughput per path, the p50 difference (goal: <= 2 ms) and the throughput
ratio gateway/direct (goal: >= 0.6).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path

import httpx
import psycopg
from byte_platform.identity import HEADER, mint
from byte_testing.plugin import ClerkIssuer
from harness import Databases, load, plain_dsn, service, summarize, test_stack

ORG = "org_bench"


def seed(dsn: str, count: int) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SELECT set_config('app.org_id', %s, false)", (ORG,))
        conn.execute(
            """
            INSERT INTO contacts (id, org_id, first_name, last_name, email, status, created_at, updated_at)
            SELECT gen_random_uuid(), %s, 'First' || i, 'Last' || i, 'person' || i || '@example.com', 'active',
                   now() - (i || ' seconds')::interval, now()
            FROM generate_series(1, %s) AS i
            """,
            (ORG, count),
        )
        conn.execute("ANALYZE contacts")


def combined(rounds: list[tuple[list[float], float]]) -> dict:
    return summarize([x for latencies, _ in rounds for x in latencies], sum(elapsed for _, elapsed in rounds))


async def run(args: argparse.Namespace) -> dict:
    results: dict = {"requests_per_round": args.requests, "concurrency": args.concurrency, "rounds": args.rounds,
                     "seeded_contacts": 1000, "page_size": 50}
    issuer = ClerkIssuer()
    with test_stack() as env, Databases(env) as databases:
        contacts_url = databases.create("contacts")
        contacts = service(env, "contacts", contacts_url)
        gateway = service(
            env, "gateway", databases.create("gateway"),
            identity_private_key_file=env["identity_private_key_file"],
            clerk_jwt_key=issuer.public_pem, clerk_issuer=issuer.issuer,
            rate_limit_per_user="1000000/minute", rate_limit_per_org="1000000/minute",
        )
        try:
            contacts.start()
            gateway.env["SERVICE_URLS_JSON"] = json.dumps({"contacts": contacts.url})
            gateway.start()
            seed(plain_dsn(contacts_url), 1000)
            direct_headers = {HEADER: mint(Path(env["identity_private_key_file"]).read_text(), user_id="bench",
                                           org_id=ORG, roles=["admin"], ttl_seconds=3600)}
            gateway_headers = {"Authorization": f"Bearer {issuer.token(ORG, 'bench', 'admin', exp=int(time.time()) + 3600)}"}
            paths = {"direct": (contacts.url, direct_headers), "gateway": (gateway.url, gateway_headers)}
            rounds: dict[str, list[tuple[list[float], float]]] = {"direct": [], "gateway": []}
            page = [{"limit": 50}]
            async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=args.concurrency * 2)) as client:
                for url, headers in paths.values():  # warm-up
                    await load(client, f"{url}/v1/contacts", page, 200, args.concurrency, headers)
                for _ in range(args.rounds):  # alternating, so machine noise hits both alike
                    for name, (url, headers) in paths.items():
                        rounds[name].append(
                            await load(client, f"{url}/v1/contacts", page, args.requests, args.concurrency, headers))
        finally:
            gateway.stop()
            contacts.stop()
    direct, through = combined(rounds["direct"]), combined(rounds["gateway"])
    results["direct"] = direct
    results["gateway"] = through
    results["p50_added_ms"] = round(through["p50_ms"] - direct["p50_ms"], 2)
    results["p99_added_ms"] = round(through["p99_ms"] - direct["p99_ms"], 2)
    results["throughput_ratio_gateway_over_direct"] = round(through["rps"] / direct["rps"], 2)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=2)
    print(json.dumps(asyncio.run(run(parser.parse_args())), indent=2))


if __name__ == "__main__":
    main()
