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
import statistics
import time
import uuid
from pathlib import Path

import httpx
import psycopg
import sqlalchemy as sa
from byte_platform.identity import HEADER, mint
from byte_testing.plugin import ClerkIssuer
from byte_testing.processes import ServiceProcess, migrate

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


async def measure(client: httpx.AsyncClient, url: str, headers: dict, requests: int, concurrency: int) -> list[float]:
    latencies: list[float] = []
    counter = iter(range(requests))

    async def worker() -> None:
        for _ in counter:
            t0 = time.perf_counter()
            r = await client.get(f"{url}/v1/contacts", params={"limit": 50}, headers=headers)
            latencies.append(time.perf_counter() - t0)
            r.raise_for_status()

    started = time.perf_counter()
    await asyncio.gather(*[worker() for _ in range(concurrency)])
    latencies.append(-(time.perf_counter() - started))  # elapsed, marked negative
    return latencies


def summary(samples: list[list[float]]) -> dict:
    latencies = sorted(x for s in samples for x in s if x >= 0)
    elapsed = sum(-x for s in samples for x in s if x < 0)
    return {
        "requests": len(latencies),
        "p50_ms": round(statistics.median(latencies) * 1000, 2),
        "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 2),
        "rps": round(len(latencies) / elapsed, 1),
    }


async def run(args: argparse.Namespace) -> dict:
    import byte_stack

    env, started = byte_stack.ensure_infra("test")
    admin_url = env["database_admin_url"]
    names: list[str] = []

    def database(service: str) -> str:
        name = f"{service}_bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}" OWNER {service}')
        names.append(name)
        url = env["services"][service]["database_url"].rsplit("/", 1)[0] + "/" + name
        migrate(service, url)
        return url

    issuer = ClerkIssuer()
    common = {"KAFKA_BOOTSTRAP_SERVERS": env["kafka_bootstrap_servers"],
              "IDENTITY_PUBLIC_KEY_FILE": env["identity_public_key_file"], "LOG_LEVEL": "WARNING"}
    contacts_url = database("contacts")
    contacts = ServiceProcess("contacts", {**common, "DATABASE_URL": contacts_url}, Path(env["logs_dir"]))
    gateway = ServiceProcess("gateway", {
        **common, "DATABASE_URL": database("gateway"),
        "IDENTITY_PRIVATE_KEY_FILE": env["identity_private_key_file"],
        "CLERK_JWT_KEY": issuer.public_pem, "CLERK_ISSUER": issuer.issuer,
        "RATE_LIMIT_PER_USER": "1000000/minute", "RATE_LIMIT_PER_ORG": "1000000/minute",
    }, Path(env["logs_dir"]))
    results: dict = {"requests_per_round": args.requests, "concurrency": args.concurrency, "rounds": args.rounds,
                     "seeded_contacts": 1000, "page_size": 50}
    try:
        contacts.start()
        gateway.env["SERVICE_URLS_JSON"] = json.dumps({"contacts": contacts.url})
        gateway.start()
        seed(sa.make_url(contacts_url).set(drivername="postgresql").render_as_string(hide_password=False), 1000)
        direct_headers = {HEADER: mint(Path(env["identity_private_key_file"]).read_text(), user_id="bench",
                                       org_id=ORG, roles=["admin"], ttl_seconds=3600)}
        gateway_headers = {"Authorization": f"Bearer {issuer.token(ORG, 'bench', 'admin', exp=int(time.time()) + 3600)}"}
        samples: dict[str, list[list[float]]] = {"direct": [], "gateway": []}
        async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=args.concurrency * 2)) as client:
            for url, headers in ((contacts.url, direct_headers), (gateway.url, gateway_headers)):  # warm-up
                await measure(client, url, headers, 200, args.concurrency)
            for _ in range(args.rounds):
                samples["direct"].append(await measure(client, contacts.url, direct_headers, args.requests, args.concurrency))
                samples["gateway"].append(await measure(client, gateway.url, gateway_headers, args.requests, args.concurrency))
        direct, through = summary(samples["direct"]), summary(samples["gateway"])
        results["direct"] = direct
        results["gateway"] = through
        results["p50_added_ms"] = round(through["p50_ms"] - direct["p50_ms"], 2)
        results["p99_added_ms"] = round(through["p99_ms"] - direct["p99_ms"], 2)
        results["throughput_ratio_gateway_over_direct"] = round(through["rps"] / direct["rps"], 2)
    finally:
        gateway.stop()
        contacts.stop()
        with psycopg.connect(admin_url, autocommit=True) as admin:
            for name in names:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if started:
            byte_stack.stop("test")
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=2)
    print(json.dumps(asyncio.run(run(parser.parse_args())), indent=2))


if __name__ == "__main__":
    main()
