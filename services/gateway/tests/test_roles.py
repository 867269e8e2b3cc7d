"""The role matrix of docs/roles.md, as a table: role x endpoint -> status, through the real
gateway and contacts service. Routes whose service is not deployed yet still show the gateway's
decision: 403 when the role may not, 503 (no service) when it may."""

import uuid

import pytest

# Clerk role (as in the token) -> BYTE role
ROLES = {
    "owner": "owner",  # custom role org:owner
    "admin": "admin",  # org:admin
    "member": "user",  # org:member
    "guest": "guest",  # org:guest
    "reviewer": "reviewer",  # custom org:reviewer: member-level
}

R, W, A = "read", "write", "admin"
EXPECT = {  # level -> status for (owner, admin, member, guest, reviewer)
    R: dict.fromkeys(ROLES, "ok"),
    W: {"owner": "ok", "admin": "ok", "member": "ok", "guest": 403, "reviewer": "ok"},
    A: {"owner": "ok", "admin": "ok", "member": 403, "guest": 403, "reviewer": 403},
}

# (method, path, body, level, status when allowed)
MATRIX = [
    ("GET", "/v1/contacts", None, R, 200),
    ("GET", "/v1/contacts/{id}", None, R, 200),
    ("GET", "/v1/contacts/export", None, R, 200),
    ("GET", "/v1/users", None, R, 200),
    ("POST", "/v1/contacts", {"first_name": "New"}, W, 201),
    ("POST", "/v1/contacts/upsert", {"first_name": "Up", "email": "{email}"}, W, 201),
    ("PATCH", "/v1/contacts/{id}", {"first_name": "Changed"}, W, 200),
    ("DELETE", "/v1/contacts/{id}", None, A, 204),
    # not deployed yet: the gateway's decision only
    ("GET", "/v1/tasks", None, R, 503),
    ("POST", "/v1/tasks", {}, W, 503),
    ("PATCH", "/v1/tasks/{id}/claim", {}, W, 503),
    ("PATCH", "/v1/tasks/{id}/approve", {}, W, 503),
    ("DELETE", "/v1/tasks/{id}", None, W, 503),
    ("POST", "/v1/notes", {}, W, 503),
    ("POST", "/v1/definitions", {}, A, 503),
    ("PATCH", "/v1/definitions/{id}", {}, A, 503),
    ("POST", "/v1/executions", {}, A, 503),
    ("PUT", "/v1/formstack/config", {}, A, 503),
    ("GET", "/v1/formstack/submissions", None, A, 503),
    ("GET", "/v1/dashboard", None, R, 503),
]

CASES = [(role, m, p, b, lvl, ok) for (m, p, b, lvl, ok) in MATRIX for role in ROLES]


@pytest.mark.parametrize(
    ("role", "method", "path", "body", "level", "ok"), CASES, ids=[f"{c[0]}-{c[1]}-{c[2]}" for c in CASES]
)
async def test_role_matrix(client, role, method, path, body, level, ok, org_id):
    async with client(role="admin") as admin:
        contact = (await admin.post("/v1/contacts", json={"first_name": "Target"})).json()
    path = path.replace("{id}", contact["id"] if "contacts" in path else str(uuid.uuid4()))
    if body and body.get("email") == "{email}":
        body = {**body, "email": f"{uuid.uuid4().hex[:8]}@example.com"}
    async with client(role=role) as c:
        r = await c.request(method, path, json=body)
    expected = EXPECT[level][role]
    assert r.status_code == (ok if expected == "ok" else expected), r.text
    if r.status_code == 403:
        assert r.headers["content-type"].startswith("application/problem+json")


async def test_v1_owner_may_delete(client, org_id):
    """A v1 token's `org:owner` maps to owner, who may delete."""
    async with client(role="owner", version=1) as owner:
        cid = (await owner.post("/v1/contacts", json={"first_name": "Gone"})).json()["id"]
        assert (await owner.delete(f"/v1/contacts/{cid}")).status_code == 204
