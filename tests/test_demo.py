"""`make demo` on the system the end-to-end tests start (conftest.py): the demo's own code
(byte_stack.demo), pointed at the test profile's gateway, mail sink and Temporal, runs twice for
one org and each run walks a new applicant from a signed Formstack submission to the email.

Every event the runs caused, as it is on the topics, matches its message in the event catalogue
(docs/asyncapi.json): the catalogue describes the wire, not only the models."""

from __future__ import annotations

import json
from typing import Any

import httpx
import jsonschema_rs
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from byte_contracts import topics
from byte_contracts.asyncapi import document
from byte_stack import demo
from byte_testing.waiting import eventually

from tests.e2e import WEBHOOK_SECRET

# Each run prints these, in this order, as they happen.
STEPS = [
    "submission stored",
    "contact",
    "case opened",
    "task appeared",
    "claimed",
    "completed",
    "task appeared",
    "claimed",
    "approved",
    "status",
    "email received",
]


def steps(lines: list[str]) -> list[str]:
    """The step names of the printed lines (`[  1.2s] case opened   <detail>`)."""
    names = [line.split("] ", 1)[1][:22].strip() for line in lines if line.startswith("[")]
    return [name for name in names if name in STEPS]


async def topic_ends(bootstrap: str) -> dict[TopicPartition, int]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        cluster = await consumer._client.fetch_all_metadata()
        partitions = [
            TopicPartition(topic, p) for topic in topics.ALL for p in cluster.partitions_for_topic(topic) or ()
        ]
        return await consumer.end_offsets(partitions)
    finally:
        await consumer.stop()


async def published_since(bootstrap: str, since: dict[TopicPartition, int], org: str) -> list[dict[str, Any]]:
    """The envelopes of `org` published on BYTE's topics after `since` (no consumer group: the
    partitions are read directly, up to where they end now)."""
    until = await topic_ends(bootstrap)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    found = []
    try:
        pending = [tp for tp, end in until.items() if end > since.get(tp, 0)]
        consumer.assign(pending)
        for tp in pending:
            consumer.seek(tp, since.get(tp, 0))
        while pending:
            for tp, records in (await consumer.getmany(*pending, timeout_ms=1000)).items():
                for record in records:
                    if dict(record.headers).get("org_id") == org.encode():
                        found.append(json.loads(record.value))
                if await consumer.position(tp) >= until[tp]:
                    pending.remove(tp)
    finally:
        await consumer.stop()
    return found


def catalogue_problems(envelopes: list[dict[str, Any]]) -> list[str]:
    catalogue = document()
    problems = []
    for envelope in envelopes:
        message = catalogue["components"]["messages"].get(envelope["type"])
        if message is None:
            problems.append(f"{envelope['type']} is not in the catalogue")
            continue
        schema = {"$ref": message["payload"]["$ref"], "components": catalogue["components"]}
        problems += [
            f"{envelope['type']}: {e.message}" for e in jsonschema_rs.validator_for(schema).iter_errors(envelope)
        ]
    return problems


# six processes to start on a shared machine when this test is the first to need them
@pytest.mark.timeout(600)
async def test_the_demo_runs_twice_each_time_with_a_new_applicant(system, orgs, clerk_issuer, stack, tmp_path):
    org = orgs[3]
    before = await topic_ends(stack["kafka_bootstrap_servers"])
    printed: list[list[str]] = [[], []]
    runs = []
    for lines in printed:
        target = demo.Target(
            gateway_url=system["gateway"].url,
            token=lambda user, role: clerk_issuer.token(org, user, role),
            org_id=org,
            state_dir=tmp_path,
            mail_url=stack["mail_http_url"],
            temporal_ui_url=stack["temporal_ui_url"],
            clerk_webhook_secret=WEBHOOK_SECRET,
            say=lines.append,
        )
        runs.append(await demo.run(target))

    first, second = runs
    assert steps(printed[0]) == STEPS and steps(printed[1]) == STEPS
    # the form is registered once; the second run finds it
    assert any(line.split("] ", 1)[-1].startswith("form registered") for line in printed[0])
    assert any("(registered before)" in line for line in printed[1])
    assert len({first.applicant_email, second.applicant_email}) == 2
    assert len({first.submission_id, second.submission_id}) == 2
    assert len({first.case_id, second.case_id}) == 2 and len({first.contact_id, second.contact_id}) == 2
    for run in runs:
        assert run.status == "approved"
        assert run.email_subject is not None and run.email_subject.startswith("Welcome to ")
    # by the second run the Clerk webhook that named the org has long reached the executions service
    assert second.email_subject == f"Welcome to {demo.ORG_NAME}, Ada!"

    # the links it ends with: the case and its history through the gateway, its workflow in the
    # Temporal UI
    token = clerk_issuer.token(org, "user_demo_admin", "admin")
    async with httpx.AsyncClient(timeout=30, headers={"Authorization": f"Bearer {token}"}) as http:
        case = (await http.get(second.links["case"])).json()

        async def history_told() -> bool:
            entries = (await http.get(second.links["history"], params={"limit": 200})).json()["items"]
            actions = {entry["action"] for entry in entries}
            assert {"submission.received", "execution.created", "task.claimed", "workflow.completed"} <= actions
            return True

        await eventually(history_told, timeout=60, what="the case's history in the activity log")
    assert case["id"] == second.case_id and case["status"] == "approved"
    assert second.links["temporal"] == (
        f"{stack['temporal_ui_url']}/namespaces/default/workflows/{case['temporal_workflow_id']}"
    )
    assert printed[1][-1].strip() == second.links["temporal"]

    # what the runs published, each envelope as its catalogue message describes it
    published = await published_since(stack["kafka_bootstrap_servers"], before, org)
    assert catalogue_problems(published) == []
    seen = {envelope["type"] for envelope in published}
    intake_to_decision = {
        "identity.organization.created",
        "submission.received",
        "contact.upserted",
        "execution.created",
        "workflow.task_requested",
        "task.created",
        "task.claimed",
        "task.completed",
        "workflow.step_entered",
        "execution.status_changed",
        "workflow.completed",
    }
    assert intake_to_decision <= seen, intake_to_decision - seen
