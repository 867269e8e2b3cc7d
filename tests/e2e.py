"""The running system as a client sees it, for the end-to-end tests of this folder: one org's
people as gateway clients (`Org`), and what a process has consumed (`consumed`). The processes
themselves are the `system` fixture (conftest.py), started once for the folder's tests."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
from byte_contracts import topics
from byte_testing import eventually
from svix.webhooks import Webhook

# How long one hop through the system (an event, a consumer, a workflow step) may take on a
# shared, busy test machine: a bound on waiting, not a performance target.
PATIENCE = 120.0

WEBHOOK_SECRET = "whsec_" + "ZTJlLWNhc2UtZmxvdy13ZWJob29rLXNlY3JldA=="

# Every consumer group of the processes below, by topic: they start at the topics' ends, so
# they act on these tests' events only, not on the shared topics' history.
GROUPS = {
    "contacts": {"intake": topics.INGEST, "update_requests": topics.WORKFLOW},
    "tasks": {"workflow": topics.WORKFLOW, "identity": topics.IDENTITY, "contacts": topics.CONTACTS},
    "executions": {
        "identity": topics.IDENTITY,
        "contacts": topics.CONTACTS,
        "workflow": topics.WORKFLOW,
        "intake": topics.INGEST,
    },
    "worker": {"executions": topics.EXECUTIONS, "tasks": topics.TASKS},
    "ingest": {"cases": topics.EXECUTIONS},
}


class Org:
    """One org, its people (an admin, a reviewer, a manager) as gateway clients."""

    def __init__(self, org_id: str, system: dict[str, Any], clerk_issuer, mail_url: str) -> None:
        self.id = org_id
        self.name = f"Lakeside {self.id[-4:]}"
        self.system = system
        self.mail_url = mail_url
        gateway = system["gateway"].url

        def as_(user: str, role: str) -> httpx.AsyncClient:
            token = clerk_issuer.token(self.id, user, role)
            return httpx.AsyncClient(base_url=gateway, timeout=30, headers={"Authorization": f"Bearer {token}"})

        self.admin = as_("user_admin", "admin")
        self.reviewer = as_("user_rev", "org:reviewer")
        self.manager = as_("user_mgr", "org:manager")

    async def __aenter__(self) -> Org:
        return self

    async def __aexit__(self, *exc: object) -> None:
        for client in (self.admin, self.reviewer, self.manager):
            await client.aclose()

    async def created_in_clerk(self) -> None:
        """Clerk tells the gateway the org exists (a signed webhook); the executions service
        learns its name from the event, before any case of it opens."""
        at = datetime.now(UTC)
        data = {"id": self.id, "object": "organization", "name": self.name, "slug": self.id, "created_at": 1}
        raw = json.dumps({"type": "organization.created", "object": "event", "data": data})
        svix_id = f"msg_{uuid.uuid4().hex}"
        headers = {
            "svix-id": svix_id,
            "svix-timestamp": str(int(at.timestamp())),
            "svix-signature": Webhook(WEBHOOK_SECRET).sign(svix_id, at, raw),
            "content-type": "application/json",
        }
        async with httpx.AsyncClient(base_url=self.system["gateway"].url, timeout=30) as clerk:
            assert (await clerk.post("/webhooks/clerk", content=raw, headers=headers)).status_code < 300

    async def applicant(self, first: str, last: str) -> dict[str, Any]:
        email = f"{first.lower()}-{uuid.uuid4().hex[:8]}@example.com"
        r = await self.admin.post("/v1/contacts", json={"first_name": first, "last_name": last, "email": email})
        assert r.status_code == 201, r.text
        return r.json()

    async def open_case(self, contact: dict[str, Any], definition: str = "applicant-review") -> dict[str, Any]:
        async def attempt():
            r = await self.admin.post("/v1/executions", json={"contact_id": contact["id"], "definition_id": definition})
            # 422 on contact_id: the contact's event has not reached the executions service yet
            assert r.status_code == 201, r.text
            return r.json()

        return await eventually(attempt, timeout=PATIENCE, interval=0.5)

    async def available(
        self, who: httpx.AsyncClient, case: dict[str, Any], title: str, timeout: float = PATIENCE
    ) -> dict[str, Any]:
        async def listed():
            items = (await who.get("/v1/tasks/available")).json()["items"]
            found = [t for t in items if t["workflow_execution_id"] == case["id"] and t["title"] == title]
            return found[0] if found else None

        return await eventually(listed, timeout=timeout, interval=0.5)

    async def case_reaches(self, case: dict[str, Any], **expected: Any) -> dict[str, Any]:
        async def reached():
            got = (await self.admin.get(f"/v1/executions/{case['id']}")).json()
            return got if all(got[k] == v for k, v in expected.items()) else None

        return await eventually(reached, timeout=PATIENCE, interval=0.5)

    async def mail_to(self, address: str) -> dict[str, Any]:
        async with httpx.AsyncClient(base_url=self.mail_url, timeout=10) as sink:

            async def delivered():
                found = (await sink.get("/messages", params={"to": address})).json()
                return found[0] if found else None

            return await eventually(delivered, timeout=PATIENCE, interval=0.5)


async def consumed(service: Any, event_type: str) -> float:
    """How many events of this type the process has handled (its consumer metrics)."""
    async with httpx.AsyncClient(timeout=10) as http:
        metrics = (await http.get(f"{service.url}/metrics")).text
    pattern = rf'byte_events_consumed_total\{{[^}}]*type="{re.escape(event_type)}"[^}}]*\}} ([0-9.]+)'
    return sum(float(n) for n in re.findall(pattern, metrics))
