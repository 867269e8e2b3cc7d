"""Every way a session token is refused, each a 401/403 problem+json; v1 and v2 tokens accepted."""

import base64
import json
import time

import pytest
from byte_testing.http import assert_problem
from byte_testing.plugin import ClerkIssuer


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


@pytest.fixture(scope="module")
def stranger() -> ClerkIssuer:
    return ClerkIssuer(issuer="https://clerk.byte.test")


async def test_v2_and_v1_tokens_are_accepted(client, org_id):
    for version in (2, 1):
        async with client(version=version) as c:
            r = await c.get("/v1/contacts")
            assert r.status_code == 200, r.text
            assert r.json() == {"items": [], "next_cursor": None}


async def test_session_cookie_is_accepted(gateway, clerk_issuer, org_id):
    import httpx

    token = clerk_issuer.token(org_id)
    async with httpx.AsyncClient(base_url=gateway.url, cookies={"__session": token}) as c:
        assert (await c.get("/v1/contacts")).status_code == 200
        # a cookie-authenticated write from a foreign origin, or from nowhere said, is refused (CSRF)
        for origin in ("https://evil.test", "null", "https://app.byte.test.evil.test", None):
            headers = {"Origin": origin} if origin is not None else {}
            for method in ("POST", "PUT", "PATCH", "DELETE"):
                r = await c.request(method, "/v1/contacts", json={"first_name": "Ada"}, headers=headers)
                assert_problem(r, 403, contains="Origin" if origin is None else "origin")
        assert (await c.get("/v1/contacts")).json()["items"] == []  # nothing was written
        for origin in ("https://app.byte.test", "http://localhost:3000"):
            r = await c.post("/v1/contacts", json={"first_name": "Ada"}, headers={"Origin": origin})
            assert r.status_code == 201, r.text
    # a Bearer token is no ambient credential: no Origin needed
    async with httpx.AsyncClient(base_url=gateway.url, headers={"Authorization": f"Bearer {token}"}) as c:
        assert (await c.post("/v1/contacts", json={"first_name": "Bea"})).status_code == 201


def _production(**overrides) -> dict:
    """Every setting production requires, except the authorized parties."""
    return {
        "environment": "production",
        "database_url": "postgresql+asyncpg://gateway:s3cret@db.internal/gateway",
        "identity_private_key": "pem",
        "identity_public_key": "pem",
        "clerk_jwks_url": "https://clerk.example/jwks",
        "clerk_webhook_secret": "whsec_x",
        "clerk_authorized_parties": [],
        "cors_origins": [],
        **overrides,
    }


def test_production_refuses_to_start_without_authorized_parties():
    """Without them, a session token Clerk made for another site of the same instance would pass."""
    from byte_gateway.settings import GatewaySettings
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="CLERK_AUTHORIZED_PARTIES"):
        GatewaySettings(**_production())
    assert GatewaySettings(**_production(clerk_authorized_parties="https://app.example")).authorized_parties() == [
        "https://app.example"
    ]
    assert GatewaySettings(**_production(cors_origins=["https://app.example"])).authorized_parties() == [
        "https://app.example"
    ]


async def test_a_token_made_for_another_origin_is_refused_for_reads_and_writes(gateway, clerk_issuer, org_id):
    import httpx

    token = clerk_issuer.token(org_id, azp="https://other-app.test")  # same Clerk instance, another site
    async with httpx.AsyncClient(base_url=gateway.url, headers={"Authorization": f"Bearer {token}"}) as c:
        assert_problem(await c.get("/v1/contacts"), 401, code="bad_azp")
        assert_problem(await c.post("/v1/contacts", json={"first_name": "Eve"}), 401, code="bad_azp")
    async with httpx.AsyncClient(base_url=gateway.url, cookies={"__session": token}) as c:
        r = await c.post("/v1/contacts", json={"first_name": "Eve"}, headers={"Origin": "https://app.byte.test"})
        assert_problem(r, 401, code="bad_azp")


