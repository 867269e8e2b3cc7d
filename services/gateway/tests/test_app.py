"""The gateway in this process, no servers and no upstream: every refusal that happens before a
request is forwarded (the session token, the role matrix, cookie writes from elsewhere, rate
limits, unsigned webhooks) and what the gateway serves on its own. Forwarding, webhooks that
write and the JWKS path are proven against the real stack in the other test files."""

import base64
import json
import secrets
import time
import uuid
from datetime import UTC, datetime

import pytest
from byte_gateway.main import create_app
from byte_gateway.settings import GatewaySettings
from byte_testing.http import assert_invalid, assert_problem
from byte_testing.inprocess import IdentityKeys, asgi_client, offline
from byte_testing.plugin import ClerkIssuer
from svix.webhooks import Webhook

APP_ORIGIN = "https://app.byte.test"
WEBHOOK_SECRET = "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def gateway(clerk_issuer: ClerkIssuer, **settings):
    upstream = offline()  # a closed port: nothing is ever forwarded anywhere
    return create_app(
        GatewaySettings(
            **offline(
                identity_private_key=IdentityKeys.generate().private_pem,
                clerk_jwt_key=clerk_issuer.public_pem,
                clerk_issuer=clerk_issuer.issuer,
                clerk_authorized_parties=[APP_ORIGIN, "http://localhost:3000"],  # the dev tokens' azp
                cors_origins=[APP_ORIGIN],
                clerk_webhook_secret=WEBHOOK_SECRET,
                service_urls_json={
                    "contacts": f"http://{upstream['kafka_bootstrap_servers']}",
                    "tasks": f"http://{upstream['kafka_bootstrap_servers']}",
                },
                **settings,
            )
        )
    )


@pytest.fixture(scope="module")
def app(clerk_issuer):
    return gateway(clerk_issuer)


@pytest.fixture
def client(app, clerk_issuer, org_id):
    """`client(role=...)` is a Clerk session of this test's org; `client(token=...)` any token;
    `client(None)` no token at all."""

    def _client(role: str | None = "admin", *, token: str | None = None, **headers: str):
        token = token or (clerk_issuer.token(org_id, role=role) if role else None)
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return asgi_client(app, headers=headers)

    return _client


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


@pytest.fixture(scope="module")
def stranger(clerk_issuer) -> ClerkIssuer:
    """Another key pair claiming to be the same Clerk instance."""
    return ClerkIssuer(issuer=clerk_issuer.issuer)


def refusals(issuer: ClerkIssuer, stranger: ClerkIssuer, org_id: str) -> dict[str, tuple[str, int, str]]:
    now = int(time.time())
    valid = issuer.claims(org_id)
    return {
        "malformed": ("not-a-jwt", 401, "malformed"),
        "alg none": (_b64({"alg": "none", "typ": "JWT"}) + "." + _b64(valid) + ".", 401, "bad_algorithm"),
        "wrong signature": (stranger.sign(valid, kid=issuer.kid), 401, "bad_signature"),
        "expired": (issuer.token(org_id, exp=now - 60, iat=now - 120, nbf=now - 120), 401, "expired"),
        "other issuer": (issuer.token(org_id, iss="https://evil.clerk.test"), 401, "bad_issuer"),
        "wrong azp": (issuer.token(org_id, azp="https://evil.test"), 401, "bad_azp"),
        "pending session": (issuer.token(org_id, sts="pending"), 401, "pending"),
        "no org (v2)": (issuer.token(None), 403, "no_org"),
        "no org (v1)": (issuer.token(None, version=1), 403, "no_org"),
    }


async def test_no_session_token_is_401(client):
    async with client(None) as anyone:
        r = await anyone.get("/v1/contacts")
        assert_problem(r, 401, code="missing")
        assert r.headers["www-authenticate"].startswith("Bearer")
        assert_problem(
            await anyone.get("/v1/contacts", headers={"Authorization": "Basic dXNlcjpwYXNz"}), 401, code="malformed"
        )


@pytest.mark.parametrize(
    "refusal",
    [
        "malformed",
        "alg none",
        "wrong signature",
        "expired",
        "other issuer",
        "wrong azp",
        "pending session",
        "no org (v2)",
        "no org (v1)",
    ],
)
async def test_a_refused_session_token_never_passes(client, clerk_issuer, stranger, org_id, refusal):
    token, status, code = refusals(clerk_issuer, stranger, org_id)[refusal]
    async with client(token=token) as c:
        assert_problem(await c.get("/v1/contacts"), status, code=code)
        assert_problem(await c.post("/v1/tasks", json={"title": "x"}), status, code=code)


