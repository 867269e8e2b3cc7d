"""The whole system as processes on the shared test stack, started once for every end-to-end
test of this folder (test_case_flow, test_demo, test_durability): starting six services is most
of their time."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from byte_stack.devclerk import DEV_ORIGIN
from byte_testing.kafka import groups_start_at_the_end

from tests.e2e import GROUPS, WEBHOOK_SECRET

# approving, rejecting, escalating (test_case_flow); the demo's (test_demo); fifty cases
# (test_durability, the last)
ORGS = 5


@pytest.fixture(scope="package")
def orgs() -> list[str]:
    return [f"org_{uuid.uuid4().hex[:12]}" for _ in range(ORGS)]


@pytest.fixture(scope="package")
async def system(stack, start_service, fresh_database, clerk_issuer, orgs) -> AsyncIterator[dict[str, Any]]:
    """The whole system; its processes stop when the folder's tests end (the worker must not go on
    acting on later tests' cases)."""
    run = uuid.uuid4().hex[:8]
    await asyncio.gather(
        *(
            groups_start_at_the_end(stack["kafka_bootstrap_servers"], f"e2e-{service}-{run}", groups)
            for service, groups in GROUPS.items()
        )
    )

    def start(service: str) -> Any:
        extra: dict[str, str] = {"consumer_group": f"e2e-{service}-{run}"}
        if service == "worker":
            extra["temporal_task_queue"] = f"cases-e2e-{run}"
            # the shared topics carry other sessions' completions of tasks whose cases never
            # started here: waiting a few seconds for those is enough (ours always exist)
            extra["signal_start_patience_seconds"] = "15"
            # and only this folder's orgs: other sessions' cases are not its to run or wait behind
            extra["org_ids"] = ",".join(orgs)
        else:
            extra["database_url"] = fresh_database(service)
        return start_service(service, **extra)

    # side by side: each mostly waits (migrations, Kafka group joins)
    *processes, gateway_db = await asyncio.gather(
        *(asyncio.to_thread(start, service) for service in GROUPS), asyncio.to_thread(fresh_database, "gateway")
    )
    started = dict(zip(GROUPS, processes, strict=True))
    started["gateway"] = start_service(
        "gateway",
        database_url=gateway_db,
        IDENTITY_PRIVATE_KEY_FILE=stack["identity_private_key_file"],
        SERVICE_URLS_JSON=json.dumps({n: started[n].url for n in ("contacts", "tasks", "executions", "ingest")}),
        CLERK_JWT_KEY=clerk_issuer.public_pem,
        CLERK_ISSUER=clerk_issuer.issuer,
        CLERK_AUTHORIZED_PARTIES=DEV_ORIGIN,
        CLERK_WEBHOOK_SECRET=WEBHOOK_SECRET,
        RATE_LIMIT_PER_USER="100000/minute",
        RATE_LIMIT_PER_ORG="100000/minute",
        LOG_LEVEL="WARNING",
    )
    yield started
    for process in started.values():
        process.stop()
