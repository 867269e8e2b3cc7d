"""Cases: full Applicant Review cases per second through the API, against a bare Temporal
workflow that waits for one signal, on the same Temporal server in the same run; and how long
after a case opens its first task shows.

    uv run python bench/cases.py [--cases 40] [--concurrency 8] [--bare 200]

Starts (or reuses) the `test` profile of the local stack, makes throwaway databases and starts
contacts, tasks, executions, the worker (on a task queue of its own) and the gateway on them;
their consumer groups are new and start at the topics' ends, so they only see this run's
events. One org (announced by a signed Clerk webhook, so its cases' emails can name it), a
reviewer and a manager.

1. Baseline: `BareCase`, a workflow that waits for one signal and returns, run by a Temporal
   worker inside this process on its own task queue; `--bare` of them started, signalled and
   awaited from `--concurrency` closed-loop clients. Cases per second.
2. Cases: `--cases` Applicant Review cases (the applicants are created first, outside the
   clock), each from `--concurrency` closed-loop clients as a client of the gateway would: open
   the case, wait for the review task, claim it, complete it, wait for the approval, claim it,
   approve it, wait for the case to be `approved` and its workflow completed. Cases per second
   and their ratio to the bare rate (goal >= 0.3); open -> first task visible p50/p99 (goal p50
   <= 300 ms), from the open's response to the first listing that shows the task (polled every
   `--poll` seconds, which bounds the resolution; the other waits poll every 0.1 s).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from bare_case import BareCase
from byte_contracts import topics
from byte_stack.devclerk import DEV_ORIGIN
from byte_testing.kafka import start_at_the_end
from byte_testing.plugin import ClerkIssuer
from byte_testing.processes import ServiceProcess
from chain_trace import Marks
from harness import Databases, percentile_ms, service, test_stack
from svix.webhooks import Webhook
from temporalio.client import Client
from temporalio.worker import Worker

WEBHOOK_SECRET = "whsec_" + "YmVuY2gtY2FzZXMtd2ViaG9vay1zZWNyZXQtMTIzNA=="
REVIEWER, MANAGER = "user_rev", "user_mgr"
GROUPS = {
    "contacts": {"intake": topics.INGEST, "update_requests": topics.WORKFLOW},
    "tasks": {"workflow": topics.WORKFLOW, "identity": topics.IDENTITY},
    "executions": {"identity": topics.IDENTITY, "contacts": topics.CONTACTS, "workflow": topics.WORKFLOW},
    "worker": {"executions": topics.EXECUTIONS, "tasks": topics.TASKS},
}


async def closed_loop(count: int, concurrency: int, one: Any) -> float:
    """`count` calls of `one(i)` from `concurrency` clients; the elapsed seconds."""
    numbers = iter(range(count))

    async def client() -> None:
        for i in numbers:
            await one(i)

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    return time.perf_counter() - started


async def bare_rate(temporal: Client, count: int, concurrency: int) -> dict[str, float]:
    queue = f"bench-bare-{uuid.uuid4().hex[:8]}"
    run = uuid.uuid4().hex[:8]

    async def one(i: int) -> None:
        handle = await temporal.start_workflow(BareCase.run, id=f"bench-bare-{run}-{i}", task_queue=queue)
        await handle.signal(BareCase.decide)
        await handle.result()

    async with Worker(temporal, task_queue=queue, workflows=[BareCase]):
        await closed_loop(min(concurrency, count), concurrency, one)  # warm-up
        elapsed = await closed_loop(count, concurrency, one)
    return {"workflows": count, "per_second": round(count / elapsed, 2)}


async def eventually(probe: Any, *, interval: float, timeout: float = 300) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = await probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError("no answer in time")
        await asyncio.sleep(interval)


class People:
    def __init__(self, gateway: str, issuer: ClerkIssuer, org: str) -> None:
        exp = int(time.time()) + 3 * 3600

        def as_(user: str, role: str) -> httpx.AsyncClient:
            token = issuer.token(org, user, role, exp=exp)
            return httpx.AsyncClient(base_url=gateway, timeout=60, headers={"Authorization": f"Bearer {token}"})

        self.admin = as_("user_admin", "admin")
        self.reviewer = as_(REVIEWER, "org:reviewer")
        self.manager = as_(MANAGER, "org:manager")

    async def close(self) -> None:
        for client in (self.admin, self.reviewer, self.manager):
            await client.aclose()


async def announce_org(gateway: str, org: str) -> None:
    at = datetime.now(UTC)
    data = {"id": org, "object": "organization", "name": "Bench County", "slug": org, "created_at": 1}
    raw = json.dumps({"type": "organization.created", "object": "event", "data": data})
    svix_id = f"msg_{uuid.uuid4().hex}"
    headers = {
        "svix-id": svix_id,
        "svix-timestamp": str(int(at.timestamp())),
        "svix-signature": Webhook(WEBHOOK_SECRET).sign(svix_id, at, raw),
        "content-type": "application/json",
    }
    async with httpx.AsyncClient(base_url=gateway, timeout=30) as clerk:
        (await clerk.post("/webhooks/clerk", content=raw, headers=headers)).raise_for_status()


async def org_known(executions: str) -> bool:
    """The executions service has the org's name (its cases' emails use it)."""
    async with httpx.AsyncClient(timeout=10) as http:
        metrics = (await http.get(f"{executions}/metrics")).text
    return any(
        line.startswith("byte_events_consumed_total") and 'type="identity.organization.created"' in line
        for line in metrics.splitlines()
    )


async def case_rate(
    people: People, count: int, concurrency: int, poll: float, moments: list[tuple[float, str]] | None = None
) -> dict[str, Any]:
    """`moments`, when given, gets what the clients saw and when (epoch seconds), for a trace."""

    def seen(what: str, case: dict[str, Any] | None = None) -> None:
        if moments is not None:
            moments.append((time.time(), f"client: {what} {case['id'] if case else ''}"))

    async def applicant(i: int) -> dict[str, Any]:
        email = f"bench-{uuid.uuid4().hex[:8]}@example.com"
        r = await people.admin.post("/v1/contacts", json={"first_name": "Ada", "last_name": f"B{i}", "email": email})
        r.raise_for_status()
        return r.json()

    warm_up = min(concurrency, 4)
    contacts = [await applicant(i) for i in range(count + warm_up)]
    first_task: list[float] = []

    async def opened(contact: dict[str, Any]) -> dict[str, Any]:
        async def attempt() -> dict[str, Any] | None:
            r = await people.admin.post(
                "/v1/executions", json={"contact_id": contact["id"], "definition_id": "applicant-review"}
            )
            if r.status_code == 422:  # the contact's event has not reached the executions service yet
                return None
            r.raise_for_status()
            return r.json()

        return await eventually(attempt, interval=0.2)

    async def task(who: httpx.AsyncClient, case: dict[str, Any], title: str, poll: float = 0.1) -> dict[str, Any]:
        async def listed() -> dict[str, Any] | None:
            r = await who.get("/v1/tasks", params={"execution": case["id"]})
            r.raise_for_status()
            return next((t for t in r.json()["items"] if t["title"] == title), None)

        return await eventually(listed, interval=poll)

    async def one(i: int, contacts: list[dict[str, Any]], record: bool) -> None:
        seen("opens a case")
        case = await opened(contacts[i])
        seen("case opened", case)
        shown = time.perf_counter()
        review = await task(people.reviewer, case, "Review Application", poll)
        if record:
            first_task.append(time.perf_counter() - shown)
        seen("review task seen", case)
        (await people.reviewer.patch(f"/v1/tasks/{review['id']}/claim")).raise_for_status()
        done = {"status": "done", "comment": "References check out."}
        (await people.reviewer.patch(f"/v1/tasks/{review['id']}/status", json=done)).raise_for_status()
        seen("review done", case)
        approval = await task(people.manager, case, "Manager Approval", poll)
        seen("approval task seen", case)
        (await people.manager.patch(f"/v1/tasks/{approval['id']}/claim")).raise_for_status()
        (await people.manager.patch(f"/v1/tasks/{approval['id']}/approve", json={})).raise_for_status()
        seen("approved", case)

        async def approved() -> bool:
            got = (await people.admin.get(f"/v1/executions/{case['id']}")).json()
            return (got["status"], got["run_state"]) == ("approved", "completed")

        await eventually(approved, interval=poll)
        seen("case approved and completed", case)

    warm, measured = contacts[:warm_up], contacts[warm_up:]
    await closed_loop(warm_up, concurrency, lambda i: one(i, warm, False))
    elapsed = await closed_loop(count, concurrency, lambda i: one(i, measured, True))
    return {
        "cases": count,
        "per_second": round(count / elapsed, 3),
        "open_to_first_task_p50_ms": percentile_ms(first_task, 0.5),
        "open_to_first_task_p99_ms": percentile_ms(first_task, 0.99),
    }


async def trace_lines(marks: Marks, org: str, moments: list[tuple[float, str]]) -> list[str]:
    """The clients' moments and the org's events on one clock, from the first moment on."""
    zero = moments[0][0]
    events = await marks.events(org)
    rows = [(at, f"{'':>32}  {what}") for at, what in moments]
    rows += [
        (e.appended, f"occurred {(e.occurred - zero) * 1000:9.1f}  {e.topic:<10} {e.type} {e.subject}") for e in events
    ]
    return [f"{(at - zero) * 1000:9.1f} ms  {text}" for at, text in sorted(rows)]


def worker_process(env: dict[str, Any], group: str, queue: str, org: str) -> ServiceProcess:
    return ServiceProcess(
        "worker",
        {
            "KAFKA_BOOTSTRAP_SERVERS": env["kafka_bootstrap_servers"],
            "TEMPORAL_ADDRESS": env["temporal_address"],
            "SMTP_HOST": env["smtp_host"],
            "SMTP_PORT": str(env["smtp_port"]),
            "CONSUMER_GROUP": group,
            "TEMPORAL_TASK_QUEUE": queue,
            # only this run's org: other runs' cases on the shared topics are not its work
            "ORG_IDS": org,
            "LOG_LEVEL": "WARNING",
        },
        Path(env["logs_dir"]),
    )


async def run(args: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, Any] = {"concurrency": args.concurrency, "poll_seconds": args.poll}
    issuer = ClerkIssuer()
    org = f"org_bench_{uuid.uuid4().hex[:8]}"
    run_id = uuid.uuid4().hex[:8]
    with test_stack() as env, Databases(env) as databases:
        processes: dict[str, ServiceProcess] = {}
        for name, groups in GROUPS.items():
            group = f"bench-{name}-{run_id}"
            for suffix, topic in groups.items():
                await start_at_the_end(env["kafka_bootstrap_servers"], topic, f"{group}.{suffix}")
            if name == "worker":
                processes[name] = worker_process(env, group, f"bench-cases-{run_id}", org)
            else:
                processes[name] = service(
                    env, name, databases.create(name), consumer_group=group, temporal_address=env["temporal_address"]
                )
        processes["gateway"] = service(
            env,
            "gateway",
            databases.create("gateway"),
            identity_private_key_file=env["identity_private_key_file"],
            clerk_jwt_key=issuer.public_pem,
            clerk_issuer=issuer.issuer,
            clerk_authorized_parties=DEV_ORIGIN,
            clerk_webhook_secret=WEBHOOK_SECRET,
            rate_limit_per_user="1000000/minute",
            rate_limit_per_org="1000000/minute",
        )
        people: People | None = None
        try:
            for name, process in processes.items():
                if name == "gateway":
                    urls = {n: processes[n].url for n in ("contacts", "tasks", "executions")}
                    process.env["SERVICE_URLS_JSON"] = json.dumps(urls)
                process.start(120)
            gateway = processes["gateway"].url
            await announce_org(gateway, org)
            await eventually(lambda: org_known(processes["executions"].url), interval=0.2)
            people = People(gateway, issuer, org)
            temporal = await Client.connect(env["temporal_address"])
            results["bare"] = await bare_rate(temporal, args.bare, args.concurrency)
            moments: list[tuple[float, str]] | None = [] if args.trace else None
            marks = await Marks.now(env["kafka_bootstrap_servers"], [topics.EXECUTIONS, topics.WORKFLOW, topics.TASKS])
            results["cases"] = await case_rate(people, args.cases, args.concurrency, args.poll, moments)
            results["cases_over_bare"] = round(results["cases"]["per_second"] / results["bare"]["per_second"], 3)
            if moments:
                results["trace"] = await trace_lines(marks, org, moments)
        finally:
            if people is not None:
                await people.close()
            for process in reversed(processes.values()):
                process.stop()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=40)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--bare", type=int, default=200)
    parser.add_argument("--poll", type=float, default=0.025)
    parser.add_argument("--trace", action="store_true", help="print every event of the run, with the clients' moments")
    print(json.dumps(asyncio.run(run(parser.parse_args())), indent=2))


if __name__ == "__main__":
    main()
