"""Where the service's time goes on the read path, without HTTP in the way.

    uv run python bench/profile_read_path.py [--requests 1200] [--profile service.prof]

Seeds 1,000 contacts on a throwaway database of the `test` stack (as bench/read_path.py does)
and calls two ASGI apps in this process, in alternating rounds, with the same request
`GET /v1/contacts?limit=50`: the baseline of bench/bare_contacts.py and the contacts service
(`byte_contacts.main.create_app`, consumers and outbox relay off). No client, no server, no
socket between them: what differs is only what the apps do. Prints both p50s and their ratio,
then the service's p50 with its query stubbed out (the framework's share: middlewares,
dependencies, serialization) and the query alone (`ContactQueries.page`). With `--profile`,
writes a cProfile of the service's requests (read it with `python -m pstats`).
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import json
import os
import statistics
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import uvloop
from bare_contacts import build
from byte_platform.identity import HEADER, mint
from harness import Databases, plain_dsn, test_stack
from read_path import ORG, seed


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
        "headers": [(HEADER.lower().encode(), token.encode())],
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
    with test_stack() as env, Databases(env) as databases:
        url = databases.create("contacts")
        seed(plain_dsn(url), 1000)
        os.environ.update(
            DATABASE_URL=url,
            KAFKA_BOOTSTRAP_SERVERS=env["kafka_bootstrap_servers"],
            IDENTITY_PUBLIC_KEY_FILE=env["identity_public_key_file"],
            CONSUMERS_ENABLED="false",
            OUTBOX_RELAY_ENABLED="false",
            LOG_LEVEL="WARNING",
        )
        from byte_contacts.main import create_app
        from byte_contacts.queries import ContactFilter
        from byte_platform.context import Context

        token = mint(
            Path(env["identity_private_key_file"]).read_text(),
            user_id="bench",
            org_id=ORG,
            roles=["admin"],
            ttl_seconds=3600,
        )
        scope = page_request(token)
        apps = {"bare": build(plain_dsn(url), ORG), "service": create_app()}
        results: dict[str, Any] = {"requests": args.requests}
        async with contextlib.AsyncExitStack() as stack:
            for app in apps.values():
                await stack.enter_async_context(app.router.lifespan_context(app))
                for _ in range(100):  # warm-up: pools filled, statements prepared
                    await call(app, scope)
            rounds: dict[str, list[float]] = {name: [] for name in apps}
            for _ in range(4):
                for name, app in apps.items():
                    rounds[name].append(await p50_ms(lambda app=app: call(app, scope), args.requests // 4))
            for name, p50s in rounds.items():
                results[f"{name}_p50_ms"] = round(statistics.median(p50s), 3)
            results["service_over_bare_p50"] = round(results["service_p50_ms"] / results["bare_p50_ms"], 2)

            service = apps["service"]
            queries = service.state.queries
            ctx = Context(org_id=ORG, actor="bench")
            page = await queries.page(ctx, ContactFilter(), 50, None)

            class Stubbed:
                async def page(self, *_: Any) -> Any:
                    return page

            service.state.queries = Stubbed()
            results["service_query_stubbed_p50_ms"] = await p50_ms(lambda: call(service, scope), args.requests)
            service.state.queries = queries
            results["query_alone_p50_ms"] = await p50_ms(
                lambda: queries.page(ctx, ContactFilter(), 50, None), args.requests
            )
            if args.profile:
                profile = cProfile.Profile()
                profile.enable()
                for _ in range(args.requests):
                    await call(service, scope)
                profile.disable()
                profile.dump_stats(args.profile)
                results["profile"] = args.profile
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=1200)
    parser.add_argument("--profile", help="write a cProfile of the service's requests to this file")
    print(json.dumps(uvloop.run(run(parser.parse_args())), indent=2))


if __name__ == "__main__":
    main()
