"""A stand-in service for the gateway's fault tests, built and served the way the services are
(`byte_platform.http.base_app` under uvicorn), so its errors and connection handling are theirs;
its routes fail on demand.

    python upstream_app.py PORT
"""

from __future__ import annotations

import itertools
import sys
from collections.abc import AsyncIterator

import uvicorn
from byte_platform.http import base_app
from fastapi.responses import StreamingResponse

app = base_app(title="upstream", version="0", lifespan=None)
writes = itertools.count(1)
applied: list[int] = []


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@app.post("/v1/contacts", status_code=201)
async def write() -> dict[str, int]:
    number = next(writes)
    applied.append(number)
    return {"write": number}


@app.get("/v1/contacts/writes")
async def count_writes() -> dict[str, int]:
    return {"applied": len(applied)}


@app.post("/v1/contacts/boom")
async def boom() -> None:
    # an error no handler expected (a bug, a lost database connection): the 500 path
    raise RuntimeError("boom")


@app.get("/v1/contacts/export")
async def export(rows: int = 1000, cut: bool = False) -> StreamingResponse:
    """`rows` CSV lines; with `cut`, the service breaks down halfway through the body."""

    async def lines() -> AsyncIterator[bytes]:
        yield b"n,name\r\n"
        for n in range(rows):
            if cut and n == rows // 2:
                raise RuntimeError("the export broke off")
            yield f"{n},contact {n}\r\n".encode()

    return StreamingResponse(lines(), media_type="text/csv")


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="error", access_log=False)
