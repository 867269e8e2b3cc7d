"""A database restart under load, on a PostgreSQL of the test's own: HTTP answers 503 with
Retry-After meanwhile (never 500), the consumer waits instead of dead-lettering valid task
requests, and after recovery every requested task exists exactly once and events flow again.
The service's log keeps the request ids and holds the flood of identical warnings back."""

import asyncio
import contextlib
import json
import time
import uuid
from collections import Counter

import httpx
from byte_contracts import Envelope, topics
from byte_contracts.workflow import TaskRequested
from byte_platform.consumers import TRANSIENT_BACKOFF_MAX
from byte_platform.identity import HEADER
from byte_testing.kafka import start_at_the_end

DOWN_FOR_SECONDS = 6
# How long after recovery the work may take: the consumer's and the outbox relay's capped
# backoffs (not a performance target).
RECOVERY_BOUND_SECONDS = TRANSIENT_BACKOFF_MAX + 60


async def test_a_database_restart_under_load(
    own_postgres, start_service, publish, event_tap, make_token, org_id, h, stack
):
    pg = own_postgres()
    group = f"tasks-outage-{uuid.uuid4().hex[:8]}"
    for topic in (topics.WORKFLOW, topics.IDENTITY):
        await start_at_the_end(stack["kafka_bootstrap_servers"], topic, f"{group}.{topic}")
    service = start_service("tasks", database_url=pg.provision("tasks"), consumer_group=group)
    execution = uuid.uuid4()
    requested: list[str] = []
    answers: list[tuple[str, httpx.Response]] = []
    transport_errors: list[Exception] = []
    load_running = True

    async def http_load() -> None:
        # one pooled client, as the gateway is: reads and writes without pause
        async with httpx.AsyncClient(base_url=service.url, headers={HEADER: make_token(org_id)}, timeout=30) as api:
            n = 0
            while load_running:
                n += 1
                request_id = f"outage-{n}"
                try:
                    if n % 2:
                        r = await api.get("/v1/tasks", params={"limit": 5}, headers={"X-Request-ID": request_id})
                    else:
                        r = await api.post(
                            "/v1/tasks", json={"title": f"manual {n}"}, headers={"X-Request-ID": request_id}
                        )
                    answers.append((request_id, r))
                except httpx.TransportError as exc:
                    transport_errors.append(exc)
                await asyncio.sleep(0.01)

    async def request_tasks(phase: str, count: int) -> None:
        for i in range(count):
            step = f"{phase}-{i}"
            await publish(
                h.event(
                    "workflow.task_requested",
                    org_id,
                    str(execution),
                    TaskRequested(execution_id=execution, step_id=step, title=f"Step {step}"),
                    actor="system:worker",
                )
            )
            requested.append(step)
            await asyncio.sleep(0.05)

    async with event_tap(topics.TASKS) as tasks_tap, event_tap(topics.dead_letter(topics.WORKFLOW)) as dlq:
        load = asyncio.create_task(http_load())
        try:
            await request_tasks("before", 10)
            await asyncio.to_thread(pg.stop)
            await request_tasks("during", 10)
            await asyncio.sleep(DOWN_FOR_SECONDS)
            await asyncio.to_thread(pg.start)
            recovered_at = time.monotonic()
            await request_tasks("after", 10)

            async with httpx.AsyncClient(base_url=service.url, headers={HEADER: make_token(org_id)}) as api:

                async def all_created():
                    r = await api.get("/v1/tasks", params={"execution": str(execution), "limit": 100})
                    items = r.json()["items"] if r.status_code == 200 else []
                    return items if len(items) >= len(requested) else None

                items = await h.eventually(all_created, timeout=RECOVERY_BOUND_SECONDS)
        finally:
            load_running = False
            await load

        def from_steps(e: Envelope) -> bool:
            return e.org_id == org_id and e.type == "task.created" and e.data["task"]["created_by_step_id"] is not None

        created = await tasks_tap.collect(from_steps, count=len(requested), timeout=RECOVERY_BOUND_SECONDS)
        flowing_again_after = time.monotonic() - recovered_at
        dead = await dlq.records(count=1, timeout=2)

    # every requested task exactly once, and its event published
    assert Counter(t["created_by_step_id"] for t in items) == Counter(requested)
    assert {e.data["task"]["created_by_step_id"] for e, _, _ in created} == set(requested)
    assert not [r for r in dead if Envelope.from_bytes(r.value).org_id == org_id]  # nothing valid dead-lettered
    print(f"tasks and events complete {flowing_again_after:.1f}s after PostgreSQL came back")

    # HTTP: 503 with Retry-After while the database was away, never a 500, never a dropped connection
    assert not transport_errors
    statuses = Counter(r.status_code for _, r in answers)
    assert set(statuses) <= {200, 201, 503}, statuses
    unavailable = [(rid, r) for rid, r in answers if r.status_code == 503]
    assert unavailable, "the load never met the outage"
    for _, r in unavailable:
        assert r.headers["content-type"].startswith("application/problem+json")
        assert int(r.headers["retry-after"]) > 0
    assert statuses[200] and statuses[201]

    # the log: request ids on the warnings, and the flood held back with a count
    answered_503 = {rid for rid, _ in unavailable}

    def lines() -> list[dict]:
        out = []
        for raw in service.log_path.read_text().splitlines():
            with contextlib.suppress(ValueError):  # not every line is the service's JSON (pytest markers)
                out.append(json.loads(raw))
        return [x for x in out if x.get("logger") == "byte_platform.http"]

    async def flood_summarised():
        found = [x for x in lines() if x.get("suppressed") and "met a transient failure" in x["message"]]
        return found or None

    summaries = await h.eventually(flood_summarised, timeout=30)
    service.stop()  # before its database goes away with the test
    warned = [x for x in lines() if "met a transient failure" in x["message"] and not x.get("suppressed")]
    assert warned and {x["correlation_id"] for x in warned} <= answered_503
    assert len(warned) + sum(x["suppressed"] for x in summaries) <= len(answered_503)
    assert len(warned) < len(answered_503)
