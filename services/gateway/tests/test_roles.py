"""The role matrix of docs/roles.md, as a table: role x endpoint -> status, through the real
gateway and the contacts and executions services. Routes whose service is not deployed yet still
show the gateway's decision: 403 when the role may not, 503 (no service) when it may."""

import json
import uuid
from typing import Any

import pytest
from byte_contracts.definitions import applicant_review_document

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
    ("GET", "/v1/contacts/export", None, W, 200),
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


# Cases and definitions, through a gateway that routes to the executions service. `{case}` is a
# fresh running case of the org (opened by an admin for that row), `{definition}` a fresh
# definition; `{contact}` a contact the executions service knows.
CASE_MATRIX = [
    ("GET", "/v1/executions", None, R, 200),
    ("GET", "/v1/executions/board", None, R, 200),
    ("GET", "/v1/executions/{case}", None, R, 200),
    ("GET", "/v1/definitions", None, R, 200),
    ("GET", "/v1/definitions/{definition}", None, R, 200),
    ("GET", "/v1/dashboard/cases-by-status", None, R, 200),
    ("GET", "/v1/dashboard/waits", None, R, 200),
    ("GET", "/v1/exports/cases.csv", None, W, 200),
    ("GET", "/v1/exports/report.pdf", None, W, 200),
    ("POST", "/v1/executions", {"contact_id": "{contact}", "definition_id": "applicant-review"}, W, 201),
    ("PATCH", "/v1/executions/{case}", {"metadata": {"priority": "high"}}, W, 200),
    ("POST", "/v1/executions/{case}/status", {"status": "in_review", "reason": "looked at it"}, W, 202),
    ("POST", "/v1/executions/{case}/cancel", {"reason": "withdrawn"}, W, 202),
    ("DELETE", "/v1/executions/{case}", None, A, 200),
    ("POST", "/v1/definitions", "{document}", A, 201),
    ("PUT", "/v1/definitions/{definition}", "{edit}", A, 200),
    ("POST", "/v1/definitions/{definition}/deactivate", None, A, 200),
    ("POST", "/v1/definitions/validate", "{document}", A, 200),
    ("POST", "/v1/notes", {"entity_type": "case", "entity_id": "{case}", "content": "Called the applicant"}, W, 201),
    # `{note}`: a note by the caller's own user (written with a member's role): only its author or
    # an admin may change it, which the executions service checks behind the gateway's role check
    ("PATCH", "/v1/notes/{note}", {"content": "Called twice"}, W, 200),
    ("DELETE", "/v1/notes/{note}", None, W, 204),
]


@pytest.fixture(scope="module")
def cases_gateway(start_gateway, contacts_service, executions_service):
    return start_gateway(
        SERVICE_URLS_JSON=json.dumps({"contacts": contacts_service.url, "executions": executions_service.url})
    )


def _document() -> dict[str, Any]:
    doc = applicant_review_document()
    doc["name"] = f"Role Review {uuid.uuid4().hex[:8]}"
    return doc


@pytest.mark.parametrize("role", list(ROLES))
async def test_case_role_matrix(cases_gateway, clerk_issuer, role, org_id, h):
    """Members open, edit, move and cancel cases and export them; deleting a case and every
    definition write are for admins; guests only read (dashboards included, exports not)."""
    import httpx

    def client(clerk_role: str) -> httpx.AsyncClient:
        # the same user id whatever the role: `same_user` is the caller's user as a member
        token = clerk_issuer.token(org_id, f"user_{role}", clerk_role)
        return httpx.AsyncClient(base_url=cases_gateway.url, timeout=30, headers={"Authorization": f"Bearer {token}"})

    async with client("admin") as admin, client(role) as caller, client("member") as same_user:
        contact = (await admin.post("/v1/contacts", json={"first_name": "Case", "last_name": "Subject"})).json()["id"]
        opening = {"contact_id": contact, "definition_id": "applicant-review"}

        async def open_case() -> str:
            r = await admin.post("/v1/executions", json=opening)
            # the contact reaches the executions service by its event: refused until it has
            assert r.status_code == 201, r.text
            return r.json()["id"]

        await h.eventually(open_case)
        outcomes = []
        for method, path, body, level, ok in CASE_MATRIX:
            if "{case}" in path:
                path = path.replace("{case}", await open_case())
            if "{note}" in path:
                case = await open_case()
                note = {"entity_type": "case", "entity_id": case, "content": "Left a message"}
                written = await same_user.post("/v1/notes", json=note)
                assert written.status_code == 201, written.text
                path = path.replace("{note}", written.json()["id"])
            if "{definition}" in path:
                created = await admin.post("/v1/definitions", json=_document())
                assert created.status_code == 201, created.text
                path = path.replace("{definition}", created.json()["definition_key"])
            if body == "{document}":
                body = _document()
            elif body == "{edit}":
                body = {**_document(), "expected_version": 1}
            elif isinstance(body, dict) and body.get("contact_id") == "{contact}":
                body = opening
            elif isinstance(body, dict) and body.get("entity_id") == "{case}":
                body = {**body, "entity_id": await open_case()}
            r = await caller.request(method, path, json=body)
            expected = EXPECT[level][role]
            outcomes.append((method, path, r.status_code, ok if expected == "ok" else expected, r.text[:200]))
            if r.status_code == 403:
                assert r.headers["content-type"].startswith("application/problem+json")
    wrong = [o for o in outcomes if o[2] != o[3]]
    assert not wrong, wrong


async def test_the_executions_service_refuses_what_the_gateway_would(executions_service, make_token, org_id):
    """A request that slipped past the gateway meets the same rules in the service: a guest may
    not open a case, a member may not delete one or write a definition."""
    import httpx
    from byte_platform.identity import HEADER

    def client(*roles: str) -> httpx.AsyncClient:
        token = make_token(org_id, user_id=f"user_{roles[0]}", roles=roles)
        return httpx.AsyncClient(base_url=executions_service.url, timeout=30, headers={HEADER: token})

    async with client("guest") as guest, client("user") as member, client("reviewer") as reviewer:
        opening = {"contact_id": str(uuid.uuid4()), "definition_id": "applicant-review"}
        assert (await guest.post("/v1/executions", json=opening)).status_code == 403
        assert (await guest.patch(f"/v1/executions/{uuid.uuid4()}", json={"metadata": {}})).status_code == 403
        assert (await guest.get("/v1/exports/cases.csv")).status_code == 403
        assert (await guest.get("/v1/dashboard/cases-by-status")).status_code == 200
        for caller in (member, reviewer):
            assert (await caller.delete(f"/v1/executions/{uuid.uuid4()}")).status_code == 403
            assert (await caller.post("/v1/definitions", json=_document())).status_code == 403
            # a member passes the role check: what is left is the request's own fault
            assert (await caller.post("/v1/executions", json=opening)).status_code == 422
