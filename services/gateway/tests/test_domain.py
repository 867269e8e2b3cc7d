"""Pure rules: claims -> session, role mapping, route table, role matrix, OpenAPI merge."""

import pytest
from byte_gateway.domain import (
    InvalidClaims,
    Level,
    allowed,
    level_of,
    map_role,
    required_level,
    route_for,
    session_from_claims,
)
from byte_gateway.openapi import merge


@pytest.mark.parametrize(
    ("clerk", "byte"),
    [
        ("org:admin", "admin"),
        ("admin", "admin"),
        ("org:member", "user"),
        ("member", "user"),
        ("basic_member", "user"),
        ("org:basic_member", "user"),
        ("org:guest", "guest"),
        ("guest", "guest"),
        ("org:owner", "owner"),
        ("owner", "owner"),
        ("org:creator", "owner"),
        ("org:reviewer", "reviewer"),
        ("hr", "hr"),
        ("org:Manager", "manager"),
    ],
)
def test_role_mapping(clerk, byte):
    assert map_role(clerk) == byte


@pytest.mark.parametrize("bad", ["", "org:", "a b", "org:x/y", "x" * 80])
def test_unusable_roles(bad):
    with pytest.raises(InvalidClaims):
        map_role(bad)


def test_v1_and_v2_claims():
    v1 = session_from_claims(
        {"sub": "u", "sid": "s", "org_id": "o", "org_role": "org:admin", "org_permissions": ["p:a"]}
    )
    v2 = session_from_claims({"sub": "u", "v": 2, "o": {"id": "o", "rol": "admin", "per": "p:a,p:b"}})
    assert (v1.org_id, v1.roles, v1.permissions, v1.claims_version) == ("o", frozenset({"admin"}), ("p:a",), 1)
    assert (v2.org_id, v2.roles, v2.permissions, v2.claims_version) == ("o", frozenset({"admin"}), ("p:a", "p:b"), 2)


@pytest.mark.parametrize(
    ("claims", "forbidden"),
    [
        ({"sub": "u"}, True),
        ({"sub": "u", "v": 2}, True),
        ({"sub": "u", "v": 2, "o": {"rol": "admin"}}, True),
        ({"sub": "u", "org_id": "o"}, True),
        ({"sub": "u", "v": 2, "sts": "pending", "o": {"id": "o", "rol": "admin"}}, False),
        ({"org_id": "o", "org_role": "org:admin"}, False),
    ],
)
def test_unusable_claims(claims, forbidden):
    with pytest.raises(InvalidClaims) as err:
        session_from_claims(claims)
    assert err.value.forbidden is forbidden


@pytest.mark.parametrize(
    ("path", "service"),
    [
        ("/v1/contacts", "contacts"),
        ("/v1/contacts/1/x", "contacts"),
        ("/v1/contactsX", None),
        ("/v1/tasks/1/claim", "tasks"),
        ("/v1/definitions", "executions"),
        ("/v1/notes", "executions"),
        ("/v1/activity", "executions"),
        ("/v1/dashboard", "executions"),
        ("/v1/exports/contacts", "executions"),
        ("/v1/users", None),
        ("/v2/contacts", None),
    ],
)
def test_routes(path, service):
    assert route_for(path) == service


def test_levels():
    assert level_of(frozenset({"owner"})) is Level.ADMIN
    assert level_of(frozenset({"admin", "reviewer"})) is Level.ADMIN
    assert level_of(frozenset({"user"})) is Level.WRITE
    assert level_of(frozenset({"reviewer"})) is Level.WRITE
    assert level_of(frozenset({"guest"})) is Level.READ
    assert level_of(frozenset()) is Level.READ


@pytest.mark.parametrize(
    ("method", "path", "level"),
    [
        ("GET", "/v1/anything/at/all", Level.READ),
        ("HEAD", "/v1/contacts", Level.READ),
        ("POST", "/v1/contacts", Level.WRITE),
        ("POST", "/v1/contacts/upsert", Level.WRITE),
        ("PATCH", "/v1/contacts/abc", Level.WRITE),
        ("DELETE", "/v1/contacts/abc", Level.ADMIN),
        ("POST", "/v1/contacts/abc/merge", Level.ADMIN),  # unlisted write: admin by default
        ("PATCH", "/v1/tasks/abc/approve", Level.WRITE),
        ("POST", "/v1/tasks/abc/approve", Level.ADMIN),
        ("DELETE", "/v1/tasks/abc", Level.WRITE),
        ("POST", "/v1/definitions", Level.ADMIN),
        ("PUT", "/v1/definitions/abc", Level.ADMIN),
        ("POST", "/v1/definitions/abc/deactivate", Level.ADMIN),
        ("POST", "/v1/executions", Level.WRITE),
        ("PATCH", "/v1/executions/abc", Level.WRITE),
        ("POST", "/v1/executions/abc/status", Level.WRITE),
        ("POST", "/v1/executions/abc/cancel", Level.WRITE),
        ("DELETE", "/v1/executions/abc", Level.ADMIN),
        ("PUT", "/v1/executions/abc", Level.ADMIN),  # unlisted: admin by default
        ("POST", "/v1/executions/abc/status/extra", Level.ADMIN),
        ("POST", "/v1/notes", Level.WRITE),
        ("PATCH", "/v1/notes/abc", Level.WRITE),
        ("DELETE", "/v1/notes/abc", Level.WRITE),  # the author or an admin: the executions service checks
        # exports: members, reads included
        ("GET", "/v1/exports/cases.csv", Level.WRITE),
        ("GET", "/v1/exports", Level.WRITE),
        ("POST", "/v1/exports/contacts", Level.WRITE),
        ("GET", "/v1/exportsish", Level.READ),
        ("GET", "/v1/contacts/export", Level.WRITE),
        ("GET", "/v1/contacts/exporter", Level.READ),
        ("GET", "/v1/dashboard/waits", Level.READ),
        # Formstack settings and raw submissions: admins only, reads included
        ("GET", "/v1/formstack/submissions", Level.ADMIN),
        ("HEAD", "/v1/formstack", Level.ADMIN),
        ("GET", "/v1/formstackish", Level.READ),
    ],
)
def test_required_levels(method, path, level):
    assert required_level(method, path) is level


