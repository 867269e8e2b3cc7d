"""A task is claimed by exactly one user, through the real HTTP stack: 200 concurrent claims of one task, 10 times over;
exactly one winner each time, every other caller a 409 naming the winner."""

import asyncio

import httpx
from byte_contracts import topics
from byte_platform.identity import HEADER

CLAIMERS = 200
ROUNDS = 10


async def test_two_hundred_concurrent_claims_have_exactly_one_winner(
    tasks_service, client, make_token, org_id, event_tap
):
    tokens = [make_token(org_id, user_id=f"user_{i:03d}", roles=["reviewer"]) for i in range(CLAIMERS)]
    # Idle connections are dropped well before uvicorn's 5 s keep-alive timeout, so a claim never
    # goes out on a connection the server is closing at that instant (a client-side ReadError).
    limits = httpx.Limits(max_connections=CLAIMERS, max_keepalive_connections=CLAIMERS, keepalive_expiry=1.0)
    winners = {}
    async with (
        event_tap(topics.TASKS) as tap,
        client() as admin,
        httpx.AsyncClient(base_url=tasks_service.url, timeout=120, limits=limits) as http,
    ):
        for round_ in range(ROUNDS):
            task = (await admin.post("/v1/tasks", json={"title": f"Race {round_}", "assigned_role": "reviewer"})).json()
            start = asyncio.Event()

            async def claim(token: str, task: dict = task, start: asyncio.Event = start) -> httpx.Response:
                await start.wait()
                return await http.patch(f"/v1/tasks/{task['id']}/claim", headers={HEADER: token})

            pending = [asyncio.create_task(claim(t)) for t in tokens]
            await asyncio.sleep(0)  # every claimer is parked on the start line
            start.set()
            answers = await asyncio.gather(*pending)

            codes = sorted(r.status_code for r in answers)
            assert codes.count(200) == 1, (round_, codes)
            assert codes.count(409) == CLAIMERS - 1, (round_, codes)
            [won] = [r for r in answers if r.status_code == 200]
            winner = won.json()["assigned_to"]
            assert won.json()["id"] == task["id"]
            for r in answers:
                if r.status_code == 409:
                    assert r.headers["content-type"].startswith("application/problem+json")
                    assert r.json()["assigned_to"] == winner
            stored = (await admin.get(f"/v1/tasks/{task['id']}")).json()
            assert stored["assigned_to"] == winner
            winners[task["id"]] = winner

        claimed = await tap.collect(
            lambda e: e.org_id == org_id and e.type == "task.claimed", count=ROUNDS, settle=2, timeout=60
        )
    assert {e.subject: e.data["claimed_by"] for e, _, _ in claimed} == winners
    assert len(claimed) == ROUNDS
