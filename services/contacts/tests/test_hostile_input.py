"""Hostile input to every write and list endpoint of a real contacts service (hypothesis): never a
500, every refusal a problem+json naming the field, and nothing written when refused."""

import base64
import json
import uuid
from typing import Any

import httpx
import pytest
from byte_platform.identity import HEADER
from byte_testing.hostile import (
    HOSTILE,
    NON_FINITE,
    NOT_A_DATE,
    any_text,
    assert_answered,
    assert_no_such_id,
    assert_refused,
    forged_cursor,
    hostile_values,
    poisoned_json,
    post,
    query,
    quoted,
    unstorable_text,
)
from hypothesis import example, given
from hypothesis import strategies as st

TEXT_FIELDS = [
    "first_name",
    "last_name",
    "email",
    "phone",
    "company",
    "role",
    "status",
    "avatar_url",
    "address_line_1",
    "address_line_2",
    "city",
    "state",
    "zip",
]
FIELDS = [*TEXT_FIELDS, "last_contacted_at", "metadata", "tags"]
REQUIRED = ["first_name", "last_name", "status", "metadata", "tags"]
SORTS = [
    "created_at",
    "-created_at",
    "updated_at",
    "-updated_at",
    "last_name",
    "-last_name",
    "first_name",
    "-first_name",
]


@pytest.fixture
def api(contacts_service, make_token, org_id):
    """An admin of a fresh org; one org serves every example of a test."""
    with httpx.Client(
        base_url=contacts_service.url, timeout=30, headers={HEADER: make_token(org_id, roles=("admin",), ttl=3600)}
    ) as client:
        yield client


def all_contacts(api: httpx.Client) -> list[dict[str, Any]]:
    found, cursor = [], None
    while True:
        r = api.get("/v1/contacts", params={"limit": 200, **({"cursor": cursor} if cursor else {})})
        assert r.status_code == 200, r.text
        found += r.json()["items"]
        if not (cursor := r.json()["next_cursor"]):
            return found


def existing(api: httpx.Client, **fields: Any) -> dict[str, Any]:
    r = api.post(
        "/v1/contacts",
        json={"first_name": "Ann", "last_name": "Lee", "tags": ["vip"], "metadata": {"badge": 12}, **fields},
    )
    assert r.status_code == 201, r.text
    return r.json()


def the_contact(api: httpx.Client) -> dict[str, Any]:
    """The org's first contact, made on the first example."""
    return next(iter(all_contacts(api)), None) or existing(api)


@st.composite
def poisoned(draw: st.DrawFn, base: dict[str, Any], nullable: bool = False) -> tuple[dict[str, Any], str]:
    """`base` with one field made unstorable (or, for an update, a required one cleared); and
    the field the answer must name."""
    body = dict(base)
    kind = draw(st.sampled_from(["text", "tag", "metadata", "date"] + (["null"] if nullable else [])))
    if kind == "text":
        field = draw(st.sampled_from(TEXT_FIELDS))
        body[field] = draw(unstorable_text())
    elif kind == "tag":
        tags = draw(st.lists(st.sampled_from(["deputy", "k9", "applicant"]), max_size=3))
        at = draw(st.integers(0, len(tags)))
        tags.insert(at, draw(unstorable_text()))
        body["tags"], field = tags, f"tags.{at}"
    elif kind == "metadata":
        body["metadata"], field = draw(poisoned_json()), "metadata"
    elif kind == "date":
        body["last_contacted_at"], field = draw(NOT_A_DATE), "last_contacted_at"
    else:
        field = draw(st.sampled_from(REQUIRED))
        body[field] = None
    return body, field


