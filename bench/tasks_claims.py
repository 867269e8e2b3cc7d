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
import uuid
from pathlib import Path

import httpx
import psycopg
import sqlalchemy as sa
from byte_platform.identity import HEADER, mint
from byte_testing.processes import ServiceProcess, migrate

ORG = "org_bench_tasks"
ME = "user_bench"


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return round(values[max(0, int(len(values) * p) - 1)] * 1000, 2)


def seed(dsn: str, start: int, stop: int) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SELECT set_config('app.org_id', %s, false)", (ORG,))
        conn.execute(
            """
            INSERT INTO tasks (id, org_id, title, task_type, status, priority, outcome, completed_at, position,
                               assigned_to, assigned_role, created_by, created_at, updated_at)
            SELECT gen_random_uuid(), %s, 'Task ' || i, 'standard', s.status, (ARRAY['low','medium','high'])[1 + i %% 3],
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
    tokens = [mint(private_key, user_id=f"claimer_{i}", org_id=ORG, roles=["reviewer"], ttl_seconds=3600)
              for i in range(claimers)]
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
            task = (await http.post("/v1/tasks", json={"title": "race", "assigned_role": "reviewer"},
                                    headers={HEADER: admin})).json()
            base = await fire("GET", f"/v1/tasks/{task['id']}", gets)
            assert set(base) == {200}, base
            codes = await fire("PATCH", f"/v1/tasks/{task['id']}/claim", claims)
            assert codes.count(200) == 1 and codes.count(409) == claimers - 1, sorted(codes)
    return {
        "rounds": rounds, "claimers": claimers, "exactly_one_winner_every_round": True,
        "claim_p50_ms": pct(claims, 0.5), "claim_p99_ms": pct(claims, 0.99),
        "get_p50_ms": pct(gets, 0.5), "get_p99_ms": pct(gets, 0.99),
        "claim_over_get_p50_ratio": round(statistics.median(claims) / statistics.median(gets), 2),
    }


async def my_tasks(url: str, token: str, requests: int, concurrency: int) -> dict:
    latencies: list[float] = []
    counter = iter(range(requests))
    async with httpx.AsyncClient(base_url=url, headers={HEADER: token}, timeout=30,
                                 limits=httpx.Limits(max_connections=concurrency)) as client:
        first = await client.get("/v1/tasks", params={"assignee": "me", "limit": 50})
        first.raise_for_status()
        assert len(first.json()["items"]) == 50
        cursors = [None, first.json()["next_cursor"]]

        async def worker() -> None:
            for i in counter:
                params = {"assignee": "me", "limit": 50}
                if cursors[i % 2]:
                    params["cursor"] = cursors[i % 2]
                t0 = time.perf_counter()
                r = await client.get("/v1/tasks", params=params)
                latencies.append(time.perf_counter() - t0)
                r.raise_for_status()

        started = time.perf_counter()
        await asyncio.gather(*[worker() for _ in range(concurrency)])
        elapsed = time.perf_counter() - started
    return {"p50_ms": pct(latencies, 0.5), "p99_ms": pct(latencies, 0.99), "rps": round(len(latencies) / elapsed, 1)}


async def run(args: argparse.Namespace) -> dict:
    import byte_stack

    env, started = byte_stack.ensure_infra("test")
    base = env["services"]["tasks"]["database_url"]
    name = f"tasks_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(env["database_admin_url"], autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}" OWNER tasks')
    url = base.rsplit("/", 1)[0] + "/" + name
    dsn = sa.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    migrate("tasks", url)
    service = ServiceProcess("tasks", {
        "DATABASE_URL": url, "KAFKA_BOOTSTRAP_SERVERS": env["kafka_bootstrap_servers"],
        "IDENTITY_PUBLIC_KEY_FILE": env["identity_public_key_file"], "LOG_LEVEL": "WARNING",
        "CONSUMERS_ENABLED": "false",
    }, Path(env["logs_dir"]))
    private_key = Path(env["identity_private_key_file"]).read_text()
    token = mint(private_key, user_id=ME, org_id=ORG, roles=["user"], ttl_seconds=3600)
    results: dict = {"requests": args.requests, "concurrency": args.concurrency}
    try:
        service.start()
        results["claim_race"] = await claim_race(service.url, private_key, args.rounds, args.claimers)
        seeded = 0
        for size in (10_000, 100_000):
            seed(dsn, seeded, size)
            seeded = size
            results[f"my_tasks@{size}"] = await my_tasks(service.url, token, args.requests, args.concurrency)
        small, large = results["my_tasks@10000"], results["my_tasks@100000"]
        results["my_tasks_p50_ratio_100k_over_10k"] = round(large["p50_ms"] / small["p50_ms"], 2)
        results["my_tasks_rps_ratio_100k_over_10k"] = round(large["rps"] / small["rps"], 2)
    finally:
        service.stop()
        with psycopg.connect(env["database_admin_url"], autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if started:
            byte_stack.stop("test")
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
