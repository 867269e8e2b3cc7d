"""Hostile input to every write and list endpoint of a real executions service (hypothesis),
definitions and cases: never a 500, every refusal a problem+json naming the field, and nothing
written when refused."""

import base64
import copy
import json
import uuid
from typing import Any

import httpx
import pytest
from byte_contracts.definitions import applicant_review_document
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

CASE_FIELDS = ["contact_id", "definition_id", "variables", "metadata", "source", "source_id"]
CASE_SORTS = ["started_at", "-started_at", "updated_at", "-updated_at"]
DEFINITION_SORTS = ["created_at", "-created_at", "name", "-name"]
DOCUMENT_FIELDS = ["language_version", "name", "description", "phases", "steps", "variables", "statuses"]


@pytest.fixture
def api(executions_service, make_token, org_id):
    """An admin of a fresh org; one org serves every example of a test."""
    with httpx.Client(
        base_url=executions_service.url,
        timeout=30,
        headers={HEADER: make_token(org_id, user_id="user_admin", roles=("admin",), ttl=3600)},
    ) as client:
        yield client


@pytest.fixture
async def the_case(client, people, open_case) -> dict[str, Any]:
    """A running case of this test's org, its contact known to the service."""
    async with client() as admin:
        return await open_case(admin, await people.add("Hostile", "Target", "target@example.com"))


def all_cases(api: httpx.Client) -> set[str]:
    r = api.get("/v1/executions", params={"limit": 200})
    assert r.status_code == 200, r.text
    return {c["id"] for c in r.json()["items"]}


# What requests to a case write. The rest is the workflow's to change: a worker on the shared
# broker may run this case's workflow and report on it meanwhile.
REQUESTED = ("variables", "metadata", "pending_status", "pending_requested_at", "cancel_requested_at")


def requested(api: httpx.Client, case_id: str) -> dict[str, Any]:
    r = api.get(f"/v1/executions/{case_id}")
    assert r.status_code == 200, r.text
    return {k: r.json()[k] for k in REQUESTED}


def all_definitions(api: httpx.Client) -> list[dict[str, Any]]:
    r = api.get("/v1/definitions", params={"limit": 200})
    assert r.status_code == 200, r.text
    return r.json()["items"]


def case_body(the_case: dict[str, Any]) -> dict[str, Any]:
    # a source id of its own each time: a repeated one answers the case already opened
    return {"contact_id": the_case["contact_id"], "definition_id": "applicant-review",
            "source": "api", "source_id": uuid.uuid4().hex}  # fmt: skip


