"""Contacts list and search at 10k and at 100k contacts, one service process, one run.

    uv run python bench/contacts_list.py [--requests 2000] [--concurrency 16]

Starts (or reuses) the `test` profile of the local stack, creates a throwaway database, starts
the contacts service on it, fills one org with 10k contacts, measures, grows the same org to
100k, measures again, and prints p50/p99/throughput plus the ratios at 100k over 10k. The goal
for list is a p50 ratio <= 1.5: keyset pagination over an (org, sort key, id) index costs the
same whatever the table size.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path

import httpx
import psycopg
from byte_platform.identity import HEADER, mint
from harness import Databases, load, plain_dsn, service, summarize, test_stack

ORG = "org_bench"


def seed(dsn: str, start: int, stop: int) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SELECT set_config('app.org_id', %s, false)", (ORG,))
        conn.execute(
            """
            INSERT INTO contacts (id, org_id, first_name, last_name, email, phone, status, tags, created_at, updated_at)
            SELECT gen_random_uuid(), %s, 'First' || i, 'Last' || (i * 7919 %% 100003), 'person' || i || '@example.com',
                   '770-555-' || lpad((i %% 10000)::text, 4, '0'),
                   (ARRAY['active','inactive','lead'])[1 + i %% 3], ARRAY['tag' || (i %% 20)],
                   now() - (i || ' seconds')::interval, now()
            FROM generate_series(%s, %s - 1) AS i
            """,
            (ORG, start, stop),
        )
        conn.execute("ANALYZE contacts")


async def measure(url: str, token: str, params: list[dict], requests: int, concurrency: int) -> dict:
    async with httpx.AsyncClient(
        base_url=url, headers={HEADER: token}, timeout=30, limits=httpx.Limits(max_connections=concurrency)
    ) as client:
        await load(client, "/v1/contacts", params, len(params), 1)  # warm-up
        return summarize(*await load(client, "/v1/contacts", params, requests, concurrency))


SCENARIOS = {
    "list": [{"limit": 50}, {"limit": 50, "sort": "last_name"}, {"limit": 50, "status": "lead"}],
    "search": [{"q": "person12"}, {"q": "last4"}, {"q": "555-0042"}],
}


async def run(args: argparse.Namespace) -> dict:
    results: dict = {"requests": args.requests, "concurrency": args.concurrency}
    with test_stack() as env, Databases(env) as databases:
        url = databases.create("contacts")
        contacts = service(env, "contacts", url)
        token = mint(
            Path(env["identity_private_key_file"]).read_text(),
            user_id="bench",
            org_id=ORG,
            roles=["admin"],
            ttl_seconds=3600,
        )
        try:
            contacts.start()
            for size in (10_000, 100_000):
                seed(plain_dsn(url), results.get("seeded", 0), size)
                results["seeded"] = size
                for scenario, params in SCENARIOS.items():
                    results[f"{scenario}@{size}"] = await measure(
                        contacts.url, token, params, args.requests, args.concurrency
                    )
        finally:
            contacts.stop()
    for scenario in SCENARIOS:
        small, large = results[f"{scenario}@10000"], results[f"{scenario}@100000"]
        results[f"{scenario}_p50_ratio_100k_over_10k"] = round(large["p50_ms"] / small["p50_ms"], 2)
        results[f"{scenario}_rps_ratio_100k_over_10k"] = round(large["rps"] / small["rps"], 2)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    print(json.dumps(asyncio.run(run(parser.parse_args())), indent=2))


if __name__ == "__main__":
    main()
