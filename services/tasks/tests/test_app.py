"""The tasks app in this process, no servers: who is refused before any row is read, what bad
input looks like, what the app serves without its database. Every flow that reads or writes
rows is proven against the real stack in test_api.py and its neighbours."""

import uuid

import pytest
from byte_platform.identity import HEADER
from byte_tasks.main import create_app
from byte_tasks.settings import TasksSettings
from byte_testing.http import assert_invalid, assert_problem
from byte_testing.inprocess import IdentityKeys, asgi_client, offline


@pytest.fixture(scope="module")
def keys() -> IdentityKeys:
    return IdentityKeys.generate()


@pytest.fixture(scope="module")
def app(keys):
    return create_app(TasksSettings(**offline(identity_public_key=keys.public_pem)))


@pytest.fixture
def client(app, keys, org_id):
    """`client(roles=[...])` speaks for someone of this test's org; `client(roles=None)` for nobody."""

    def _client(roles=("admin",), **headers: str):
        if roles is not None:
            headers[HEADER] = keys.token(org_id, roles=roles)
        return asgi_client(app, headers=headers)

    return _client


async def test_the_process_answers(client):
    async with client(roles=None) as anyone:
        assert (await anyone.get("/healthz")).json() == {"status": "ok"}


async def test_a_request_without_a_valid_identity_is_401(client, keys, org_id):
    stranger = IdentityKeys.generate()
    async with client(roles=None) as anyone:
        assert_problem(await anyone.get("/v1/tasks"), 401, contains=HEADER)
        for token in ("garbage", stranger.token(org_id), keys.token(org_id, ttl=-60)):
            assert_problem(await anyone.get("/v1/tasks", headers={HEADER: token}), 401, contains="invalid identity")
            assert_problem(await anyone.patch(f"/v1/tasks/{uuid.uuid4()}/claim", headers={HEADER: token}), 401)


WRITES = [
    ("POST", "", {"title": "x"}),
    ("PATCH", "/{id}", {"title": "x"}),
    ("DELETE", "/{id}", None),
    ("PATCH", "/{id}/claim", None),
    ("PATCH", "/{id}/unclaim", None),
    ("PATCH", "/{id}/status", {"status": "in_progress"}),
    ("PATCH", "/{id}/approve", None),
    ("PATCH", "/{id}/reject", {"comment": "no"}),
    ("PATCH", "/{id}/move", {"status": "todo"}),
]


@pytest.mark.parametrize("roles", [["guest"], []], ids=["guest", "no role"])
async def test_read_only_roles_are_refused_every_write(client, roles):
    task = uuid.uuid4()
    async with client(roles=roles) as reader:
        for method, path, body in WRITES:
            r = await reader.request(method, "/v1/tasks" + path.format(id=task), json=body)
            assert_problem(r, 403, contains="read-only")


BAD_BODIES = [
    ({}, "title"),
    ({"title": "   "}, "title"),
    ({"title": "A", "priority": "urgent"}, "priority"),
    ({"title": "A", "assigned_role": "has spaces"}, "assigned_role"),
    ({"title": "A", "workflow_execution_id": "not-a-uuid"}, "workflow_execution_id"),
    ({"title": "A", "due_date": "2026-01-01T00:00:00"}, "due_date"),
    ({"title": "A", "metadata": []}, "metadata"),
    ({"title": "A", "status": "done"}, "status"),
]


@pytest.mark.parametrize("body,field", BAD_BODIES)
async def test_an_invalid_body_is_a_422_naming_the_field(client, body, field):
    async with client() as api:
        assert_invalid(await api.post("/v1/tasks", json=body), field, "body")


@pytest.mark.parametrize(
    "params,field",
    [
        ({"limit": 0}, "limit"),
        ({"sort": "title"}, "sort"),
        ({"status": "x"}, "status.0"),
        ({"execution": "nope"}, "execution"),
        ({"due_after": "2026-01-01"}, "due_after"),
        ({"overdue": "maybe"}, "overdue"),
    ],
)
async def test_an_invalid_query_is_a_422_naming_the_parameter(client, params, field):
    async with client() as api:
        assert_invalid(await api.get("/v1/tasks", params=params), field, "query")


async def test_invalid_actions_are_422s_before_any_row_is_read(client):
    task = uuid.uuid4()
    async with client() as api:
        assert_problem(await api.patch("/v1/tasks/not-a-uuid/claim"), 404)  # ids are UUIDs: no such resource
        assert_invalid(await api.patch(f"/v1/tasks/{task}/reject", json={"comment": "  "}), "comment", "body")
        assert_invalid(await api.patch(f"/v1/tasks/{task}/approve", json={"verdict": "yes"}), "verdict", "body")
        # rules across fields of one body
        assert_invalid(await api.patch(f"/v1/tasks/{task}", json={"title": None}), "title", "body")
        both = {"status": "todo", "after_id": str(uuid.uuid4()), "before_id": str(uuid.uuid4())}
        assert_problem(await api.patch(f"/v1/tasks/{task}/move", json=both), 422, contains="not both")
        # a rule of the command, checked by the handler before its unit of work opens
        assert_invalid(
            await api.patch(f"/v1/tasks/{task}/status", json={"status": "in_progress", "comment": "why"}),
            "comment",
            "body",
        )


async def test_unknown_routes_and_methods_are_problems(client):
    async with client() as api:
        assert_problem(await api.get("/v1/nowhere"), 404)
        assert_problem(await api.put(f"/v1/tasks/{uuid.uuid4()}", json={"title": "x"}), 405)


async def test_the_openapi_document_builds(client):
    async with client(roles=None) as anyone:
        doc = (await anyone.get("/openapi.json")).json()
    assert {
        "/v1/tasks",
        "/v1/tasks/available",
        "/v1/tasks/{task_id}",
        "/v1/tasks/{task_id}/claim",
        "/v1/tasks/{task_id}/approve",
        "/v1/tasks/{task_id}/move",
    } <= doc["paths"].keys()
    approve = doc["paths"]["/v1/tasks/{task_id}/approve"]["patch"]
    assert "requestBody" in approve  # declared by hand: the body is optional and parsed in the route
    assert {"TaskCreate", "TaskPublic", "TaskPage"} <= doc["components"]["schemas"].keys()
