"""Hostile input for property-based tests of a service's HTTP API (hypothesis strategies), and
what every answer to it must look like.

The classes are the ones that used to reach PostgreSQL and come back as 500s: text with U+0000
or a lone surrogate, JSON numbers JSON cannot hold (NaN, ±Infinity, 1e999), documents nested
past any sane depth, integers where a date belongs; plus random unicode and random JSON in
every position, which must never be a 500 either.
"""

from __future__ import annotations

import base64
import json
import math
from typing import Any
from urllib.parse import quote

import httpx
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

PROBLEM_JSON = "application/problem+json"

# One org per test (a function-scoped fixture) serves every example of that test; a stored
# example database would only litter the checkout.
HOSTILE = settings(
    max_examples=50,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)

UNSTORABLE_CHARS = st.sampled_from(["\x00", "\ud800", "\udbff", "\udc00", "\udfff"])
STORABLE_CHARS = st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00")


@st.composite
def unstorable_text(draw: st.DrawFn) -> str:
    """Text with a NUL or a lone surrogate somewhere in it."""
    text = draw(st.text(max_size=12))
    at = draw(st.integers(0, len(text)))
    return text[:at] + draw(UNSTORABLE_CHARS) + text[at:]


def any_text(max_size: int = 30) -> st.SearchStrategy[str]:
    """Random unicode, lone surrogates and NUL included."""
    return st.text(st.characters(), max_size=max_size) | unstorable_text()


NON_FINITE = st.sampled_from([math.nan, math.inf, -math.inf])


def nested(depth: int, leaf: Any = 1) -> Any:
    doc = leaf
    for _ in range(depth):
        doc = {"a": doc}
    return doc


def too_deep(max_depth: int = 32) -> st.SearchStrategy[Any]:
    """A JSON object nested beyond `max_depth` levels (up to a few hundred)."""
    return st.integers(max_depth + 1, 300).map(nested)


JSON_LEAVES = st.none() | st.booleans() | st.integers() | st.floats() | any_text()


def json_values(max_leaves: int = 12) -> st.SearchStrategy[Any]:
    """Any JSON value Python's json module writes, NaN and Infinity included."""
    return st.recursive(
        JSON_LEAVES,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(any_text(10), inner, max_size=4),
        max_leaves=max_leaves,
    )


@st.composite
def poisoned_json(draw: st.DrawFn) -> dict[str, Any]:
    """A JSON object with one thing PostgreSQL's jsonb cannot store, somewhere inside."""
    poison = draw(st.one_of(unstorable_text(), NON_FINITE, too_deep().map(lambda d: {"deep": d})))
    if draw(st.booleans()) and isinstance(poison, str):
        doc: Any = {poison: 1}  # in a key
    else:
        doc = poison
    for _ in range(draw(st.integers(0, 4))):
        doc = draw(st.sampled_from([lambda d: [d], lambda d: {"k": d}, lambda d: [1, "x", d]]))(doc)
    return doc if isinstance(doc, dict) else {"v": doc}


NOT_A_DATE = st.one_of(
    st.integers(),
    st.floats(),
    st.booleans(),
    st.integers(0, 4_000_000_000).map(str),
    st.datetimes().map(lambda d: d.isoformat()),  # naive
    st.dates().map(lambda d: d.isoformat()),
    st.sampled_from(["tomorrow", "0001-01-01T00:00:00+14:00", "9999-12-31T23:00:00-05:00", "2026-13-01T00:00:00Z"]),
    unstorable_text(),
)


def hostile_values() -> st.SearchStrategy[Any]:
    """Anything at all in a field's place."""
    return st.one_of(any_text(), NON_FINITE, json_values(), poisoned_json(), NOT_A_DATE, too_deep())


def encode(body: Any) -> bytes:
    """JSON as a hostile client writes it: NaN and Infinity as bare words, lone surrogates as
    `\\udXXX` escapes (httpx's own encoder would refuse both)."""
    return json.dumps(body, allow_nan=True).encode()


def quoted(text: str) -> str:
    """Percent-encoded, every reserved character included; a lone surrogate becomes the bytes
    Python's `surrogatepass` gives it (not UTF-8, which is the point)."""
    return quote(text.encode("utf-8", "surrogatepass"), safe="")


def query(params: list[tuple[str, str]]) -> str:
    return "&".join(f"{quoted(k)}={quoted(v)}" for k, v in params)


def forged_cursor(sort: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """A cursor as this API encodes them (base64url JSON of the sort and `[key, id]`), holding
    hostile values; or plain garbage."""
    values = st.lists(
        st.one_of(NON_FINITE, unstorable_text(), json_values(4), st.uuids().map(str)), min_size=0, max_size=3
    )

    def encoded(parts: tuple[str, list[Any]]) -> str:
        raw = json.dumps({"s": parts[0], "v": parts[1]}, allow_nan=True).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    return st.tuples(sort, values).map(encoded) | st.text(max_size=40)


def post(api: httpx.Client, url: str, body: Any, method: str = "POST") -> httpx.Response:
    return api.request(method, url, content=encode(body), headers={"content-type": "application/json"})


def assert_answered(r: httpx.Response) -> None:
    """Never a 500; every error a problem+json; a 400/422 names each offending input."""
    assert r.status_code < 500, (r.status_code, r.text)
    if r.status_code >= 400:
        assert r.headers["content-type"].startswith(PROBLEM_JSON), (r.status_code, r.headers, r.text)
        problem = r.json()
        assert problem["status"] == r.status_code and problem["title"]
        if r.status_code in (400, 422):
            assert problem["errors"], problem
            for error in problem["errors"]:
                assert error["field"] and error["in"] in ("body", "query", "path", "header") and error["message"]


def assert_no_such_id(r: httpx.Response) -> None:
    """A path id that is not one (ids are UUIDs: the route does not match): a problem+json 404."""
    assert_answered(r)
    assert r.status_code == 404, (r.status_code, r.text)


def assert_refused(r: httpx.Response, field: str, status: int = 422) -> None:
    """Refused as invalid, with `field` (or a path inside it) named."""
    assert_answered(r)
    assert r.status_code == status, (r.status_code, r.text)
    named = [e["field"] for e in r.json()["errors"]]
    assert any(n == field or n.startswith(field + ".") for n in named), (field, named)