def random_body(fields: list[str], base: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """Random values in known fields and random keys, sometimes over a valid `base`."""
    drawn = st.dictionaries(st.sampled_from(fields) | any_text(10), hostile_values(), max_size=4)
    return st.tuples(st.booleans(), drawn).map(lambda p: {**base, **p[1]} if p[0] else p[1])


# --- cases: writes -----------------------------------------------------------------------------


@st.composite
def poisoned_case(draw: st.DrawFn) -> tuple[dict[str, Any], str]:
    """A field of a valid opening made unstorable or of the wrong kind; the field to name."""
    field = draw(st.sampled_from(CASE_FIELDS))
    if field in ("variables", "metadata"):
        value = draw(poisoned_json() | st.integers() | any_text())
    else:
        value = draw(unstorable_text() | NON_FINITE | st.integers() | st.lists(st.integers(), max_size=2))
    return {field: value}, field


@HOSTILE
@given(case=poisoned_case())
@example(case=({"metadata": {"n": float("nan")}}, "metadata.n"))
@example(case=({"source_id": "a\x00b"}, "source_id"))
@example(case=({"definition_id": "\ud800"}, "definition_id"))
@example(case=({"contact_id": 12}, "contact_id"))
def test_opening_refuses_unstorable_input_naming_the_field(api, the_case, case):
    change, field = case
    before = all_cases(api)
    assert_refused(post(api, "/v1/executions", {**case_body(the_case), **change}), field)
    assert all_cases(api) == before


@HOSTILE
@given(body=st.data())
def test_random_openings_are_answered_and_what_is_accepted_reads_back(api, the_case, body):
    drawn = body.draw(random_body(CASE_FIELDS, case_body(the_case)))
    before = len(all_cases(api))
    r = post(api, "/v1/executions", drawn)
    assert_answered(r)
    if r.status_code in (200, 201):
        assert requested(api, r.json()["id"]) == {k: r.json()[k] for k in REQUESTED}
    assert len(all_cases(api)) == before + (r.status_code == 201)


@HOSTILE
@given(case=st.sampled_from(["variables", "metadata"]).flatmap(lambda f: poisoned_json().map(lambda v: ({f: v}, f))))
@example(case=({"metadata": {"deep": {"a": {"a": float("inf")}}}}, "metadata.deep.a.a"))
def test_an_update_refuses_unstorable_input_naming_the_field(api, the_case, case):
    body, field = case
    before = requested(api, the_case["id"])
    assert_refused(post(api, f"/v1/executions/{the_case['id']}", body, method="PATCH"), field)
    assert requested(api, the_case["id"]) == before


@HOSTILE
@given(
    data=st.data(),
    action=st.sampled_from([("PATCH", ""), ("POST", "/status"), ("POST", "/cancel")]),
)
@example(data=None, action=("POST", "/status"))
def test_random_updates_and_requests_are_answered_and_change_only_when_accepted(api, the_case, data, action):
    fields = {"": ["variables", "metadata"], "/status": ["status", "reason"], "/cancel": ["reason"]}[action[1]]
    body = data.draw(random_body(fields, {})) if data else {"status": "in_review", "reason": "\x00"}
    path = f"/v1/executions/{the_case['id']}"
    before = requested(api, the_case["id"])
    r = post(api, f"{path}{action[1]}", body, method=action[0])
    assert_answered(r)
    if r.status_code >= 400:
        assert requested(api, the_case["id"]) == before


@HOSTILE
@given(
    segment=any_text(),
    route=st.sampled_from([("GET", ""), ("PATCH", ""), ("DELETE", ""), ("POST", "/status"), ("POST", "/cancel")]),
)
@example(segment="\x00", route=("POST", "/cancel"))
@example(segment="K\x0c", route=("GET", ""))
@example(segment="a b", route=("DELETE", ""))
def test_hostile_case_path_segments_are_answered_and_touch_nothing(api, the_case, segment, route):
    before = all_cases(api)
    method, action = route
    r = post(api, f"/v1/executions/{quoted(segment)}{action}", {"status": "approved"}, method=method)
    assert_answered(r)
    assert all_cases(api) == before


def test_the_path_characters_of_the_issue_are_problems(api):
    for segment in ["%00", "K%0C", "a%20b"]:
        assert_no_such_id(api.get(f"/v1/executions/{segment}"))
        assert_no_such_id(api.post(f"/v1/executions/{segment}/status", json={"status": "approved"}))


# --- definitions: writes -----------------------------------------------------------------------


def document(**over: Any) -> dict[str, Any]:
    doc = applicant_review_document()
    doc["name"] = f"Hostile {uuid.uuid4().hex[:8]}"
    return {**doc, **over}


@st.composite
def poisoned_document(draw: st.DrawFn) -> tuple[dict[str, Any], str]:
    """A valid document with unstorable text where text belongs (its name, description, a
    step's name, a status label) or a key no key can be; and the field to name."""
    doc = document()
    where = draw(st.sampled_from(["name", "description", "step", "status", "key"]))
    bad = draw(unstorable_text())
    if where in ("name", "description", "key"):
        doc[where] = bad
        return doc, where
    if where == "step":
        doc["steps"] = copy.deepcopy(doc["steps"])
        doc["steps"][0]["name"] = bad
        return doc, "steps"
    doc["statuses"] = copy.deepcopy(doc["statuses"])
    doc["statuses"][0]["label"] = bad
    return doc, "statuses"


@HOSTILE
@given(case=poisoned_document())
@example(case=(document(name="a\x00b"), "name"))
@example(case=(document(key="\ud800"), "key"))
def test_creating_a_definition_refuses_unstorable_input_naming_the_field(api, case):
    doc, field = case
    before = all_definitions(api)
    assert_refused(post(api, "/v1/definitions", doc), field)
    assert all_definitions(api) == before


@HOSTILE
@given(body=random_body([*DOCUMENT_FIELDS, "key"], document()))
def test_random_definitions_are_answered_and_what_is_accepted_reads_back(api, body):
    before = len(all_definitions(api))
    r = post(api, "/v1/definitions", body)
    assert_answered(r)
    if r.status_code == 201:
        assert api.get(f"/v1/definitions/{r.json()['id']}").json() == r.json()
    assert len(all_definitions(api)) == before + (r.status_code == 201)


@HOSTILE
@given(
    body=random_body([*DOCUMENT_FIELDS, "expected_version"], {**applicant_review_document(), "expected_version": 1}),
    path=st.sampled_from(["", "/validate"]),
)
def test_random_edits_and_dry_runs_are_answered_and_an_edit_changes_only_when_accepted(api, body, path):
    before = api.get("/v1/definitions/applicant-review").json()
    if path:
        r = post(api, "/v1/definitions/validate", body)
    else:
        r = post(api, "/v1/definitions/applicant-review", body, method="PUT")
    assert_answered(r)
    after = api.get("/v1/definitions/applicant-review").json()
    if path or r.status_code >= 400:
        assert after == before
    else:
        # accepted: the next version; put it back as it was for the next example
        assert after["version"] == before["version"] + 1
        restore = {k: before[k] for k in DOCUMENT_FIELDS} | {"expected_version": after["version"]}
        assert post(api, "/v1/definitions/applicant-review", restore, method="PUT").status_code == 200


@HOSTILE
@given(
    segment=any_text(),
    route=st.sampled_from(
        [
            ("GET", ""),
            ("PUT", ""),
            ("GET", "/versions"),
            ("GET", "/variables"),
            ("POST", "/deactivate"),
            ("POST", "/reactivate"),
        ]
    ),
)
@example(segment="\x00", route=("POST", "/deactivate"))
@example(segment="", route=("PUT", ""))
@example(segment="..", route=("GET", ""))
def test_hostile_definition_path_segments_are_answered_and_touch_nothing(api, segment, route):
    before = all_definitions(api)
    method, action = route
    r = post(api, f"/v1/definitions/{quoted(segment)}{action}", document(expected_version=1), method=method)
    assert_answered(r)
    if segment != "applicant-review":
        assert all_definitions(api) == before


# --- lists -------------------------------------------------------------------------------------

CASE_PARAMS = ["status", "definition_id", "contact_id", "source", "run_state", "opened_from", "opened_to",
               "closed_from", "closed_to", "q", "sort", "limit", "cursor"]  # fmt: skip
DEFINITION_PARAMS = ["active", "sort", "limit", "cursor", "version", "step"]
QUERY_VALUES = (
    any_text()
    | NOT_A_DATE.map(str)
    | st.sampled_from([*CASE_SORTS, *DEFINITION_SORTS, "applicant-review", "submitted", "running", "true", "50"])
    | st.uuids().map(str)
    | forged_cursor(st.sampled_from(CASE_SORTS + DEFINITION_SORTS))
)


@HOSTILE
@given(
    params=st.lists(st.tuples(st.sampled_from(CASE_PARAMS) | any_text(8), QUERY_VALUES), max_size=4),
    path=st.sampled_from(["/v1/executions", "/v1/executions/board"]),
)
@example(params=[("q", "a\x00")], path="/v1/executions")
@example(params=[("opened_from", "12")], path="/v1/executions/board")
@example(params=[("definition_id", "\x00")], path="/v1/executions/board")
@example(params=[("status", "x" * 21)], path="/v1/executions")
def test_hostile_case_list_queries_are_answered(api, params, path):
    assert_answered(api.get(f"{path}?{query(params)}"))


@HOSTILE
@given(
    params=st.lists(st.tuples(st.sampled_from(DEFINITION_PARAMS) | any_text(8), QUERY_VALUES), max_size=4),
    path=st.sampled_from(
        [
            "/v1/definitions",
            "/v1/definitions/applicant-review",
            "/v1/definitions/applicant-review/versions",
            "/v1/definitions/applicant-review/variables",
        ]
    ),
)
@example(params=[("step", "\x00")], path="/v1/definitions/applicant-review/variables")
@example(params=[("version", "1e999")], path="/v1/definitions/applicant-review")
@example(params=[("version", "139566951032019511934976")], path="/v1/definitions/applicant-review/variables")
def test_hostile_definition_queries_are_answered(api, params, path):
    assert_answered(api.get(f"{path}?{query(params)}"))


@HOSTILE
@given(
    sort=st.sampled_from(CASE_SORTS + DEFINITION_SORTS),
    value=NON_FINITE | unstorable_text() | st.just(1e308) | st.integers(),
)
@example(sort="-started_at", value=float("nan"))
@example(sort="name", value="\x00")
def test_forged_cursors_with_values_no_cursor_holds_are_bad_cursors(api, sort, value):
    path = "/v1/executions" if sort.lstrip("-") in ("started_at", "updated_at") else "/v1/definitions"
    raw = json.dumps({"s": sort, "v": [value, str(uuid.uuid4())]}, allow_nan=True).encode()
    if value == 1e308:
        raw = raw.replace(b"1e+308", b"1e999")
    r = api.get(path, params={"sort": sort, "cursor": base64.urlsafe_b64encode(raw).decode()})
    assert_refused(r, "cursor", status=400)


def test_versions_past_what_the_database_holds_are_refused_naming_the_field(api):
    body = {**applicant_review_document()}
    huge = 2**31
    assert_refused(api.get("/v1/definitions/applicant-review", params={"version": huge}), "version")
    assert_refused(post(api, "/v1/definitions/applicant-review", {**body, "expected_version": huge}, "PUT"),
                   "expected_version")  # fmt: skip
    for if_match in (f'"{huge}"', '"\u00b2"', "\u00b2"):
        r = api.put(  # a superscript two is a digit to `str.isdigit`, not to `int`
            "/v1/definitions/applicant-review",
            content=json.dumps(body),
            headers={"If-Match": if_match.encode("latin-1"), "content-type": "application/json"},
        )
        assert_refused(r, "If-Match")
    assert api.get("/v1/definitions/applicant-review").json()["version"] == 1
