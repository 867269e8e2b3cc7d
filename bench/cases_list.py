"""Case list and board at 10k and at 100k cases in one org, one run.

    uv run python bench/cases_list.py [--requests 400] [--concurrency 8] [--rounds 2]

Starts (or reuses) the `test` profile of the local stack, creates two throwaway databases and
starts the executions service on each (no consumers: the cases are seeded straight into the
database with INSERT ... SELECT generate_series, the counts projection rebuilt from them): one
org with 10k cases in the first, the same org with 100k in the second. Each scenario is then
measured on both in alternating rounds, so that the noise of a shared machine hits both sizes
alike, and the p50/p99/throughput are printed with the ratios at 100k over 10k.

Scenarios: the first page and a deep keyset page (a cursor halfway down), each without and with
a status filter; and the board (counts per status column plus each column's first page). The
goal for the list is a p50 ratio <= 1.5 (keyset pagination over an (org, [status,] started_at,
id) index costs the same whatever the table size); the board's counts come from the
`case_counts` projection, so the board should not grow with the table either.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path

import httpx
import psycopg
from byte_platform.identity import HEADER, mint
from byte_platform.pagination import encode_cursor
from harness import Databases, load, plain_dsn, service, summarize, test_stack

ORG = "org_bench"
CONTACTS = 5_000
STATUSES = ["submitted", "in_review", "background_check", "interview_scheduled", "interview_complete", "approved",
            "rejected", "on_hold"]  # fmt: skip


def seed(dsn: str, start: int, stop: int) -> None:
    """Cases `start`..`stop`-1 of the org's Applicant Review (provisioned by the first request),
    newest first by number, statuses round-robin, a fifth from Formstack; then the counts
    projection as the service would have kept it."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SELECT set_config('app.org_id', %s, false)", (ORG,))
        if start == 0:
            conn.execute(
                """
                INSERT INTO contact_summaries (org_id, contact_id, first_name, last_name, email, as_of)
                SELECT %s, md5('contact' || i)::uuid, 'First' || i, 'Last' || i, 'person' || i || '@example.com', now()
                FROM generate_series(0, %s - 1) AS i
                """,
                (ORG, CONTACTS),
            )
        conn.execute(
            """
            INSERT INTO workflow_executions (id, org_id, definition_id, definition_key, definition_version,
                contact_id, status, run_state, source, source_id, temporal_workflow_id, variables, metadata,
                started_at, created_at, updated_at)
            SELECT gen_random_uuid(), %(org)s, d.id, d.definition_key, d.version,
                   md5('contact' || (i %% %(contacts)s))::uuid, (%(statuses)s::text[])[1 + i %% 8], 'running',
                   CASE WHEN i %% 5 = 0 THEN 'formstack' ELSE 'manual' END,
                   CASE WHEN i %% 5 = 0 THEN 'sub-' || i END, 'execution-bench-' || i,
                   jsonb_build_object('n', i), '{}'::jsonb,
                   now() - (i || ' seconds')::interval, now(), now() - (i || ' seconds')::interval
            FROM generate_series(%(start)s, %(stop)s - 1) AS i,
                 (SELECT id, definition_key, version FROM workflow_definitions
                  WHERE org_id = %(org)s AND definition_key = 'applicant-review' AND is_latest) AS d
            """,
            {"org": ORG, "contacts": CONTACTS, "statuses": STATUSES, "start": start, "stop": stop},
        )
        conn.execute("DELETE FROM case_counts WHERE org_id = %s", (ORG,))
        conn.execute(
            """
            INSERT INTO case_counts (org_id, definition_key, status, count)
            SELECT org_id, definition_key, status, count(*) FROM workflow_executions
            WHERE org_id = %s GROUP BY 1, 2, 3
            """,
            (ORG,),
        )
        conn.execute("ANALYZE workflow_executions")
        conn.execute("ANALYZE contact_summaries")


def halfway_cursor(dsn: str, status: str | None) -> str:
    """The cursor a client holds halfway down the list (newest first), as the API issues it."""
    with psycopg.connect(dsn) as conn:
        conn.execute("SELECT set_config('app.org_id', %s, false)", (ORG,))
        where, args = ("AND status = %s", [status]) if status else ("", [])
        total = conn.execute(f"SELECT count(*) FROM workflow_executions WHERE org_id = %s {where}", [ORG, *args])
        half = total.fetchone()[0] // 2
        started_at, case_id = conn.execute(
            f"SELECT started_at, id FROM workflow_executions WHERE org_id = %s {where} "
            "ORDER BY started_at DESC, id DESC OFFSET %s LIMIT 1",
            [ORG, *args, half],
        ).fetchone()
    return encode_cursor("-started_at", [started_at.isoformat(), str(case_id)])


SCENARIOS = ("first_page", "first_page_status", "deep_page", "deep_page_status", "board")


def scenarios(dsn: str) -> dict[str, tuple[str, list[dict]]]:
    return {
        "first_page": ("/v1/executions", [{"limit": 50}]),
        "first_page_status": ("/v1/executions", [{"limit": 50, "status": "in_review"}]),
        "deep_page": ("/v1/executions", [{"limit": 50, "cursor": halfway_cursor(dsn, None)}]),
        "deep_page_status": (
            "/v1/executions",
            [{"limit": 50, "status": "in_review", "cursor": halfway_cursor(dsn, "in_review")}],
        ),
        "board": ("/v1/executions/board", [{"limit": 20}]),
    }


async def run(args: argparse.Namespace) -> dict:
    results: dict = {"requests": args.requests, "concurrency": args.concurrency, "rounds": args.rounds}
    sizes = (10_000, 100_000)
    latencies: dict[str, list[float]] = {}
    elapsed: dict[str, float] = {}
    with test_stack() as env, Databases(env) as databases:
        token = mint(
            Path(env["identity_private_key_file"]).read_text(),
            user_id="bench",
            org_id=ORG,
            roles=["admin"],
            ttl_seconds=3600,
        )
        services, plans = {}, {}
        try:
            for size in sizes:
                url = databases.create("executions")
                services[size] = service(env, "executions", url, consumers_enabled="false").start()
                # the org's first request provisions its Applicant Review, which the cases run on
                async with httpx.AsyncClient(base_url=services[size].url, headers={HEADER: token}) as client:
                    (await client.get("/v1/definitions")).raise_for_status()
                seed(plain_dsn(url), 0, size)
                plans[size] = scenarios(plain_dsn(url))
            for _ in range(args.rounds):
                for name in SCENARIOS:
                    for size in sizes:
                        path, params = plans[size][name]
                        async with httpx.AsyncClient(
                            base_url=services[size].url,
                            headers={HEADER: token},
                            timeout=60,
                            limits=httpx.Limits(max_connections=args.concurrency),
                        ) as client:
                            await load(client, path, params, 5, 1)  # warm-up
                            taken, spent = await load(
                                client, path, params, args.requests // args.rounds, args.concurrency
                            )
                        latencies.setdefault(f"{name}@{size}", []).extend(taken)
                        elapsed[f"{name}@{size}"] = elapsed.get(f"{name}@{size}", 0.0) + spent
        finally:
            for process in services.values():
                process.stop()
    for key, taken in latencies.items():
        results[key] = summarize(taken, elapsed[key])
    for name in SCENARIOS:
        small, large = results[f"{name}@10000"], results[f"{name}@100000"]
        results[f"{name}_p50_ratio_100k_over_10k"] = round(large["p50_ms"] / small["p50_ms"], 2)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=2)
    print(json.dumps(asyncio.run(run(parser.parse_args())), indent=2))


if __name__ == "__main__":
    main()