def test_guest_reads_only():
    guest = frozenset({"guest"})
    assert allowed(guest, "GET", "/v1/contacts") and not allowed(guest, "POST", "/v1/contacts")


def test_openapi_merge_keeps_routed_paths_and_renames_conflicting_schemas():
    own = {
        "openapi": "3.1.0",
        "info": {"title": "BYTE API"},
        "paths": {"/v1/users": {}},
        "components": {"schemas": {"Page": {"type": "object", "title": "users"}}},
    }
    contacts = {
        "paths": {
            "/v1/contacts": {"get": {"responses": {"200": {"$ref": "#/components/schemas/Page"}}}},
            "/healthz": {},
            "/internal/x": {},
        },
        "components": {"schemas": {"Page": {"type": "object", "title": "contacts"}, "Same": {"type": "string"}}},
        "tags": [{"name": "contacts"}],
    }
    doc = merge(own, {"contacts": contacts})
    assert set(doc["paths"]) == {"/v1/users", "/v1/contacts"}
    assert doc["paths"]["/v1/contacts"]["get"]["responses"]["200"]["$ref"] == "#/components/schemas/ContactsPage"
    assert doc["components"]["schemas"]["Page"]["title"] == "users"
    assert doc["components"]["schemas"]["ContactsPage"]["title"] == "contacts"
    assert "Same" in doc["components"]["schemas"]
    assert doc["security"] and "clerkSession" in doc["components"]["securitySchemes"]
    assert own["paths"] == {"/v1/users": {}}  # the input is not changed


def test_openapi_merge_documents_problem_json_for_every_error():
    own = {
        "openapi": "3.1.0",
        "info": {"title": "BYTE API"},
        "paths": {
            "/v1/users": {
                "get": {
                    "responses": {
                        "200": {"description": "ok"},
                        "400": {"description": "bad cursor"},
                        "422": {"content": {"application/json": {"schema": {}}}},
                    }
                }
            },
            "/webhooks/clerk": {"post": {"security": [], "responses": {"200": {}, "400": {"description": "unsigned"}}}},
        },
    }
    service_problem = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    contacts = {
        "paths": {
            "/v1/contacts": {
                "post": {
                    "requestBody": {},
                    "responses": {
                        "201": {"content": {"application/json": {}}},
                        "422": {"content": {"application/json": {}}},
                        "409": {"content": service_problem},
                    },
                }
            },
            "/v1/contacts/{contact_id}": {"parameters": [], "get": {"responses": {"200": {}}}},
        },
        "components": {"schemas": {"Problem": {"type": "object", "title": "contacts' own"}}},
    }
    doc = merge(own, {"contacts": contacts})
    problem = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    assert set(doc["components"]["schemas"]["Problem"]["properties"]) == {
        "type",
        "title",
        "status",
        "detail",
        "instance",
        "errors",
    }
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if method == "parameters":
                continue
            for status, response in op["responses"].items():
                if status[0] in "45":
                    assert set(response["content"]) == {"application/problem+json"}, (path, method, status)
                    assert response.get("description"), (path, method, status)
    users = doc["paths"]["/v1/users"]["get"]["responses"]
    assert {"400", "401", "403", "422", "429", "500", "503"} <= set(users) and "502" not in users
    assert users["422"]["content"] == problem and users["429"]["headers"]["Retry-After"]
    webhook = doc["paths"]["/webhooks/clerk"]["post"]["responses"]
    assert set(webhook) == {"200", "400", "500"}  # no session, nothing forwarded
    create = doc["paths"]["/v1/contacts"]["post"]["responses"]
    assert {"401", "403", "409", "413", "422", "429", "500", "502", "503", "504"} <= set(create)
    # the service's own problem schema stands, renamed beside the gateway's
    assert create["409"]["content"] == {
        "application/problem+json": {"schema": {"$ref": "#/components/schemas/ContactsProblem"}}
    }
    assert doc["components"]["schemas"]["ContactsProblem"]["title"] == "contacts' own"
    assert create["201"] == {"content": {"application/json": {}}}
    read = doc["paths"]["/v1/contacts/{contact_id}"]["get"]["responses"]
    assert "413" not in read and {"502", "503", "504"} <= set(read)
    assert own["paths"]["/v1/users"]["get"]["responses"]["422"] == {"content": {"application/json": {"schema": {}}}}
