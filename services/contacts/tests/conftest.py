import uuid
from collections.abc import Callable

import httpx
import pytest
from byte_contracts import topics
from byte_platform.identity import HEADER
from byte_testing.kafka import start_at_the_end


@pytest.fixture(scope="session")
def contacts_db(fresh_database) -> str:
    return fresh_database("contacts")


@pytest.fixture(scope="session")
async def contacts_service(start_service, contacts_db, stack):
    # Its own consumer group: other contacts processes of this session (on other databases)
    # must not take its share of the `ingest` partitions. It starts at the topic's end: the
    # shared history of intake submissions (thousands, from the ingest tests) is not its to replay.
    group = f"contacts-test-{uuid.uuid4().hex[:8]}"
    await start_at_the_end(stack["kafka_bootstrap_servers"], topics.INGEST, f"{group}.intake")
    return start_service("contacts", database_url=contacts_db, consumer_group=group)


@pytest.fixture
def client(contacts_service, make_token, org_id) -> Callable[..., httpx.AsyncClient]:
    """`client()` speaks for an admin of this test's org; `client(org, roles=[...])` for others."""

    def _client(
        org: str | None = None, roles=("admin",), user_id: str = "user_test", service=None
    ) -> httpx.AsyncClient:
        token = make_token(org or org_id, user_id=user_id, roles=roles)
        return httpx.AsyncClient(base_url=(service or contacts_service).url, headers={HEADER: token}, timeout=30)

    return _client
