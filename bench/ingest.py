"""Formstack ingest: verified + stored webhooks per second against a bare INSERT of the same
rows, and webhook -> case opened latency, in one run.

    uv run python bench/ingest.py [--deliveries 3000] [--senders 50] [--latency 200] [--rate 10]

Starts (or reuses) the `test` profile of the local stack and makes throwaway databases.

1. Throughput: an ingest process alone; `--deliveries` distinct signed form-urlencoded
   deliveries from `--senders` closed-loop senders (one client process). Each is verified
   (HMAC-SHA256), parsed, mapped, stored with its raw body and `submission.received` in the
   outbox, in one transaction, before the 200. Then every delivery again (all duplicates).
2. Baseline, same run, same client process, same database: the bare
   `INSERT INTO formstack_submissions ... ON CONFLICT (org_id, submission_id) DO NOTHING` of the
   same rows (raw body, parsed payload) from `--senders` asyncpg connections, each in a
   transaction with the org set (row-level security as in the service).
3. Latency: contacts and executions processes join; `--latency` submissions of a new org are
   sent open-loop at `--rate` a second; each one's latency is from sending the webhook to its
   case's row being committed (`workflow_executions.created_at`, same clock).

Goals (docs/benchmarks.md): ingest >= 0.5x the bare rate, 0 duplicates; p50 <= 500 ms.
(Webhook -> first task visible needs the worker; it is not on this branch.)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import hmac
import json
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import asyncpg
import httpx
import sqlalchemy as sa
from byte_contracts import topics
from byte_platform.identity import HEADER, mint
from byte_testing.kafka import start_at_the_end
from harness import Databases, percentile_ms, plain_dsn, service, test_stack

HMAC_KEY = "bench-hmac-key-0123456789"
FORM = "4242"
URLENCODED = "application/x-www-form-urlencoded"


def body(i: int, tag: str) -> bytes:
    return urlencode(
        {
            "FormID": FORM,
            "UniqueID": f"{tag}-{i}",
            "Name": f"first = Bench\nlast = Applicant{i}",
            "Email": f"bench-{tag}-{i}@example.com",
            "Phone": "478-555-0100",
            "Why": "I would like to serve — and I can start next week.",
        }
    ).encode()


def headers(raw: bytes) -> dict[str, str]:
    return {
        "Content-Type": URLENCODED,
        "X-FS-Signature": "sha256=" + hmac.new(HMAC_KEY.encode(), raw, hashlib.sha256).hexdigest(),
    }


async def create_form(client: httpx.AsyncClient, token: str, definition_id: str | None = None) -> str:
    r = await client.post(
        "/v1/formstack/forms",
        json={"form_id": FORM, "hmac_key": HMAC_KEY, "default_definition_id": definition_id},
        headers={HEADER: token},
    )
    r.raise_for_status()
    return r.json()["webhook_path"]


async def closed_loop(client: httpx.AsyncClient, path: str, bodies: list[bytes], senders: int) -> dict[str, Any]:
    statuses: dict[str, int] = {}
    latencies: list[float] = []
    work = iter(bodies)

    async def sender() -> None:
        for raw in work:
            t0 = time.perf_counter()
            r = await client.post(path, content=raw, headers=headers(raw))
            latencies.append(time.perf_counter() - t0)
            key = r.json().get("status", str(r.status_code)) if r.status_code == 200 else str(r.status_code)
            statuses[key] = statuses.get(key, 0) + 1

    started = time.perf_counter()
    await asyncio.gather(*(sender() for _ in range(senders)))
    elapsed = time.perf_counter() - started
    return {
        "deliveries": len(bodies),
        "per_second": round(len(bodies) / elapsed, 1),
        "p50_ms": percentile_ms(latencies, 0.5),
        "p99_ms": percentile_ms(latencies, 0.99),
        "answers": statuses,
    }


async def bare_inserts(dsn: str, org: str, config_id: str, bodies: list[bytes], senders: int) -> dict[str, Any]:
    """The same rows (raw body, parsed payload) as the service stores, by the least code."""
    from byte_ingest import domain

    rows = []
    for raw in bodies:
        delivery = domain.parse(raw, URLENCODED)
        payload = json.dumps({"submission_id": delivery.submission_id, "form_id": FORM, "fields": delivery.fields})
        rows.append((delivery.submission_id, raw, payload))
    pool = await asyncpg.create_pool(dsn, min_size=senders, max_size=senders)
    work = iter(rows)

    async def sender() -> None:
        for submission_id, raw, payload in work:
            async with pool.acquire() as conn, conn.transaction():
                await conn.execute("SELECT set_config('app.org_id', $1, true)", org)
                await conn.execute(
                    "INSERT INTO formstack_submissions (id, org_id, config_id, form_id, submission_id, raw_body,"
                    " content_type, payload, status) VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, 'received')"
                    " ON CONFLICT (org_id, submission_id) DO NOTHING",
                    uuid.uuid4(),
                    org,
                    uuid.UUID(config_id),
                    FORM,
                    submission_id,
                    raw,
                    URLENCODED,
                    payload,
                )

    started = time.perf_counter()
    await asyncio.gather(*(sender() for _ in range(senders)))
    elapsed = time.perf_counter() - started
    await pool.close()
    return {"rows": len(rows), "per_second": round(len(rows) / elapsed, 1)}


async def until(probe: Any, at_least: int, timeout: float = 300) -> None:
    """Polls `probe` (an async count) until it reaches `at_least` or `timeout` passes."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(timeout):
            while await probe() < at_least:  # noqa: ASYNC110  (a database count: nothing to wait on)
                await asyncio.sleep(0.5)