@pytest.mark.parametrize(
    "role,method,path",
    [
        ("guest", "POST", "/v1/contacts"),
        ("guest", "PATCH", "/v1/tasks/{id}/claim"),
        ("member", "DELETE", "/v1/contacts/{id}"),
        ("member", "POST", "/v1/contacts/{id}/merge"),  # a write no rule opens is for admins only
    ],
)
async def test_the_role_matrix_refuses_before_forwarding(client, role, method, path):
    async with client(role) as c:
        r = await c.request(method, path.format(id=uuid.uuid4()), json={})
        assert_problem(r, 403, contains=f"may not {method}")


async def test_cookie_writes_from_another_origin_are_refused(app, clerk_issuer, org_id):
    async with asgi_client(app, cookies={"__session": clerk_issuer.token(org_id)}) as c:
        r = await c.post("/v1/contacts", json={"first_name": "Ada"}, headers={"Origin": "https://evil.test"})
        assert_problem(r, 403, contains="origin")


async def test_a_path_no_service_answers_is_404_after_the_token_check(client):
    async with client(None) as anyone:
        assert_problem(await anyone.get("/v1/nowhere"), 401)
    async with client() as c:
        assert_problem(await c.get("/v1/nowhere"), 404, contains="no service answers")
        assert_problem(await c.get("/nowhere"), 404)


async def test_the_per_user_rate_limit(clerk_issuer, org_id):
    limited = gateway(clerk_issuer, rate_limit_per_user="2/minute", rate_limit_per_org="100/minute")
    token = clerk_issuer.token(org_id, user_id="user_hasty")
    async with asgi_client(limited, headers={"Authorization": f"Bearer {token}"}) as c:
        for _ in range(2):
            assert_problem(await c.get("/v1/nowhere"), 404)
        r = await c.get("/v1/nowhere")
        assert_problem(r, 429)
        assert int(r.headers["retry-after"]) > 0 and r.json()["scope"] == "user"


async def test_invalid_queries_of_its_own_routes_are_422(client):
    async with client() as c:
        assert_invalid(await c.get("/v1/users", params={"limit": 0}), "limit", "query")
        assert_invalid(await c.get("/v1/users", params={"role": ""}), "role", "query")
        # text PostgreSQL cannot store, in a value or a name: refused before any route reads it
        assert_invalid(await c.get("/v1/users", params={"role": "\x00A"}), "role", "query")
        assert_invalid(await c.get("/v1/users", params={"limit": "5", "\x00": "x"}), "\\u0000", "query")


def signed(body: bytes, *, secret: str = WEBHOOK_SECRET) -> dict[str, str]:
    svix_id = f"msg_{uuid.uuid4().hex}"
    at = datetime.now(UTC)
    return {
        "svix-id": svix_id,
        "svix-timestamp": str(int(at.timestamp())),
        "svix-signature": Webhook(secret).sign(svix_id, at, body.decode()),
        "content-type": "application/json",
    }


async def test_webhooks_that_are_not_clerks_are_400(client):
    body = json.dumps({"type": "user.created", "data": {"id": "user_x"}}).encode()
    async with client(None) as anyone:
        assert_problem(await anyone.post("/webhooks/clerk", content=body), 400, contains="svix-id")
        other = signed(body, secret="whsec_" + "A" * 32)
        assert_problem(await anyone.post("/webhooks/clerk", content=body, headers=other), 400, contains="signature")
        for malformed in (b"not json", b"[]", b'{"type": "user.created"}'):
            assert_problem(await anyone.post("/webhooks/clerk", content=malformed, headers=signed(malformed)), 400)


async def test_health_and_security_headers_need_nothing_behind(client):
    async with client(None) as anyone:
        r = await anyone.get("/healthz")
        assert r.json() == {"status": "ok"}
        r = await anyone.get("/v1/contacts")
        assert r.headers["x-content-type-options"] == "nosniff" and r.headers["x-frame-options"] == "DENY"
        assert r.headers["content-security-policy"].startswith("default-src 'none'")


async def test_the_openapi_document_builds_without_its_services(client):
    async with client(None) as anyone:
        doc = (await anyone.get("/openapi.json")).json()
    assert {"/v1/users", "/webhooks/clerk"} <= doc["paths"].keys()
    assert doc["info"]["x-unavailable-services"] == ["contacts", "tasks"]
    assert {"clerkSession", "clerkCookie"} <= doc["components"]["securitySchemes"].keys()
