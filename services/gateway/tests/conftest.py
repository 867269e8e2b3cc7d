import base64
import json
import secrets
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from byte_stack.devclerk import DEV_ORIGIN
from byte_testing.http import JwksServer

APP_ORIGIN = "https://app.byte.test"
AUTHORIZED = f"{APP_ORIGIN},{DEV_ORIGIN}"  # the test ClerkIssuer's tokens are made for DEV_ORIGIN


@pytest.fixture(scope="session")
def contacts_service(start_service, fresh_database):
    return start_service(
        "contacts",
        database_url=fresh_database("contacts"),
        LOG_LEVEL="WARNING",
        consumer_group=f"gateway-tests-{uuid.uuid4().hex[:8]}",
    )


@pytest.fixture(scope="session")
def tasks_service(start_service, fresh_database):
    # Its own consumer groups: other tasks processes on the shared broker must not take its share.
    return start_service(
        "tasks",
        database_url=fresh_database("tasks"),
        LOG_LEVEL="WARNING",
        consumer_group=f"gateway-tests-{uuid.uuid4().hex[:8]}",
    )


@pytest.fixture(scope="session")
def executions_service(start_service, fresh_database):
    return start_service(
        "executions",
        database_url=fresh_database("executions"),
        LOG_LEVEL="WARNING",
        consumer_group=f"gateway-tests-{uuid.uuid4().hex[:8]}",
    )


@pytest.fixture(scope="session")
def gateway_db(fresh_database) -> str:
    return fresh_database("gateway")


@pytest.fixture(scope="session")
def webhook_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


@pytest.fixture(scope="session")
def start_gateway(
    start_service, stack, gateway_db, contacts_service, clerk_issuer, webhook_secret
) -> Callable[..., Any]:
    """`start_gateway(**env)`: a gateway process in front of the contacts process, trusting
    `clerk_issuer`'s PEM key unless the env says otherwise; `database_url=` gives it a database
    of its own (its outbox relay then publishes only its events)."""

    def _start(database_url: str | None = None, **env: str):
        base = {
            "IDENTITY_PRIVATE_KEY_FILE": stack["identity_private_key_file"],
            "SERVICE_URLS_JSON": json.dumps({"contacts": contacts_service.url}),
            "CLERK_JWT_KEY": clerk_issuer.public_pem,
            "CLERK_ISSUER": clerk_issuer.issuer,
            "CLERK_AUTHORIZED_PARTIES": AUTHORIZED,
            "CORS_ORIGINS": APP_ORIGIN,
            "CLERK_WEBHOOK_SECRET": webhook_secret,
            "RATE_LIMIT_PER_USER": "100000/minute",
            "RATE_LIMIT_PER_ORG": "100000/minute",
            "LOG_LEVEL": "WARNING",
        }
        base.update({k.upper(): v for k, v in env.items()})
        return start_service(
            "gateway", database_url=database_url or gateway_db, **{k: v for k, v in base.items() if v is not None}
        )

    return _start


@pytest.fixture(scope="session")
def gateway(start_gateway):
    return start_gateway()


@pytest.fixture
def client(gateway, clerk_issuer, org_id) -> Callable[..., httpx.AsyncClient]:
    """`client()` is an admin of this test's org, through the gateway; `client(role=, org=, user=,
    version=, token=)` anyone else."""

    def _client(
        role: str = "admin",
        org: str | None = None,
        user: str = "user_test",
        version: int = 2,
        token: str | None = None,
        service=None,
        **headers: str,
    ) -> httpx.AsyncClient:
        token = token or clerk_issuer.token(org or org_id, user, role, version=version)
        return httpx.AsyncClient(
            base_url=(service or gateway).url, timeout=30, headers={"Authorization": f"Bearer {token}", **headers}
        )

    return _client


@pytest.fixture(scope="session")
def jwks_server() -> Iterator[JwksServer]:
    server = JwksServer()
    yield server
    server.close()