def random_body(base: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """Random values in known fields and random keys, sometimes over a valid `base`."""
    fields = st.dictionaries(st.sampled_from(FIELDS) | any_text(10), hostile_values(), max_size=4)
    return st.tuples(st.booleans(), fields).map(lambda p: {**base, **p[1]} if p[0] else p[1])


# --- writes ------------------------------------------------------------------------------------


@HOSTILE
@given(case=poisoned({"first_name": "Ann"}))
@example(case=({"first_name": "a\x00b"}, "first_name"))
@example(case=({"first_name": "\ud800"}, "first_name"))
@example(case=({"first_name": "Ann", "last_contacted_at": 12}, "last_contacted_at"))
@example(case=({"first_name": "Ann", "metadata": {"n": float("nan")}}, "metadata.n"))
@example(case=({"first_name": "Ann", "metadata": {"n": [float("-inf")]}}, "metadata.n.0"))
def test_create_refuses_unstorable_input_naming_the_field(api, case):
    body, field = case
    before = len(all_contacts(api))
    assert_refused(post(api, "/v1/contacts", body), field)
    assert len(all_contacts(api)) == before


@HOSTILE
@given(case=poisoned({"first_name": "Ann", "email": "ann.upsert@example.com"}))
def test_upsert_refuses_unstorable_input_and_leaves_the_match_alone(api, case):
    body, field = case
    matched = next((c for c in all_contacts(api) if c["email"] == "ann.upsert@example.com"), None) or existing(
        api, email="ann.upsert@example.com"
    )
    assert_refused(post(api, "/v1/contacts/upsert", body), field)
    assert api.get(f"/v1/contacts/{matched['id']}").json() == matched
    assert len(all_contacts(api)) == 1


@HOSTILE
@given(case=poisoned({}, nullable=True))
@example(case=({"first_name": None}, "first_name"))
@example(case=({"tags": None}, "tags"))
def test_update_refuses_unstorable_input_naming_the_field(api, case):
    body, field = case
    contact = the_contact(api)
    assert_refused(post(api, f"/v1/contacts/{contact['id']}", body, method="PATCH"), field)
    assert api.get(f"/v1/contacts/{contact['id']}").json() == contact


@HOSTILE
@given(body=random_body({"first_name": "Ann"}), path=st.sampled_from(["/v1/contacts", "/v1/contacts/upsert"]))
def test_random_bodies_are_answered_and_what_is_accepted_reads_back(api, body, path):
    before = len(all_contacts(api))
    r = post(api, path, body)
    assert_answered(r)
    if r.status_code in (200, 201):
        contact = r.json()["contact"] if path.endswith("upsert") else r.json()
        assert api.get(f"/v1/contacts/{contact['id']}").json() == contact
    assert len(all_contacts(api)) == before + (r.status_code == 201)


@HOSTILE
@given(body=random_body({}))
def test_random_updates_are_answered_and_change_only_when_accepted(api, body):
    contact = the_contact(api)
    r = post(api, f"/v1/contacts/{contact['id']}", body, method="PATCH")
    assert_answered(r)
    after = api.get(f"/v1/contacts/{contact['id']}").json()
    assert after == (r.json() if r.status_code == 200 else contact)


# --- paths -------------------------------------------------------------------------------------


@HOSTILE
@given(segment=any_text(), method=st.sampled_from(["GET", "PATCH", "DELETE"]))
@example(segment="\x00", method="GET")
@example(segment="K\x0c", method="GET")
@example(segment="a b", method="PATCH")
@example(segment="\ud800", method="DELETE")
def test_hostile_path_segments_are_answered_and_touch_nothing(api, segment, method):
    contact = the_contact(api)
    r = post(api, f"/v1/contacts/{quoted(segment)}", {"first_name": "Mallory"}, method=method)
    assert_answered(r)
    assert all_contacts(api) == [contact]


def test_the_path_characters_of_the_issue_are_problems(api):
    for segment in ["%00", "K%0C", "a%20b"]:
        assert_no_such_id(api.get(f"/v1/contacts/{segment}"))


# --- lists -------------------------------------------------------------------------------------

QUERY_NAMES = st.sampled_from(["q", "status", "tag", "sort", "limit", "cursor"]) | any_text(8)
QUERY_VALUES = any_text() | st.integers().map(str) | st.sampled_from(SORTS) | forged_cursor(st.sampled_from(SORTS))


@HOSTILE
@given(
    params=st.lists(st.tuples(QUERY_NAMES, QUERY_VALUES), max_size=4),
    path=st.sampled_from(["/v1/contacts", "/v1/contacts/export"]),
)
@example(params=[("q", "a\x00b")], path="/v1/contacts")
@example(params=[("tag", "\x00")], path="/v1/contacts/export")
def test_hostile_list_queries_are_answered(api, params, path):
    the_contact(api)
    r = api.get(f"{path}?{query(params)}")
    assert_answered(r)
    if r.status_code == 200 and path.endswith("export"):
        assert r.headers["content-type"].startswith("text/csv")


@HOSTILE
@given(sort=st.sampled_from(SORTS), value=NON_FINITE | unstorable_text() | st.just(1e308))
def test_forged_cursors_with_values_no_cursor_holds_are_bad_cursors(api, sort, value):
    raw = json.dumps({"s": sort, "v": [value, str(uuid.uuid4())]}, allow_nan=True).encode()
    if value == 1e308:
        raw = raw.replace(b"1e+308", b"1e999")
    r = api.get("/v1/contacts", params={"sort": sort, "cursor": base64.urlsafe_b64encode(raw).decode()})
    assert_refused(r, "cursor", status=400)
