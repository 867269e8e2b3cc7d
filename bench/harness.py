"""What every bench shares: the test stack, throwaway migrated databases, a service process,
a closed-loop load of GETs, and the summary of its latencies."""

from __future__ import annotations

import asyncio
import statistics
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import psycopg
import sqlalchemy as sa
from byte_testing.processes import ServiceProcess, migrate


@contextmanager
def test_stack() -> Iterator[dict[str, Any]]:
    """The `test` profile's infrastructure: reused when it runs, otherwise started and stopped."""
    import byte_stack

    env, started = byte_stack.ensure_infra("test")
    try:
        yield env
    finally:
        if started:
            byte_stack.stop("test")


class Databases:
    """Fresh databases owned by a service's role, migrated; all dropped on exit."""

    def __init__(self, env: dict[str, Any]) -> None:
        self.env = env
        self.names: list[str] = []

    def __enter__(self) -> Databases:
        return self

    def create(self, service: str) -> str:
        name = f"{service}_bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(self.env["database_admin_url"], autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}" OWNER {service}')
        self.names.append(name)
        url = self.env["services"][service]["database_url"].rsplit("/", 1)[0] + "/" + name
        migrate(service, url)
        return url

    def __exit__(self, *exc: object) -> None:
        with psycopg.connect(self.env["database_admin_url"], autocommit=True) as admin:
            for name in self.names:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def plain_dsn(database_url: str) -> str:
    return sa.make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


def service(env: dict[str, Any], name: str, database_url: str, **extra: str) -> ServiceProcess:
    return ServiceProcess(
        name,
        {
            "DATABASE_URL": database_url,
            "KAFKA_BOOTSTRAP_SERVERS": env["kafka_bootstrap_servers"],
            "IDENTITY_PUBLIC_KEY_FILE": env["identity_public_key_file"],
            "LOG_LEVEL": "WARNING",
            **{k.upper(): v for k, v in extra.items()},
        },
        Path(env["logs_dir"]),
    )


async def load(
    client: httpx.AsyncClient,
    url: str,
    params: list[dict[str, Any]],
    requests: int,
    concurrency: int,
    headers: dict[str, str] | None = None,
) -> tuple[list[float], float]:
    """`requests` GETs of `url` from `concurrency` closed-loop clients, cycling through `params`;
    returns each request's latency and the elapsed time."""
    latencies: list[float] = []
    counter = iter(range(requests))

    async def worker() -> None:
        for i in counter:
            t0 = time.perf_counter()
            try:
                r = await client.get(url, params=params[i % len(params)], headers=headers)
            except httpx.TransportError as exc:
                raise RuntimeError(f"GET {url} (request {i}): {type(exc).__name__}: {exc}") from exc
            latencies.append(time.perf_counter() - t0)
            r.raise_for_status()

    started = time.perf_counter()
    await asyncio.gather(*[worker() for _ in range(concurrency)])
    return latencies, time.perf_counter() - started


def percentile_ms(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return round(ordered[max(0, int(len(ordered) * p) - 1)] * 1000, 2)


def summarize(latencies: list[float], elapsed: float) -> dict[str, float]:
    return {
        "requests": len(latencies),
        "p50_ms": round(statistics.median(latencies) * 1000, 2),
        "p99_ms": percentile_ms(latencies, 0.99),
        "rps": round(len(latencies) / elapsed, 1),
    }