async def count(dsn: str, sql: str, *args: Any) -> Any:
    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetchval(sql, *args)
    finally:
        await conn.close()


async def run(args: argparse.Namespace) -> dict[str, Any]:
    with test_stack() as env, Databases(env) as dbs:
        key = Path(env["identity_private_key_file"]).read_text()
        admin_dsn = env["database_admin_url"]

        def as_admin(database_url: str) -> str:
            # the superuser on the service's database: counts across orgs, no RLS in the way
            name = sa.make_url(database_url).database
            return sa.make_url(admin_dsn).set(database=name).render_as_string(hide_password=False)

        urls = {name: dbs.create(name) for name in ("ingest", "contacts", "executions")}
        suffix = uuid.uuid4().hex[:8]
        groups = {name: f"bench-{name}-{suffix}" for name in urls}
        subscriptions = {
            "ingest": {"cases": topics.EXECUTIONS},
            "contacts": {"intake": topics.INGEST},
            "executions": {"identity": topics.IDENTITY, "contacts": topics.CONTACTS, "workflow": topics.WORKFLOW,
                           "intake": topics.INGEST},
        }  # fmt: skip

        async def from_now_on(name: str) -> None:
            # a new group reads only what comes next: not the topics' history, nor phase 1's
            for sub, topic in subscriptions[name].items():
                await start_at_the_end(env["kafka_bootstrap_servers"], topic, f"{groups[name]}.{sub}")

        await from_now_on("ingest")
        ingest = service(
            env, "ingest", urls["ingest"], consumer_group=groups["ingest"], webhook_rate_per_minute="10000000"
        ).start()
        procs = [ingest]
        try:
            # idle connections are dropped before uvicorn's 5 s keep-alive closes them under us
            limits = httpx.Limits(
                max_connections=args.senders, max_keepalive_connections=args.senders, keepalive_expiry=2.0
            )
            async with httpx.AsyncClient(base_url=ingest.url, timeout=60, limits=limits) as client:
                # 1. throughput: verified + stored, alone
                org = f"org_bench_{suffix}"
                path = await create_form(client, mint(key, user_id="user_bench", org_id=org, roles=["admin"]))
                tag = f"t{suffix}"
                bodies = [body(i, tag) for i in range(args.deliveries)]
                warm = [body(i, f"w{suffix}") for i in range(min(200, args.deliveries))]
                await closed_loop(client, path, warm, args.senders)
                first = await closed_loop(client, path, bodies, args.senders)
                again = await closed_loop(client, path, bodies, args.senders)
                ingest_dsn = as_admin(urls["ingest"])
                of_run = "WHERE org_id = $1 AND submission_id LIKE $2"
                stored = await count(
                    ingest_dsn, f"SELECT count(*) FROM formstack_submissions {of_run}", org, f"{tag}-%"
                )
                distinct = await count(
                    ingest_dsn,
                    f"SELECT count(DISTINCT submission_id) FROM formstack_submissions {of_run}",
                    org,
                    f"{tag}-%",
                )
                # 2. the bare INSERT of the same rows, same database, same client process
                bare_org = f"org_bare_{suffix}"
                config_id = await count(ingest_dsn, "SELECT id::text FROM formstack_config WHERE org_id = $1", org)
                bare = await bare_inserts(plain_dsn(urls["ingest"]), bare_org, config_id, bodies, args.senders)

                # 3. latency: the chain, open loop
                for name in ("contacts", "executions"):
                    await from_now_on(name)
                    procs.append(service(env, name, urls[name], consumer_group=groups[name]).start())
                executions = procs[-1]
                lat_org = f"org_latency_{suffix}"
                token = mint(key, user_id="user_bench", org_id=lat_org, roles=["admin"])
                async with httpx.AsyncClient(base_url=executions.url, timeout=60) as ex:
                    review = (await ex.get("/v1/definitions/applicant-review", headers={HEADER: token})).json()
                path = await create_form(client, token, review["id"])
                lat_tag = f"l{suffix}"
                sent_at: dict[str, float] = {}
                executions_dsn = as_admin(urls["executions"])

                async def opened(tag: str) -> int:
                    return await count(
                        executions_dsn,
                        "SELECT count(*) FROM workflow_executions WHERE org_id = $1 AND source_id LIKE $2",
                        lat_org,
                        f"{tag}-%",
                    )

                # warm-up: the new consumer groups get their partitions; measured from the next one
                raw = body(0, f"w{lat_tag}")
                (await client.post(path, content=raw, headers=headers(raw))).raise_for_status()
                await until(lambda: opened(f"w{lat_tag}"), 1)

                async def send(i: int) -> None:
                    raw = body(i, lat_tag)
                    sent_at[f"{lat_tag}-{i}"] = time.time()
                    (await client.post(path, content=raw, headers=headers(raw))).raise_for_status()

                tasks = []
                for i in range(args.latency):
                    tasks.append(asyncio.create_task(send(i)))
                    await asyncio.sleep(1 / args.rate)
                await asyncio.gather(*tasks)
                await until(lambda: opened(lat_tag), args.latency)
                conn = await asyncpg.connect(executions_dsn)
                try:
                    rows = await conn.fetch(
                        "SELECT source_id, extract(epoch FROM created_at) AS at FROM workflow_executions"
                        " WHERE org_id = $1 AND source_id LIKE $2",
                        lat_org,
                        f"{lat_tag}-%",
                    )
                finally:
                    await conn.close()
                latencies = [float(r["at"]) - sent_at[r["source_id"]] for r in rows]
        finally:
            for proc in reversed(procs):
                proc.stop()
    return {
        "ingest": first,
        "ingest_all_duplicates": again,
        "stored_rows": stored,
        "distinct_submissions": distinct,
        "duplicates": stored - distinct,
        "bare_insert": bare,
        "ingest_over_bare": round(first["per_second"] / bare["per_second"], 2),
        "webhook_to_case": {
            "submissions": args.latency,
            "cases_opened": len(latencies),
            "rate_per_second": args.rate,
            "p50_ms": percentile_ms(latencies, 0.5) if latencies else None,
            "p99_ms": percentile_ms(latencies, 0.99) if latencies else None,
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--deliveries", type=int, default=3000)
    parser.add_argument("--senders", type=int, default=50)
    parser.add_argument("--latency", type=int, default=200)
    parser.add_argument("--rate", type=float, default=10.0)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args)), indent=2))


if __name__ == "__main__":
    main()
