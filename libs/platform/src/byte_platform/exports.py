"""CSV exports every service streams the same way: a header row, the rows a batch at a time
(flat memory: the caller reads them from a server-side cursor), and a trailer line once the
last row is out, so a client can tell a complete file from one cut mid-stream (a failure
before the trailer ends the response without it). Cells a spreadsheet would run as formulas
are neutralised."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Sequence
from datetime import date, datetime
from typing import Any

from byte_contracts.errors import Forbidden

from byte_platform.context import Context

EXPORT_FORMAT = "rows-trailer"
EXPORT_TRAILER_FORMAT = "# rows=<n> complete"
EXPORT_HEADERS = {"X-Export-Format": EXPORT_FORMAT}
# A cell starting with one of these runs as a formula in spreadsheet apps (CSV injection; tab
# and carriage return too, per OWASP): prefixed with a quote, it is shown as text.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def require_exporter(ctx: Context) -> None:
    """Exports take an org's data out in bulk: for members, not guests (who may look, record by
    record). The gateway checks the same (docs/roles.md)."""
    if ctx.is_read_only:
        raise Forbidden("read-only role: exports are for members")


def export_trailer(rows: int) -> str:
    """The export's last line: proof for the client that nothing was cut."""
    return EXPORT_TRAILER_FORMAT.replace("<n>", str(rows)) + "\r\n"


def csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list):
        value = ";".join(str(v) for v in value)
    elif isinstance(value, dict):
        return json.dumps(value, sort_keys=True)
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


async def stream_csv(header: Sequence[str], batches: AsyncIterable[Iterable[Sequence[Any]]]) -> AsyncIterator[str]:
    """CSV text, a chunk per batch of rows, then the trailer. The first column's values must
    never start with `#` (the trailer's mark): an id column is a good first column."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    rows = 0
    async for batch in batches:
        for row in batch:
            writer.writerow([csv_cell(v) for v in row])
            rows += 1
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue() + export_trailer(rows)
