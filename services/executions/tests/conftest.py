import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from byte_contracts import topics
from byte_contracts.contacts import ContactCreated, ContactSnapshot
from byte_platform.identity import HEADER
from byte_testing.kafka import groups_start_at_the_end


@pytest.fixture(scope="session")
def executions_db(fresh_database) -> str:
    return fresh_database("executions")


@pytest.fixture(scope="session")
async def executions_service(start_service, executions_db, stack):
    # Its own consumer groups: other executions processes of this session (on other databases)
    # must not take its share of the `identity`, `contacts`, `workflow` and `ingest` partitions.
    # Its groups start at the topics' ends: the shared topics' history is other tests' (and
    # grows as the stack runs); every test here publishes what it needs after the start.
    group = f"executions-test-{uuid.uuid4().hex[:8]}"
    await groups_start_at_the_end(
        stack["kafka_bootstrap_servers"],
        group,
        {
            "identity": topics.IDENTITY,
            "contacts": topics.CONTACTS,
            "workflow": topics.WORKFLOW,
            "intake": topics.INGEST,
        },
    )
    return start_service("executions", database_url=executions_db, consumer_group=group)


@pytest.fixture
def client(executions_service, make_token, org_id) -> Callable[..., httpx.AsyncClient]:
    """`client()` speaks for an admin of this test's org; `client(org, roles=[...])` for others."""

    def _client(
        org: str | None = None, roles=("admin",), user_id: str = "user_admin", **kwargs: Any
    ) -> httpx.AsyncClient:
        token = make_token(org or org_id, user_id=user_id, roles=roles)
        return httpx.AsyncClient(base_url=executions_service.url, headers={HEADER: token}, timeout=60, **kwargs)

    return _client


@pytest.fixture
def people(publish, h, org_id):
    """`await people.add(first, last, email)` publishes `contact.created` for this test's org
    (or `org=`) and returns the contact id; `people.snapshot(...)` builds a ContactSnapshot."""

    class People:
        @staticmethod
        def snapshot(
            contact_id: uuid.UUID,
            first: str,
            last: str = "",
            email: str | None = None,
            updated_at: datetime | None = None,
        ) -> ContactSnapshot:
            now = datetime.now(UTC)
            return ContactSnapshot(
                id=contact_id,
                first_name=first,
                last_name=last,
                email=email,
                status="active",
                created_at=now,
                updated_at=updated_at or now,
            )

        async def add(self, first: str, last: str = "", email: str | None = None, org: str | None = None) -> str:
            contact_id = uuid.uuid4()
            contact = self.snapshot(contact_id, first, last, email)
            await publish(h.event("contact.created", org or org_id, str(contact_id), ContactCreated(contact=contact)))
            return str(contact_id)

    return People()


@pytest.fixture
def open_case(h):
    """`await open_case(api, contact_id, **body)`: POST /v1/executions, retried until the
    contact's event has reached the projection (a refusal writes nothing)."""

    async def _open(api: httpx.AsyncClient, contact_id: str, expect: int = 201, **body: Any) -> dict[str, Any]:
        payload = {"contact_id": contact_id, "definition_id": "applicant-review", **body}

        async def attempt():
            r = await api.post("/v1/executions", json=payload)
            unseen = r.status_code == 422 and any(e["field"] == "contact_id" for e in r.json().get("errors", []))
            assert not unseen, r.text
            assert r.status_code == expect, r.text
            return r.json()

        return await h.eventually(attempt)

    return _open
