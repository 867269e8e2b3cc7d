"""Tasks: the claim race, and "my tasks" at 10k and 100k tasks; one service process, one run.

    uv run python bench/tasks_claims.py [--rounds 10] [--claimers 200] [--requests 2000] [--concurrency 16]

Starts (or reuses) the `test` profile of the local stack, creates a throwaway database, starts
the tasks service on it (consumers off: only HTTP is measured), then:

1. Claim race: `--rounds` times, a fresh role task and `--claimers` concurrent
   `PATCH /v1/tasks/{id}/claim` from distinct users (one connection each). Checks that exactly
   one wins, and reports p50/p99 latency of the claims. Baseline, same run: the same number of
   concurrent `GET /v1/tasks/{id}` of that task; the ratio claim/get is the cost of the
   conditional UPDATE, the row-lock queue and the outbox write over a plain read.
2. "My tasks": one org filled with 10k tasks by SQL (10% assigned to the caller), then grown to
   100k; `GET /v1/tasks?assignee=me` (pages of 50, newest first) from `--concurrency` clients,
   p50/p99 and requests/s at each size, and the 100k/10k ratios. Goal: p50 ratio <= 1.5 (a
   keyset walk of the (org_id, assigned_to, created_at, id) index costs the same at any size).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from pathlib import Path

import httpx
import psycopg
from byte_platform.identity import HEADER, mint
from harness import Databases, load, percentile_ms, plain_dsn, service, summarize, test_stack

ORG = "org_bench_tasks"
ME = "user_bench"


def seed(dsn: str, start: int, stop: int) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SELECT set_config('app.org_id', %s, false)", (ORG,))
        conn.execute(
            """
            INSERT INTO tasks (id, org_id, title, task_type, status, priority, outcome, completed_at, position,
                               assigned_to, assigned_role, created_by, created_at, updated_at)
            SELECT gen_random_uuid(), %s, 'Task ' || i, 'standard', s.status,
                   (ARRAY['low','medium','high'])[1 + i %% 3],
                   CASE WHEN s.status = 'done' THEN 'completed' END, CASE WHEN s.status = 'done' THEN now() END,
                   i * 1024.0, CASE WHEN i %% 10 = 0 THEN %s ELSE 'user_' || (i %% 97) END,
                   (ARRAY['reviewer','hr','manager'])[1 + i %% 3], 'seed',
                   now() - (i || ' seconds')::interval, now()
            FROM generate_series(%s, %s - 1) AS i,
                 LATERAL (SELECT (ARRAY['todo','in_progress','done'])[1 + i %% 3] AS status) AS s
            """,
            (ORG, ME, start, stop),
        )
        conn.execute("ANALYZE tasks")


async def claim_race(url: str, private_key: str, rounds: int, claimers: int) -> dict:
    admin = mint(private_key, user_id="bench_admin", org_id=ORG, roles=["admin"], ttl_seconds=3600)
    tokens = [
        mint(private_key, user_id=f"claimer_{i}", org_id=ORG, roles=["reviewer"], ttl_seconds=3600)
        for i in range(claimers)
    ]
    claims: list[float] = []
    gets: list[float] = []
    limits = httpx.Limits(max_connections=claimers, max_keepalive_connections=claimers, keepalive_expiry=1.0)
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as http:

        async def timed(method: str, path: str, token: str, out: list[float], start: asyncio.Event) -> int:
            await start.wait()
            t0 = time.perf_counter()
            r = await http.request(method, path, headers={HEADER: token})
            out.append(time.perf_counter() - t0)
            return r.status_code

        async def fire(method: str, path: str, out: list[float]) -> list[int]:
            start = asyncio.Event()
            pending = [asyncio.create_task(timed(method, path, t, out, start)) for t in tokens]
            await asyncio.sleep(0)
            start.set()
            return await asyncio.gather(*pending)

        # warm-up: open every connection once
        warm = (await http.post("/v1/tasks", json={"title": "warm-up"}, headers={HEADER: admin})).json()
        await fire("GET", f"/v1/tasks/{warm['id']}", [])
        for _ in range(rounds):
            task = (
                await http.post(
                    "/v1/tasks", json={"title": "race", "assigned_role": "reviewer"}, headers={HEADER: admin}
                )
            ).json()
            base = await fire("GET", f"/v1/tasks/{task['id']}", gets)
            assert set(base) == {200}, base
            codes = await fire("PATCH", f"/v1/tasks/{task['id']}/claim", claims)
            assert codes.count(200) == 1 and codes.count(409) == claimers - 1, sorted(codes)
    return {
        "rounds": rounds,
        "claimers": claimers,
        "exactly_one_winner_every_round": True,
        "claim_p50_ms": percentile_ms(claims, 0.5),
        "claim_p99_ms": percentile_ms(claims, 0.99),
        "get_p50_ms": percentile_ms(gets, 0.5),
        "get_p99_ms": percentile_ms(gets, 0.99),
        "claim_over_get_p50_ratio": round(statistics.median(claims) / statistics.median(gets), 2),
    }


async def my_tasks(url: str, token: str, requests: int, concurrency: int) -> dict:
    async with httpx.AsyncClient(
        base_url=url, headers={HEADER: token}, timeout=30, limits=httpx.Limits(max_connections=concurrency)
    ) as client:
        first = await client.get("/v1/tasks", params={"assignee": "me", "limit": 50})
        first.raise_for_status()
        assert len(first.json()["items"]) == 50
        pages = [
            {"assignee": "me", "limit": 50},
            {"assignee": "me", "limit": 50, "cursor": first.json()["next_cursor"]},
        ]
        latencies, elapsed = await load(client, "/v1/tasks", pages, requests, concurrency)
    summary = summarize(latencies, elapsed)
    del summary["requests"]
    return summary


async def run(args: argparse.Namespace) -> dict:
    results: dict = {"requests": args.requests, "concurrency": args.concurrency}
    with test_stack() as env, Databases(env) as databases:
        url = databases.create("tasks")
        tasks = service(env, "tasks", url, consumers_enabled="false")
        private_key = Path(env["identity_private_key_file"]).read_text()
        token = mint(private_key, user_id=ME, org_id=ORG, roles=["user"], ttl_seconds=3600)
        try:
            tasks.start()
            results["claim_race"] = await claim_race(tasks.url, private_key, args.rounds, args.claimers)
            seeded = 0
            for size in (10_000, 100_000):
                seed(plain_dsn(url), seeded, size)
                seeded = size
                results[f"my_tasks@{size}"] = await my_tasks(tasks.url, token, args.requests, args.concurrency)
        finally:
            tasks.stop()
    small, large = results["my_tasks@10000"], results["my_tasks@100000"]
    results["my_tasks_p50_ratio_100k_over_10k"] = round(large["p50_ms"] / small["p50_ms"], 2)
    results["my_tasks_rps_ratio_100k_over_10k"] = round(large["rps"] / small["rps"], 2)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--claimers", type=int, default=200)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    print(json.dumps(asyncio.run(run(parser.parse_args())), indent=2))


if __name__ == "__main__":
    main()
