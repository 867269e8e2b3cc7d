"""Hostile input to every write and list endpoint of a real tasks service (hypothesis): never a
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
    "title",
    "description",
    "assigned_to",
    "assigned_role",
    "task_type",
    "priority",
    "workflow_execution_id",
    "contact_id",
]
FIELDS = [*TEXT_FIELDS, "due_date", "metadata", "status", "position", "outcome"]
REQUIRED = ["title", "priority", "metadata"]
SORTS = ["created_at", "-created_at", "updated_at", "-updated_at", "due_date", "-due_date", "position", "-position"]
# Each action's valid body, and the fields it reads.
ACTIONS: dict[str, tuple[dict[str, Any], list[str]]] = {
    "status": ({"status": "in_progress"}, ["status", "comment"]),
    "approve": ({}, ["comment"]),
    "reject": ({"comment": "not yet"}, ["comment"]),
    "move": ({"status": "todo"}, ["status", "after_id", "before_id"]),
}
ME = "user_admin"


@pytest.fixture
def api(tasks_service, make_token, org_id):
    """An admin of a fresh org; one org serves every example of a test."""
    with httpx.Client(
        base_url=tasks_service.url,
        timeout=30,
        headers={HEADER: make_token(org_id, user_id=ME, roles=("admin",), ttl=3600)},
    ) as client:
        yield client


def all_tasks(api: httpx.Client) -> list[dict[str, Any]]:
    found, cursor = [], None
    while True:
        r = api.get("/v1/tasks", params={"limit": 200, **({"cursor": cursor} if cursor else {})})
        assert r.status_code == 200, r.text
        found += r.json()["items"]
        if not (cursor := r.json()["next_cursor"]):
            return found


def the_task(api: httpx.Client) -> dict[str, Any]:
    """The org's first task (an approval task, so every action applies), made on the first example."""
    if tasks := all_tasks(api):
        return tasks[0]
    r = api.post(
        "/v1/tasks",
        json={
            "title": "Review",
            "task_type": "approval",
            "assigned_to": ME,
            "metadata": {"form": "fs-1"},
            "due_date": "2026-03-01T09:00:00Z",
        },
    )
    assert r.status_code == 201, r.text
    return r.json()


@st.composite
def poisoned(draw: st.DrawFn, base: dict[str, Any], nullable: bool = False) -> tuple[dict[str, Any], str]:
    """`base` with one field made unstorable (or, for an update, a required one cleared); and
    the field the answer must name."""
    body = dict(base)
    kind = draw(st.sampled_from(["text", "metadata", "date"] + (["null"] if nullable else [])))
    if kind == "text":
        field = draw(st.sampled_from(TEXT_FIELDS))
        body[field] = draw(unstorable_text())
    elif kind == "metadata":
        body["metadata"], field = draw(poisoned_json()), "metadata"
    elif kind == "date":
        body["due_date"], field = draw(NOT_A_DATE), "due_date"
    else:
        field = draw(st.sampled_from(REQUIRED))
        body[field] = None
    return body, field


@st.composite
def poisoned_action(draw: st.DrawFn) -> tuple[str, dict[str, Any], str]:
    action = draw(st.sampled_from(sorted(ACTIONS)))
    body, fields = ACTIONS[action]
    field = draw(st.sampled_from(fields))
    # nothing here is a comment, a status or an id: the action must be refused, whatever it is
    return action, {**body, field: draw(unstorable_text() | st.integers() | NON_FINITE)}, field


