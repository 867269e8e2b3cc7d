"""The contacts app in this process, no servers: who is refused before any row is read, what
bad input looks like, what the app serves without its database. Every flow that reads or writes
rows is proven against the real stack in test_api.py."""

import uuid

import pytest
from byte_contacts.main import create_app
from byte_contacts.settings import ContactsSettings
from byte_platform.identity import HEADER
from byte_testing.http import assert_invalid, assert_problem
from byte_testing.inprocess import IdentityKeys, asgi_client, offline


@pytest.fixture(scope="module")
def keys() -> IdentityKeys:
    return IdentityKeys.generate()


@pytest.fixture(scope="module")
def app(keys):
    return create_app(ContactsSettings(**offline(identity_public_key=keys.public_pem)))


@pytest.fixture
def client(app, keys, org_id):
    """`client(roles=[...])` speaks for someone of this test's org; `client(roles=None)` for nobody."""

    def _client(roles=("admin",), **headers: str):
        if roles is not None:
            headers[HEADER] = keys.token(org_id, roles=roles)
        return asgi_client(app, headers=headers)

    return _client


async def test_the_process_answers_and_echoes_the_request_id(client):
    async with client(roles=None) as anyone:
        r = await anyone.get("/healthz", headers={"X-Request-ID": "trace-me-1"})
        assert r.json() == {"status": "ok"} and r.headers["x-request-id"] == "trace-me-1"
        assert r.headers["x-request-id"] != (await anyone.get("/healthz")).headers["x-request-id"]


async def test_a_request_without_a_valid_identity_is_401(client, org_id):
    stranger = IdentityKeys.generate()
    async with client(roles=None) as anyone:
        assert_problem(await anyone.get("/v1/contacts"), 401, contains=HEADER)
        for token in ("garbage", stranger.token(org_id)):
            assert_problem(await anyone.get("/v1/contacts", headers={HEADER: token}), 401, contains="invalid identity")
            assert_problem(await anyone.post("/v1/contacts", json={"first_name": "A"}, headers={HEADER: token}), 401)


async def test_an_expired_identity_is_401(client, keys, org_id):
    async with client(roles=None) as anyone:
        expired = keys.token(org_id, ttl=-60)
        assert_problem(await anyone.get("/v1/contacts", headers={HEADER: expired}), 401, contains="invalid identity")


async def test_read_only_roles_are_refused_every_write(client):
    some = f"/v1/contacts/{uuid.uuid4()}"
    for roles in (["guest"], []):
        async with client(roles=roles) as reader:
            assert_problem(await reader.post("/v1/contacts", json={"first_name": "A"}), 403, contains="read-only")
            assert_problem(
                await reader.post("/v1/contacts/upsert", json={"first_name": "A", "email": "a@example.com"}),
                403,
                contains="read-only",
            )
            assert_problem(await reader.patch(some, json={"city": "X"}), 403, contains="read-only")
            assert_problem(await reader.delete(some), 403)


async def test_only_admins_and_owners_delete(client):
    async with client(roles=["user"]) as user:
        assert_problem(await user.delete(f"/v1/contacts/{uuid.uuid4()}"), 403, contains="admin or owner")


BAD_BODIES = [
    ({"first_name": "A", "shoe_size": 9}, "shoe_size"),
    ({"first_name": ""}, "first_name"),
    ({"first_name": 12}, "first_name"),
    ({"first_name": "A", "email": "not-an-email"}, "email"),
    ({"first_name": "A", "tags": [""]}, "tags.0"),
    ({"first_name": "A", "metadata": {"blob": "x" * 20000}}, "metadata"),
    ({"last_name": "NoFirst"}, "first_name"),
]


@pytest.mark.parametrize("body,field", BAD_BODIES)
async def test_an_invalid_body_is_a_422_naming_the_field(client, body, field):
    async with client() as api:
        assert_invalid(await api.post("/v1/contacts", json=body), field, "body")


@pytest.mark.parametrize(
    "params,field",
    [
        ({"limit": 0}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"sort": "password"}, "sort"),
        ({"status": "x"}, "status"),
        ({"q": "x" * 500}, "q"),
    ],
)
async def test_an_invalid_query_is_a_422_naming_the_parameter(client, params, field):
    async with client() as api:
        assert_invalid(await api.get("/v1/contacts", params=params), field, "query")


async def test_an_invalid_path_or_json_is_a_422(client):
    async with client() as api:
        assert_problem(await api.get("/v1/contacts/not-a-uuid"), 404)  # ids are UUIDs: no such resource
        assert_invalid(await api.patch(f"/v1/contacts/{uuid.uuid4()}", json={"org_id": "org_other"}), "org_id", "body")
        r = await api.post("/v1/contacts", content=b"{not json", headers={"content-type": "application/json"})
        assert_problem(r, 422)


async def test_unknown_routes_and_methods_are_problems(client):
    async with client() as api:
        assert_problem(await api.get("/v1/nowhere"), 404)
        assert_problem(await api.put("/v1/contacts"), 405)


async def test_the_openapi_document_builds(client):
    async with client(roles=None) as anyone:
        doc = (await anyone.get("/openapi.json")).json()
    assert {"/v1/contacts", "/v1/contacts/upsert", "/v1/contacts/export", "/v1/contacts/{contact_id}"} <= doc[
        "paths"
    ].keys()
    assert {"get", "post"} <= doc["paths"]["/v1/contacts"].keys()
    assert {"ContactCreate", "ContactPublic", "ContactPage"} <= doc["components"]["schemas"].keys()
