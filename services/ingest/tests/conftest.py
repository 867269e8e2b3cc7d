"""The intake chain on the real stack: ingest, contacts and executions processes of this test's
own (own databases, own consumer groups started at each topic's end), and a gateway in front."""

import hashlib
import hmac
import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from byte_contracts import topics
from byte_platform.identity import HEADER
from byte_testing.kafka import start_at_the_end

SUBSCRIPTIONS = {
    "ingest": {"cases": topics.EXECUTIONS},
    "contacts": {"intake": topics.INGEST},
    "executions": {
        "identity": topics.IDENTITY,
        "contacts": topics.CONTACTS,
        "workflow": topics.WORKFLOW,
        "intake": topics.INGEST,
    },
}


@pytest.fixture(scope="session")
async def chain(start_service, fresh_database, stack, clerk_issuer) -> dict[str, Any]:
    """{"ingest", "contacts", "executions", "gateway"}: processes wired as in production."""
    suffix = uuid.uuid4().hex[:8]
    procs: dict[str, Any] = {}
    for service, subscriptions in SUBSCRIPTIONS.items():
        group = f"intake-test-{service}-{suffix}"
        for name, topic in subscriptions.items():
            await start_at_the_end(stack["kafka_bootstrap_servers"], topic, f"{group}.{name}")
        # the redelivery test sends thousands of deliveries to one form's URL
        extra = {"WEBHOOK_RATE_PER_MINUTE": "100000"} if service == "ingest" else {}
        procs[service] = start_service(
            service, database_url=fresh_database(service), consumer_group=group, LOG_LEVEL="WARNING", **extra
        )
    procs["gateway"] = start_service(
        "gateway",
        database_url=fresh_database("gateway"),
        IDENTITY_PRIVATE_KEY_FILE=stack["identity_private_key_file"],
        SERVICE_URLS_JSON=json.dumps({n: procs[n].url for n in ("ingest", "contacts", "executions")}),
        CLERK_JWT_KEY=clerk_issuer.public_pem,
        CLERK_ISSUER=clerk_issuer.issuer,
        CLERK_AUTHORIZED_PARTIES=clerk_issuer.azp,
        RATE_LIMIT_PER_USER="100000/minute",
        RATE_LIMIT_PER_ORG="100000/minute",
        CONSUMERS_ENABLED="false",
        LOG_LEVEL="WARNING",
    )
    await _carries_a_submission(procs, stack)
    return procs


async def _carries_a_submission(procs: dict[str, Any], stack: dict[str, Any]) -> None:
    """Waits until one submission went from ingest to a case and back (processed): the new
    consumer groups have their partitions, so the tests' waits measure the chain, not its start."""
    from byte_platform.identity import mint
    from byte_testing import eventually

    key = Path(stack["identity_private_key_file"]).read_text()
    org = f"org_warmup_{uuid.uuid4().hex[:8]}"
    hmac_key = "warm-up-key-" + uuid.uuid4().hex
    async with httpx.AsyncClient(
        base_url=procs["ingest"].url, headers={HEADER: mint(key, user_id="u", org_id=org, roles=["admin"])}, timeout=60
    ) as ingest:
        r = await ingest.post("/v1/formstack/forms", json={"form_id": "1", "hmac_key": hmac_key})
        assert r.status_code == 201, r.text
        body = b"FormID=1&UniqueID=warm-up&Email=warm-up%40example.com"
        r = await ingest.post(r.json()["webhook_path"], content=body, headers=Formstack.headers(hmac_key, body, URLENC))
        assert r.status_code == 200, r.text

        async def processed() -> bool:
            items = (await ingest.get("/v1/formstack/submissions")).json()["items"]
            return bool(items) and items[0]["status"] == "processed"

        await eventually(processed, timeout=300, interval=0.5, what="the warm-up submission processed")


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
        return httpx.AsyncClient(base_url=chain[service].url, headers={HEADER: make_token(org_id)}, timeout=60)

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
