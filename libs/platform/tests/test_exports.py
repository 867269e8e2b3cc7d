"""The shared CSV export: any cell text survives a round trip through a CSV reader (after the
formula guard), a formula never reaches a spreadsheet as one, and the trailer counts the rows."""

import csv
import io

from byte_platform.exports import FORMULA_STARTS, csv_cell, export_trailer, stream_csv
from hypothesis import given
from hypothesis import strategies as st


async def _collect(header, batches) -> str:
    async def source():
        for batch in batches:
            yield batch

    return "".join([chunk async for chunk in stream_csv(header, source())])


@given(st.lists(st.lists(st.text(), min_size=2, max_size=2), max_size=5), st.integers(1, 3))
async def test_rows_round_trip_and_the_trailer_counts_them(rows, per_batch):
    batches = [rows[i : i + per_batch] for i in range(0, len(rows), per_batch)]
    text = await _collect(["id", "name"], batches)
    assert text.endswith(export_trailer(len(rows)))
    body = text[: -len(export_trailer(len(rows)))]
    read = list(csv.reader(io.StringIO(body, newline="")))
    assert read[0] == ["id", "name"]
    assert read[1:] == [[csv_cell(v) for v in row] for row in rows]
    for row in read[1:]:
        for cell in row:
            assert not cell.startswith(FORMULA_STARTS)


def test_formula_cells_are_shown_as_text():
    assert [csv_cell(v) for v in ("=1+1", "+1", "-1", "@SUM(A1)", "\tx", "plain", None, ["=a", "b"])] == [
        "'=1+1", "'+1", "'-1", "'@SUM(A1)", "'\tx", "plain", "", "'=a;b",
    ]  # fmt: skip
