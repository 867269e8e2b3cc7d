"""The intake chain on the real stack: ingest, contacts, executions, tasks and worker processes of
this folder's own (own databases, own consumer groups started at each topic's end, the worker on
a task queue of its own serving this folder's orgs only), and a gateway in front."""

import asyncio
import hashlib
import hmac
import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from byte_platform.identity import HEADER

# The worker runs only these orgs' cases (its ORG_IDS), so every org a test of this folder uses
# comes from here: other sessions' cases on the shared topics are not its to start.
ORGS = 16


@pytest.fixture(scope="session")
def intake_orgs() -> list[str]:
    return [f"org_{uuid.uuid4().hex[:12]}" for _ in range(ORGS)]


@pytest.fixture(scope="session")
def _org_ids(intake_orgs) -> Iterator[str]:
    return iter(intake_orgs[1:])


@pytest.fixture
def org_id(_org_ids) -> str:
    """A fresh org per test, one the chain's worker serves."""
    return next(_org_ids)


@pytest.fixture(scope="session")
async def chain(start_service, fresh_database, stack, clerk_issuer, intake_orgs) -> dict[str, Any]:
    """{"ingest", "contacts", "executions", "tasks", "worker", "gateway"}: processes wired as in
    production, with consumer groups of their own that start at the topics' ends
    (`CONSUMER_NEW_GROUPS_START=end`, set by `start_service`)."""
    suffix = uuid.uuid4().hex[:8]

    def start(service: str) -> Any:
        group = f"intake-test-{service}-{suffix}"
        if service == "worker":
            return start_service(
                service,
                consumer_group=group,
                temporal_task_queue=f"cases-intake-{suffix}",
                org_ids=",".join(intake_orgs),
                LOG_LEVEL="WARNING",
                # it joins two consumer groups and Temporal before it is ready: on a machine
                # shared with other sessions' tests that may take more than a minute
                ready_timeout=180,
            )
        # the redelivery test sends thousands of deliveries to one form's URL
        extra = {"WEBHOOK_RATE_PER_MINUTE": "100000"} if service == "ingest" else {}
        return start_service(
            service, database_url=fresh_database(service), consumer_group=group, LOG_LEVEL="WARNING", **extra
        )

    services = ("ingest", "contacts", "executions", "tasks")
    # side by side: each mostly waits (migrations, Kafka group joins); the worker, the heaviest
    # to start, after them, so that a busy machine does not starve all five at once
    started = await asyncio.gather(*(asyncio.to_thread(start, service) for service in services))
    procs: dict[str, Any] = dict(zip(services, started, strict=True))
    procs["worker"] = await asyncio.to_thread(start, "worker")
    procs["gateway"] = start_service(
        "gateway",
        database_url=fresh_database("gateway"),
        IDENTITY_PRIVATE_KEY_FILE=stack["identity_private_key_file"],
        SERVICE_URLS_JSON=json.dumps({n: procs[n].url for n in ("ingest", "contacts", "executions", "tasks")}),
        CLERK_JWT_KEY=clerk_issuer.public_pem,
        CLERK_ISSUER=clerk_issuer.issuer,
        CLERK_AUTHORIZED_PARTIES=clerk_issuer.azp,
        RATE_LIMIT_PER_USER="100000/minute",
        RATE_LIMIT_PER_ORG="100000/minute",
        CONSUMERS_ENABLED="false",
        LOG_LEVEL="WARNING",
    )
    await _carries_a_submission(procs, stack, intake_orgs[0])
    return procs


async def _carries_a_submission(procs: dict[str, Any], stack: dict[str, Any], org: str) -> None:
    """Waits until one submission went from ingest to a case and back (processed) and the case's
    first task appeared: the new consumer groups have their partitions and the worker polls, so
    the tests' waits measure the chain, not its start."""
    from byte_platform.identity import mint
    from byte_testing import eventually

    key = Path(stack["identity_private_key_file"]).read_text()
    # the wait may outlast a token's usual minutes on a busy machine
    token = mint(key, user_id="u", org_id=org, roles=["admin"], ttl_seconds=1800)
    hmac_key = "warm-up-key-" + uuid.uuid4().hex
    async with httpx.AsyncClient(base_url=procs["ingest"].url, headers={HEADER: token}, timeout=60) as ingest:
        r = await ingest.post("/v1/formstack/forms", json={"form_id": "1", "hmac_key": hmac_key})
        assert r.status_code == 201, r.text
        # a first and a last name: the first step's task names the applicant by both
        body = b"FormID=1&UniqueID=warm-up&Email=warm-up%40example.com&Name=first+%3D+Warm%0Alast+%3D+Up"
        r = await ingest.post(r.json()["webhook_path"], content=body, headers=Formstack.headers(hmac_key, body, URLENC))
        assert r.status_code == 200, r.text

        async def processed() -> bool:
            items = (await ingest.get("/v1/formstack/submissions")).json()["items"]
            return bool(items) and items[0]["status"] == "processed"

        await eventually(processed, timeout=300, interval=0.5, what="the warm-up submission processed")
    async with httpx.AsyncClient(base_url=procs["tasks"].url, headers={HEADER: token}, timeout=60) as tasks:

        async def first_task() -> bool:
            r = await tasks.get("/v1/tasks")
            assert r.status_code == 200, r.text
            return bool(r.json()["items"])

        await eventually(first_task, timeout=300, interval=0.5, what="the warm-up case's first task")


URLENC = "application/x-www-form-urlencoded"


@pytest.fixture
def api(chain, clerk_issuer, org_id) -> Callable[..., httpx.AsyncClient]:
    """`api()` is an admin of this test's org through the gateway; `api(role="member")` others."""

    def _api(role: str = "admin", **kwargs: Any) -> httpx.AsyncClient:
        token = clerk_issuer.token(org_id, "user_intake", role)
        return httpx.AsyncClient(
            base_url=chain["gateway"].url, headers={"Authorization": f"Bearer {token}"}, timeout=60, **kwargs
        )

    return _api


@pytest.fixture
def direct(chain, make_token, org_id) -> Callable[[str], httpx.AsyncClient]:
    """`direct("contacts")`: an admin of this test's org straight at one service."""

    def _direct(service: str) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=chain[service].url, headers={HEADER: make_token(org_id, ttl=1800)}, timeout=60
        )

    return _direct


class Formstack:
    """Sends deliveries as Formstack does: form-urlencoded or JSON, signed with the form's key."""

    @staticmethod
    def sign(key: str, body: bytes) -> str:
        return "sha256=" + hmac.new(key.encode(), body, hashlib.sha256).hexdigest()

    @staticmethod
    def headers(key: str | None, body: bytes, content_type: str, header: str = "X-FS-Signature") -> dict[str, str]:
        out = {"Content-Type": content_type}
        if key is not None:
            out[header] = Formstack.sign(key, body)
        return out


@pytest.fixture(scope="session")
def formstack() -> type[Formstack]:
    return Formstack


async def every_item(client: httpx.AsyncClient, path: str, **params: Any) -> list[dict[str, Any]]:
    """Every item of a keyset-paged list."""
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        r = await client.get(path, params={**params, "limit": 200, **({"cursor": cursor} if cursor else {})})
        assert r.status_code == 200, r.text
        page = r.json()
        items += page["items"]
        cursor = page.get("next_cursor")
        if not cursor:
            return items


@pytest.fixture(scope="session")
def pages():
    return every_item