def _rejections(issuer: ClerkIssuer, stranger: ClerkIssuer, org_id: str) -> dict[str, tuple[str | None, int, str]]:
    now = int(time.time())
    valid = issuer.claims(org_id)
    header = {"alg": "RS256", "typ": "JWT", "kid": issuer.kid}
    return {
        "no token": (None, 401, "missing"),
        "malformed": ("not-a-jwt", 401, "malformed"),
        "garbage segments": ("a.b.c", 401, "malformed"),
        "alg none": (_b64({"alg": "none", "typ": "JWT"}) + "." + _b64(valid) + ".", 401, "bad_algorithm"),
        "HS256 with the public key": (_hs256(valid, issuer), 401, "bad_algorithm"),
        "wrong signature": (stranger.sign(valid, kid=issuer.kid), 401, "bad_signature"),
        "tampered payload": (
            (lambda t: t.split(".")[0] + "." + _b64({**valid, "sub": "user_admin"}) + "." + t.split(".")[2])(
                issuer.sign(valid)
            ),
            401,
            "bad_signature",
        ),
        "expired": (issuer.token(org_id, exp=now - 60, iat=now - 120, nbf=now - 120), 401, "expired"),
        "not yet valid": (issuer.token(org_id, nbf=now + 120, iat=now), 401, "not_yet_valid"),
        "no exp": (issuer.token(org_id, exp=None), 401, "malformed"),
        "other issuer": (issuer.token(org_id, iss="https://evil.clerk.test"), 401, "bad_issuer"),
        "wrong azp": (issuer.token(org_id, azp="https://evil.test"), 401, "bad_azp"),
        "pending session": (issuer.token(org_id, sts="pending"), 401, "pending"),
        "no org (v2)": (issuer.token(None), 403, "no_org"),
        "no org (v1)": (issuer.token(None, version=1), 403, "no_org"),
        "unusable role": (issuer.token(org_id, o={"id": org_id, "rol": "Bad Role!"}), 401, "bad_claims"),
        "header not bearer": ("Basic dXNlcjpwYXNz", 401, "malformed"),
        "header jwt in header": (
            _b64(header) + "." + _b64(valid),  # two segments
            401,
            "malformed",
        ),
    }


def _hs256(claims: dict, issuer: ClerkIssuer) -> str:
    """A token HMAC-signed with the RSA public key as the secret: the classic algorithm confusion."""
    import hashlib
    import hmac

    signing_input = _b64({"alg": "HS256", "typ": "JWT", "kid": issuer.kid}) + "." + _b64(claims)
    sig = hmac.new(issuer.public_pem.encode(), signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + base64.urlsafe_b64encode(sig).decode().rstrip("=")


REJECTIONS = list(_rejections(ClerkIssuer(), ClerkIssuer(), "org_x"))


@pytest.mark.parametrize("case", REJECTIONS)
async def test_rejections(case, gateway, clerk_issuer, stranger, org_id):
    import httpx

    token, status, code = _rejections(clerk_issuer, stranger, org_id)[case]
    headers = {}
    if token is not None:
        headers["Authorization"] = token if token.startswith("Basic ") else f"Bearer {token}"
    async with httpx.AsyncClient(base_url=gateway.url) as c:
        for path in ("/v1/contacts", "/v1/users"):
            r = await c.get(path, headers=headers)
            body = assert_problem(r, status, code=code)
            assert body["instance"] == path
            if status == 401:
                assert r.headers["www-authenticate"].startswith("Bearer")


async def test_unknown_kid_with_a_pem_key_is_just_a_bad_signature(gateway, clerk_issuer, stranger, org_id):
    """With a PEM key there is one key; a token naming another kid still has to verify with it."""
    import httpx

    token = stranger.sign(stranger.claims(org_id, iss=clerk_issuer.issuer))
    async with httpx.AsyncClient(base_url=gateway.url, headers={"Authorization": f"Bearer {token}"}) as c:
        assert_problem(await c.get("/v1/contacts"), 401, code="bad_signature")


async def test_clock_skew_is_tolerated(client, clerk_issuer, org_id):
    now = int(time.time())
    token = clerk_issuer.token(org_id, exp=now - 2, nbf=now + 2, iat=now - 60)
    async with client(token=token) as c:
        assert (await c.get("/v1/contacts")).status_code == 200
