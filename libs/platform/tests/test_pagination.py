import pytest
from byte_platform.pagination import BadCursor, decode_cursor, encode_cursor


def test_round_trip():
    cursor = encode_cursor("-created_at", ["2026-01-01T00:00:00+00:00", "abc"])
    assert decode_cursor(cursor, "-created_at", 2) == ["2026-01-01T00:00:00+00:00", "abc"]


@pytest.mark.parametrize("cursor", ["", "!!!", "e30", encode_cursor("x", [1]), "bm90IGpzb24"])
def test_garbage_is_a_bad_cursor(cursor):
    with pytest.raises(BadCursor):
        decode_cursor(cursor, "x", 2)


def test_cursor_of_another_sort_is_refused():
    with pytest.raises(BadCursor, match="issued for sort"):
        decode_cursor(encode_cursor("last_name", ["a", "b"]), "-created_at", 2)
