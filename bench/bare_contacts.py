"""The read path's baseline: the least a contacts page can cost in Python.

A minimal Starlette route doing the same work as `GET /v1/contacts?limit=50` of the contacts
service: one asyncpg transaction with the org set (so row-level security applies exactly as in
the service), the same SELECT over the same index, `json.dumps` of the rows. No identity, no
validation, no ORM. bench/read_path.py runs it beside the service and the gateway.

    python bench/bare_contacts.py --dsn postgresql://... --port 8123 --org org_bench
"""

from __future__ import annotations

import argparse
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

COLUMNS = (
    "id, first_name, last_name, email, phone, company, role, status, avatar_url, last_contacted_at, "
    "address_line_1, address_line_2, city, state, zip, metadata, tags, created_at, updated_at"
)
QUERY = f"SELECT {COLUMNS} FROM contacts WHERE org_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2"


def build(dsn: str, org: str) -> Starlette:
    pool: asyncpg.Pool | None = None

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        nonlocal pool
        pool = await asyncpg.create_pool(dsn, min_size=4, max_size=20)
        yield
        await pool.close()

    async def contacts(request: Request) -> Response:
        limit = int(request.query_params.get("limit", 50))
        assert pool is not None
        async with pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT set_config('app.org_id', $1, true)", org)
            rows = await conn.fetch(QUERY, org, limit + 1)
        items = [dict(r) for r in rows[:limit]]
        body = json.dumps({"items": items, "next_cursor": None}, default=str)
        return Response(body, media_type="application/json")

    return Starlette(routes=[Route("/v1/contacts", contacts)], lifespan=lifespan)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dsn", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--org", required=True)
    args = parser.parse_args()
    uvicorn.run(build(args.dsn, args.org), host="127.0.0.1", port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
