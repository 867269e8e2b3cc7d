"""The dashboard and the CSV export at 10k and at 100k cases in one org, one run.

    uv run python bench/dashboard.py [--requests 200] [--concurrency 8] [--rounds 2] [--exports 2]

Like bench/cases_list.py: two throwaway databases, an executions service on each (consumers
off), one org with 10k cases in the first and 100k in the second, seeded straight into the
database over the same year (a bigger office, not a longer history): statuses round-robin, the
decided ones (approved, rejected) ended up to a week later, each case's `review` and `approval`
step spans and first status span as the workflow's reports would have left them. The per-day
projection is kept by its trigger as the cases go in; the counts projection is rebuilt.

Scenarios (alternating sizes each round): `cases-by-status`, `cases-per-day` (30 days),
`recent-cases`, `waits` (the Applicant Review's latest version, 90 days) and `throughput` (12
weeks). Goal: p50 ratio 100k/10k <= 1.5. Then the CSV export of every case (`cases.csv`),
`--exports` times per size: rows/s, and the exporting process's peak RSS (sampled from /proc
every 10 ms while the body streams) at 10k and 100k (goal: <= 1.2x). Last, `EXPLAIN (ANALYZE,
BUFFERS)` of the dashboard's statements at 100k: which index each reads and how many rows.
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
from harness import Databases, load, plain_dsn, service, summarize, test_stack

ORG = "org_bench"
CONTACTS = 5_000
STATUSES = ["submitted", "in_review", "background_check", "interview_scheduled", "interview_complete", "approved",
            "rejected", "on_hold"]  # fmt: skip
YEAR_SECONDS = 365 * 24 * 3600


def seed(dsn: str, size: int) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SELECT set_config('app.org_id', %s, false)", (ORG,))
        conn.execute(
            """
            INSERT INTO contact_summaries (org_id, contact_id, first_name, last_name, email, as_of)
            SELECT %s, md5('contact' || i)::uuid, 'First' || i, 'Last, ' || i, 'person' || i || '@example.com', now()
            FROM generate_series(0, %s - 1) AS i
            """,
            (ORG, CONTACTS),
        )
        args = {"org": ORG, "contacts": CONTACTS, "statuses": STATUSES, "size": size, "year": YEAR_SECONDS}
        conn.execute(
            """
            INSERT INTO workflow_executions (id, org_id, definition_id, definition_key, definition_version,
                contact_id, status, run_state, source, temporal_workflow_id, variables, metadata,
                current_step_id, step_entered_at, started_at, completed_at, created_at, updated_at)
            SELECT md5('case' || i)::uuid, %(org)s, d.id, d.definition_key, d.version,
                   md5('contact' || (i %% %(contacts)s))::uuid, s.status,
                   CASE WHEN s.decided THEN 'completed' ELSE 'running' END, 'manual', 'execution-bench-' || i,
                   jsonb_build_object('n', i), '{}'::jsonb, 'approval', t.started + interval '1 hour' + t.review,
                   t.started, CASE WHEN s.decided THEN t.started + interval '2 hours' + t.review + t.decision END,
                   t.started, t.started
            FROM generate_series(0, %(size)s - 1) AS i
            CROSS JOIN LATERAL (SELECT (%(statuses)s::text[])[1 + i %% 8] AS status) AS st
            CROSS JOIN LATERAL (SELECT st.status, st.status IN ('approved', 'rejected') AS decided) AS s
            CROSS JOIN LATERAL (SELECT now() - make_interval(secs => (i::float8 * %(year)s / %(size)s) + 3600 * 24 * 8)
                                       AS started,
                                       make_interval(hours => i %% 144) AS review,
                                       make_interval(hours => i %% 37) AS decision) AS t
            CROSS JOIN (SELECT id, definition_key, version FROM workflow_definitions
                        WHERE org_id = %(org)s AND definition_key = 'applicant-review' AND is_latest) AS d
            """,
            args,
        )
        conn.execute(
            """
            INSERT INTO case_step_spans (org_id, execution_id, entered_at, step_id, phase_id, waiting_for,
                definition_key, definition_version, left_at)
            SELECT org_id, id, started_at + interval '1 hour', 'review', 'review', 'task', definition_key,
                   definition_version, step_entered_at
            FROM workflow_executions WHERE org_id = %(org)s
            UNION ALL
            SELECT org_id, id, step_entered_at, 'approval', 'decision', 'approval', definition_key,
                   definition_version, completed_at
            FROM workflow_executions WHERE org_id = %(org)s
            """,
            args,
        )
        conn.execute(
            """
            INSERT INTO case_status_spans (org_id, execution_id, entered_at, status, definition_key,
                definition_version, left_at)
            SELECT org_id, id, started_at, status, definition_key, definition_version, completed_at
            FROM workflow_executions WHERE org_id = %(org)s
            """,
            args,
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
        for table in ("workflow_executions", "contact_summaries", "case_days", "case_step_spans", "case_status_spans"):
            conn.execute(f"ANALYZE {table}")


SCENARIOS = {
    "cases_by_status": ("/v1/dashboard/cases-by-status", {}),
    "cases_per_day_30d": ("/v1/dashboard/cases-per-day", {}),
    "recent_cases": ("/v1/dashboard/recent-cases", {"limit": 10}),
    "waits_90d": ("/v1/dashboard/waits", {"definition_id": "applicant-review"}),
    "throughput_12w": ("/v1/dashboard/throughput", {}),
}

# The dashboard's statements as the service sends them (the `org_id` and window bound as there).
PLANS = {
    "cases_per_day_30d": "SELECT day, sum(opened), sum(closed) FROM case_days WHERE org_id = %(org)s "
    "AND day BETWEEN current_date - 29 AND current_date GROUP BY day",
    "waits_steps_90d": "SELECT step_id, count(*), percentile_disc(0.5) WITHIN GROUP (ORDER BY s) FROM ("
    "SELECT step_id, execution_id, sum(extract(epoch FROM left_at - entered_at)) AS s FROM case_step_spans "
    "WHERE org_id = %(org)s AND definition_key = 'applicant-review' AND definition_version = 1 "
    "AND left_at >= now() - interval '90 days' GROUP BY step_id, execution_id) AS c GROUP BY step_id",
    "waits_longest": "SELECT execution_id, entered_at FROM case_step_spans WHERE org_id = %(org)s "
    "AND left_at IS NULL AND definition_key = 'applicant-review' AND definition_version = 1 "
    "ORDER BY entered_at, execution_id LIMIT 10",
    "decided_12w": "SELECT date_trunc('week', entered_at), status, count(DISTINCT execution_id) "
    "FROM case_status_spans WHERE org_id = %(org)s AND status IN ('approved', 'rejected') "
    "AND entered_at >= now() - interval '84 days' GROUP BY 1, 2",
}


def plans(dsn: str) -> dict[str, list[str]]:
    out = {}
    with psycopg.connect(dsn) as conn:
        conn.execute("SELECT set_config('app.org_id', %s, false)", (ORG,))
        for name, sql in PLANS.items():
            rows = conn.execute("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + sql, {"org": ORG}).fetchall()
            # the nodes that read tables, and the timing
            out[name] = [r[0].strip() for r in rows if "Scan" in r[0] or "Execution Time" in r[0]]
    return out


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


async def export(base_url: str, token: str, pid: int) -> dict:
    """Streams the whole export once, sampling the exporting process's RSS meanwhile."""
    peak, done = rss_kib(pid), False
    before = peak

    async def sample() -> None:
        nonlocal peak
        while not done:
            peak = max(peak, rss_kib(pid))
            await asyncio.sleep(0.01)

    sampler = asyncio.create_task(sample())
    rows, last = 0, b""
    started = time.perf_counter()
    async with (
        httpx.AsyncClient(base_url=base_url, headers={HEADER: token}, timeout=600) as client,
        client.stream("GET", "/v1/exports/cases.csv") as r,
    ):
        r.raise_for_status()
        async for chunk in r.aiter_bytes():
            rows += chunk.count(b"\r\n")
            last = (last + chunk)[-64:]
    spent = time.perf_counter() - started
    done = True
    await sampler
    trailer = last.decode().rstrip("\r\n").rsplit("\r\n", 1)[-1]
    # header and trailer lines are not rows (no cell of this seed holds a line break)
    rows -= 2
    assert trailer == f"# rows={rows} complete", trailer
    return {"rows": rows, "seconds": round(spent, 2), "rows_per_s": round(rows / spent),
            "rss_before_mib": round(before / 1024, 1), "rss_peak_mib": round(peak / 1024, 1)}  # fmt: skip


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
        services, dsns = {}, {}
        try:
            for size in sizes:
                url = databases.create("executions")
                services[size] = service(env, "executions", url, consumers_enabled="false").start()
                async with httpx.AsyncClient(base_url=services[size].url, headers={HEADER: token}) as client:
                    (await client.get("/v1/definitions")).raise_for_status()
                dsns[size] = plain_dsn(url)
                seed(dsns[size], size)
            for _ in range(args.rounds):
                for name, (path, params) in SCENARIOS.items():
                    for size in sizes:
                        async with httpx.AsyncClient(
                            base_url=services[size].url,
                            headers={HEADER: token},
                            timeout=60,
                            limits=httpx.Limits(max_connections=args.concurrency),
                        ) as client:
                            await load(client, path, [params], 5, 1)  # warm-up
                            taken, spent = await load(
                                client, path, [params], args.requests // args.rounds, args.concurrency
                            )
                        latencies.setdefault(f"{name}@{size}", []).extend(taken)
                        elapsed[f"{name}@{size}"] = elapsed.get(f"{name}@{size}", 0.0) + spent
            for key, taken in latencies.items():
                results[key] = summarize(taken, elapsed[key])
            for name in SCENARIOS:
                small, large = results[f"{name}@10000"], results[f"{name}@100000"]
                results[f"{name}_p50_ratio_100k_over_10k"] = round(large["p50_ms"] / small["p50_ms"], 2)
            exports: dict[int, list[dict]] = {size: [] for size in sizes}
            for _ in range(args.exports):
                for size in sizes:
                    exports[size].append(await export(services[size].url, token, services[size].proc.pid))
            for size in sizes:
                results[f"export@{size}"] = exports[size]
            peak = {size: max(e["rss_peak_mib"] for e in exports[size]) for size in sizes}
            results["export_peak_rss_ratio_100k_over_10k"] = round(peak[100_000] / peak[10_000], 2)
            results["plans@100000"] = plans(dsns[100_000])
        finally:
            for process in services.values():
                process.stop()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--exports", type=int, default=2)
    print(json.dumps(asyncio.run(run(parser.parse_args())), indent=2))


if __name__ == "__main__":
    main()
