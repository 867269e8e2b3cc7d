import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from byte_contracts import topics
from byte_platform.identity import HEADER
from byte_testing.kafka import groups_start_at_the_end


@pytest.fixture(scope="session")
def tasks_db(fresh_database) -> str:
    return fresh_database("tasks")


@pytest.fixture(scope="session")
async def tasks_service(start_service, tasks_db, stack):
    # Its own consumer groups: other task-service processes of this session (on other
    # databases) must not take its share of the `workflow` and `identity` partitions.
    # Its groups start at the topics' ends: the shared topics' history is other tests' (and
    # grows as the stack runs); every test here publishes what it needs after the start.
    group = f"tasks-test-{uuid.uuid4().hex[:8]}"
    await groups_start_at_the_end(
        stack["kafka_bootstrap_servers"], group, {"workflow": topics.WORKFLOW, "identity": topics.IDENTITY}
    )
    return start_service("tasks", database_url=tasks_db, consumer_group=group)


@pytest.fixture
def client(tasks_service, make_token, org_id) -> Callable[..., httpx.AsyncClient]:
    """`client()` speaks for an admin of this test's org; `client(user_id=..., roles=[...])` for
    others, `client(org)` for another org."""

    def _client(
        org: str | None = None, roles=("admin",), user_id: str = "user_admin", service=None, **kwargs: Any
    ) -> httpx.AsyncClient:
        token = make_token(org or org_id, user_id=user_id, roles=roles)
        return httpx.AsyncClient(base_url=(service or tasks_service).url, headers={HEADER: token}, timeout=60, **kwargs)

    return _client