def random_body(base: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """Random values in known fields and random keys, sometimes over a valid `base`."""
    fields = st.dictionaries(st.sampled_from(FIELDS) | any_text(10), hostile_values(), max_size=4)
    return st.tuples(st.booleans(), fields).map(lambda p: {**base, **p[1]} if p[0] else p[1])


# --- writes ------------------------------------------------------------------------------------


@HOSTILE
@given(case=poisoned({"title": "Review"}))
@example(case=({"title": "a\x00b"}, "title"))
@example(case=({"title": "\ud800"}, "title"))
@example(case=({"title": "Review", "due_date": 12}, "due_date"))
@example(case=({"title": "Review", "metadata": {"n": float("inf")}}, "metadata.n"))
def test_create_refuses_unstorable_input_naming_the_field(api, case):
    body, field = case
    before = len(all_tasks(api))
    assert_refused(post(api, "/v1/tasks", body), field)
    assert len(all_tasks(api)) == before


@HOSTILE
@given(case=poisoned({}, nullable=True))
@example(case=({"title": None}, "title"))
@example(case=({"due_date": 12}, "due_date"))
def test_update_refuses_unstorable_input_naming_the_field(api, case):
    body, field = case
    task = the_task(api)
    assert_refused(post(api, f"/v1/tasks/{task['id']}", body, method="PATCH"), field)
    assert api.get(f"/v1/tasks/{task['id']}").json() == task


@HOSTILE
@given(case=poisoned_action())
@example(case=("approve", {"comment": "\ud800"}, "comment"))
@example(case=("reject", {"comment": "no\x00"}, "comment"))
@example(case=("move", {"status": "todo", "after_id": str(uuid.uuid4()), "before_id": str(uuid.uuid4())}, "before_id"))
def test_actions_refuse_unstorable_input_naming_the_field(api, case):
    action, body, field = case
    task = the_task(api)
    assert_refused(post(api, f"/v1/tasks/{task['id']}/{action}", body, method="PATCH"), field)
    assert api.get(f"/v1/tasks/{task['id']}").json() == task


@HOSTILE
@given(body=random_body({"title": "Review"}))
def test_random_bodies_are_answered_and_what_is_accepted_reads_back(api, body):
    before = len(all_tasks(api))
    r = post(api, "/v1/tasks", body)
    assert_answered(r)
    if r.status_code == 201:
        assert api.get(f"/v1/tasks/{r.json()['id']}").json() == r.json()
    assert len(all_tasks(api)) == before + (r.status_code == 201)


@HOSTILE
@given(body=random_body({}), action=st.sampled_from(["", "/status", "/approve", "/reject", "/move"]))
def test_random_updates_and_actions_are_answered_and_change_only_when_accepted(api, body, action):
    task = the_task(api)
    r = post(api, f"/v1/tasks/{task['id']}{action}", body, method="PATCH")
    assert_answered(r)
    after = api.get(f"/v1/tasks/{task['id']}").json()
    assert after == (r.json() if r.status_code == 200 else task)


# --- paths -------------------------------------------------------------------------------------


@HOSTILE
@given(
    segment=any_text(),
    route=st.sampled_from(
        [
            ("GET", ""),
            ("PATCH", ""),
            ("DELETE", ""),
            ("PATCH", "/claim"),
            ("PATCH", "/unclaim"),
            ("PATCH", "/status"),
            ("PATCH", "/approve"),
            ("PATCH", "/reject"),
            ("PATCH", "/move"),
        ]
    ),
)
@example(segment="\x00", route=("PATCH", "/claim"))
@example(segment="K\x0c", route=("GET", ""))
@example(segment="a b", route=("DELETE", ""))
def test_hostile_path_segments_are_answered_and_touch_nothing(api, segment, route):
    task = the_task(api)
    method, action = route
    r = post(api, f"/v1/tasks/{quoted(segment)}{action}", {"title": "Mallory", "status": "done"}, method=method)
    assert_answered(r)
    assert all_tasks(api) == [task]


def test_the_path_characters_of_the_issue_are_problems(api):
    for segment in ["%00", "K%0C", "a%20b"]:
        assert_no_such_id(api.get(f"/v1/tasks/{segment}"))
        assert_no_such_id(api.patch(f"/v1/tasks/{segment}/claim"))


# --- lists -------------------------------------------------------------------------------------

LIST_PARAMS = [
    "assignee",
    "status",
    "role",
    "execution",
    "contact",
    "task_type",
    "priority",
    "due_before",
    "due_after",
    "overdue",
    "sort",
    "limit",
    "cursor",
]
QUERY_VALUES = (
    any_text()
    | NOT_A_DATE.map(str)
    | st.sampled_from([*SORTS, "me", "none", "todo", "true"])
    | forged_cursor(st.sampled_from(SORTS))
)


@HOSTILE
@given(
    params=st.lists(st.tuples(st.sampled_from(LIST_PARAMS) | any_text(8), QUERY_VALUES), max_size=4),
    path=st.sampled_from(["/v1/tasks", "/v1/tasks/available"]),
)
@example(params=[("assignee", "a\x00")], path="/v1/tasks")
@example(params=[("due_before", "12")], path="/v1/tasks")
@example(params=[("role", "\x00")], path="/v1/tasks/available")
def test_hostile_list_queries_are_answered(api, params, path):
    the_task(api)
    assert_answered(api.get(f"{path}?{query(params)}"))


def test_dates_in_queries_are_iso_8601_with_a_zone(api):
    for value in ["12", "1700000000", "2026-01-01", "2026-01-01T00:00:00"]:
        assert_refused(api.get("/v1/tasks", params={"due_before": value}), "due_before")


@HOSTILE
@given(
    sort=st.sampled_from(SORTS),
    value=NON_FINITE | unstorable_text() | st.just(1e308),
    path=st.sampled_from(["/v1/tasks", "/v1/tasks/available"]),
)
@example(sort="position", value=float("nan"), path="/v1/tasks")
@example(sort="-position", value=float("inf"), path="/v1/tasks/available")
def test_forged_cursors_with_values_no_cursor_holds_are_bad_cursors(api, sort, value, path):
    raw = json.dumps({"s": sort, "v": [value, str(uuid.uuid4())]}, allow_nan=True).encode()
    if value == 1e308:
        raw = raw.replace(b"1e+308", b"1e999")
    r = api.get(path, params={"sort": sort, "cursor": base64.urlsafe_b64encode(raw).decode()})
    assert_refused(r, "cursor", status=400)
