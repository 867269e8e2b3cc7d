"""Where the gateway's own time goes on the read path, without a client or a server in front.

    uv run python bench/profile_gateway.py [--requests 2000] [--profile gateway.prof]

Calls the gateway as an ASGI app in this process (uvloop), with a Clerk session (PEM key),
for `GET /v1/contacts?limit=50`, proxied to a stand-in contacts service: a raw asyncio HTTP
server in the same process that answers every request with the same ~12 kB JSON page (so
what is timed is the gateway's work plus one loopback exchange, no database). Prints the
gateway's p50 and the p50 of the same exchange made with the proxy's aiohttp session alone
(the floor: what any proxy pays for the upstream hop), and their difference: the gateway's
own cost. With `--profile`, writes a cProfile of the gateway's requests.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import json
import os
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

import uvloop
from byte_testing.plugin import ClerkIssuer
from harness import Databases, test_stack

ORG = "org_bench"
PAGE = json.dumps(
    {
        "items": [
            {
                "id": f"{i:08d}-0000-0000-0000-000000000000",
                "first_name": f"First{i}",
                "last_name": f"Last{i}",
                "email": f"person{i}@example.com",
                "tags": [f"tag{i % 20}"],
                "metadata": {"n": i},
            }
            for i in range(50)
        ],
        "next_cursor": "abc",
    }
).encode()
ANSWER = (b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n" % len(PAGE)) + PAGE


class StandIn(asyncio.Protocol):
    """Answers each request head (GETs only: no bodies) with the same page, keeping the connection."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while b"\r\n\r\n" in self.buffer:
            _, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
            self.transport.write(ANSWER)  # type: ignore[attr-defined]


def page_request(token: str) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/v1/contacts",
        "raw_path": b"/v1/contacts",
        "query_string": b"limit=50",
        "root_path": "",
        "headers": [
            (b"host", b"127.0.0.1:8000"),
            (b"user-agent", b"python-httpx/0.28"),
            (b"accept", b"*/*"),
            (b"accept-encoding", b"gzip, deflate"),
            (b"authorization", f"Bearer {token}".encode()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }


async def call(app: Any, scope: dict[str, Any]) -> None:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(dict(scope), receive, send)
    assert sent[0]["status"] == 200, sent


async def p50_ms(fn: Callable[[], Awaitable[Any]], n: int) -> float:
    times = []
    for _ in range(n):
        started = time.perf_counter()
        await fn()
        times.append(time.perf_counter() - started)
    return round(statistics.median(times) * 1000, 3)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    issuer = ClerkIssuer()
    server = await asyncio.get_running_loop().create_server(StandIn, "127.0.0.1", 0)
    upstream = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    with test_stack() as env, Databases(env) as databases:
        os.environ.update(
            DATABASE_URL=databases.create("gateway"),
            KAFKA_BOOTSTRAP_SERVERS=env["kafka_bootstrap_servers"],
            IDENTITY_PRIVATE_KEY_FILE=env["identity_private_key_file"],
            CLERK_JWT_KEY=issuer.public_pem,
            CLERK_ISSUER=issuer.issuer,
            RATE_LIMIT_PER_USER="1000000/minute",
            RATE_LIMIT_PER_ORG="1000000/minute",
            SERVICE_URLS_JSON=json.dumps({"contacts": upstream}),
            OUTBOX_RELAY_ENABLED="false",
            LOG_LEVEL="WARNING",
        )
        from byte_gateway.main import create_app

        app = create_app()
        scope = page_request(issuer.token(ORG, "bench", "admin", exp=int(time.time()) + 3600))
        results: dict[str, Any] = {"requests": args.requests}
        async with contextlib.AsyncExitStack() as stack:
            await stack.enter_async_context(app.router.lifespan_context(app))
            session = app.state.proxy._session

            async def alone() -> None:
                async with session.get(f"{upstream}/v1/contacts?limit=50") as response:
                    await response.read()

            for _ in range(200):  # warm-up: pool filled, session verified, identity minted
                await call(app, scope)
                await alone()
            gateway, floor = [], []
            for _ in range(4):
                gateway.append(await p50_ms(lambda: call(app, scope), args.requests // 4))
                floor.append(await p50_ms(alone, args.requests // 4))
            results["gateway_p50_ms"] = round(statistics.median(gateway), 3)
            results["upstream_exchange_alone_p50_ms"] = round(statistics.median(floor), 3)
            results["gateway_own_p50_ms"] = round(
                results["gateway_p50_ms"] - results["upstream_exchange_alone_p50_ms"], 3
            )
            if args.profile:
                profile = cProfile.Profile()
                profile.enable()
                for _ in range(args.requests):
                    await call(app, scope)
                profile.disable()
                profile.dump_stats(args.profile)
                results["profile"] = args.profile
    server.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--profile", help="write a cProfile of the gateway's requests to this file")
    print(json.dumps(uvloop.run(run(parser.parse_args())), indent=2))


if __name__ == "__main__":
    main()
