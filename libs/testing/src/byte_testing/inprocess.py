"""A service's app in this process, with no servers: the fast tier's API tests.

The app is built by the service's own `create_app` and called through `httpx.ASGITransport`,
which runs no lifespan, so the runtime's parts (database pool, broker, relay) never start;
the database engine connects only when a query runs. Every server address points at a closed
port: a request that reaches for the database or the broker fails at once (a 500), never
finding a real server, so these tests only pass for what truly needs no infrastructure.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx
from byte_platform.identity import generate_key_pair, mint

from byte_testing.processes import free_port


def offline(**settings: Any) -> dict[str, Any]:
    """Service settings with every server on a closed port, plus `settings`."""
    port = free_port()  # bound and released: nothing listens there
    return {
        "database_url": f"postgresql+asyncpg://nobody:nobody@127.0.0.1:{port}/nothing",
        "kafka_bootstrap_servers": f"127.0.0.1:{port}",
        "kafka_create_topics": False,
        **settings,
    }


@dataclass(frozen=True)
class IdentityKeys:
    """An Ed25519 pair in memory: what the gateway signs with and what services verify with."""

    private_pem: str = field(repr=False)
    public_pem: str

    @classmethod
    def generate(cls) -> IdentityKeys:
        return cls(*generate_key_pair())

    def token(
        self, org_id: str, user_id: str = "user_test", roles: tuple[str, ...] | list[str] = ("admin",), ttl: int = 300
    ) -> str:
        return mint(self.private_pem, user_id=user_id, org_id=org_id, roles=list(roles), ttl_seconds=ttl)


def asgi_client(app: Any, **kwargs: Any) -> httpx.AsyncClient:
    """An HTTP client that calls `app` in this process (no lifespan, no socket)."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver", **kwargs)
