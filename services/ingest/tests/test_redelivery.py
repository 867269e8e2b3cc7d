"""Formstack delivers every submission several times, in any order, concurrently, while a
downstream service dies and comes back: every submission is still taken in exactly once.

500 distinct submissions, each delivered 5 times, shuffled, 50 at a time; the contacts process is
SIGKILLed a third of the way in and started again two thirds in. The chain must end with 500
submissions, one contact per email, 500 cases (one per UniqueID), 500 first tasks (one per case),
and nothing twice."""

import asyncio
import random
import uuid
from collections import Counter
from urllib.parse import urlencode

SUBMISSIONS = 500
DELIVERIES_EACH = 5
SENDERS = 50


async def test_every_submission_once_through_redeliveries_and_a_contacts_crash(
    chain, direct, formstack, pages, h, org_id
):
    hmac_key = "fs-redelivery-" + uuid.uuid4().hex
    async with (
        direct("ingest") as ingest,
        direct("contacts") as contacts,
        direct("executions") as executions,
        direct("tasks") as tasks,
    ):
        review = (await executions.get("/v1/definitions/applicant-review")).json()
        r = await ingest.post(
            "/v1/formstack/forms",
            json={"form_id": "9100", "hmac_key": hmac_key, "default_definition_id": review["id"]},
        )
        assert r.status_code == 201, r.text
        path = r.json()["webhook_path"]
        tag = uuid.uuid4().hex[:8]
        bodies = {
            f"r{i}": urlencode(
                {
                    "FormID": "9100",
                    "UniqueID": f"r{i}",
                    "Name": f"first = Applicant\nlast = N{i}",
                    "Email": f"applicant-{i}-{tag}@example.com",
                }
            ).encode()
            for i in range(SUBMISSIONS)
        }
        deliveries = [sid for sid in bodies for _ in range(DELIVERIES_EACH)]
        random.shuffle(deliveries)
        answers: Counter[str] = Counter()
        queue: asyncio.Queue[tuple[int, str]] = asyncio.Queue()
        for n, sid in enumerate(deliveries):
            queue.put_nowait((n, sid))
        crash_at, back_at = len(deliveries) // 3, 2 * len(deliveries) // 3
        crashed, restarted = asyncio.Event(), asyncio.Event()

        async def sender() -> None:
            while not queue.empty():
                n, sid = queue.get_nowait()
                if n == crash_at:
                    chain["contacts"].kill()
                    crashed.set()
                if n == back_at:
                    await crashed.wait()
                    await asyncio.to_thread(chain["contacts"].start)
                    restarted.set()
                body = bodies[sid]
                r = await ingest.post(
                    path, content=body, headers=formstack.headers(hmac_key, body, "application/x-www-form-urlencoded")
                )
                assert r.status_code == 200, r.text
                answers[r.json()["status"]] += 1

        await asyncio.gather(*(sender() for _ in range(SENDERS)))
        await restarted.wait()
        # every delivery answered: the first of each submission stored it, the rest changed nothing
        assert answers == {"received": SUBMISSIONS, "duplicate": SUBMISSIONS * (DELIVERIES_EACH - 1)}

        async def all_processed():
            # one cheap page while the chain works: how many are not processed yet
            r = await ingest.get("/v1/formstack/submissions", params={"status": "received", "limit": 1})
            assert r.json()["items"] == []
            stored = await pages(ingest, "/v1/formstack/submissions")
            assert Counter(s["status"] for s in stored) == {"processed": SUBMISSIONS}
            return stored

        stored = await h.eventually(all_processed, timeout=240, interval=1.0)
        assert sorted(s["submission_id"] for s in stored) == sorted(bodies)

        people = await pages(contacts, "/v1/contacts")
        assert len(people) == SUBMISSIONS
        assert len({p["email"].lower() for p in people}) == SUBMISSIONS

        cases = await pages(executions, "/v1/executions", source="formstack")
        assert len(cases) == SUBMISSIONS
        assert sorted(c["source_id"] for c in cases) == sorted(bodies)
        assert {c["status"] for c in cases} == {"submitted"}
        # each case is the one its submission reports, about the person who submitted it (by the
        # email its contact summary shows: on the shared test broker every contacts process of the
        # session takes the applicant in, each in its own database, and the first to answer is
        # the case's contact)
        assert {s["execution_id"] for s in stored} == {c["id"] for c in cases}
        emails = {sid: f"applicant-{sid[1:]}-{tag}@example.com" for sid in bodies}
        assert all(c["contact"]["email"] == emails[c["source_id"]] for c in cases)

        async def first_tasks():
            found = await pages(tasks, "/v1/tasks")
            assert len(found) >= SUBMISSIONS
            return found

        found = await h.eventually(first_tasks, timeout=240, interval=2.0)
        by_case = Counter(t["workflow_execution_id"] for t in found)
        assert by_case == dict.fromkeys((c["id"] for c in cases), 1)
        assert {(t["workflow_execution_id"], t["contact_id"]) for t in found} == {
            (c["id"], c["contact_id"]) for c in cases
        }
