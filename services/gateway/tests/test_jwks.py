"""The JWKS path: keys fetched once and cached, a rotated key picked up, unknown kids refused
without hammering the JWKS endpoint."""

import asyncio
import time

import httpx
import pytest
from byte_testing import eventually
from byte_testing.http import assert_problem
from byte_testing.plugin import ClerkIssuer

MIN_REFRESH = 1.0


@pytest.fixture(scope="module")
def jwks_gateway(start_gateway, jwks_server, clerk_issuer):
    jwks_server.keys = [clerk_issuer.jwk]
    return start_gateway(
        CLERK_JWT_KEY="", CLERK_JWKS_URL=jwks_server.url, CLERK_JWKS_MIN_REFRESH_SECONDS=str(MIN_REFRESH)
    )


async def _get(gw, token):
    async with httpx.AsyncClient(base_url=gw.url, headers={"Authorization": f"Bearer {token}"}) as c:
        return await c.get("/v1/contacts")


async def test_keys_are_fetched_once_not_per_request(jwks_gateway, jwks_server, clerk_issuer, org_id):
    token = clerk_issuer.token(org_id)
    assert (await _get(jwks_gateway, token)).status_code == 200
    before = jwks_server.fetches
    async with httpx.AsyncClient(base_url=jwks_gateway.url, headers={"Authorization": f"Bearer {token}"}) as c:
        results = await asyncio.gather(*(c.get("/v1/contacts") for _ in range(50)))
    assert {r.status_code for r in results} == {200}
    assert jwks_server.fetches == before


async def test_unknown_kids_are_refused_and_refreshes_are_bounded(jwks_gateway, jwks_server, clerk_issuer, org_id):
    stranger = ClerkIssuer(issuer=clerk_issuer.issuer)
    assert (await _get(jwks_gateway, clerk_issuer.token(org_id))).status_code == 200
    before = jwks_server.fetches
    t0 = time.monotonic()
    results = await asyncio.gather(
        *(_get(jwks_gateway, stranger.sign(stranger.claims(org_id), kid=f"kid_{i}")) for i in range(30))
    )
    elapsed = time.monotonic() - t0
    for r in results:
        assert_problem(r, 401, code="unknown_kid")
    # at most one fetch per MIN_REFRESH window, however many unknown kids arrive
    assert jwks_server.fetches - before <= 1 + int(elapsed / MIN_REFRESH)


async def test_a_rotated_key_is_picked_up(jwks_gateway, jwks_server, clerk_issuer, org_id):
    rotated = ClerkIssuer(issuer=clerk_issuer.issuer)
    jwks_server.keys = [clerk_issuer.jwk, rotated.jwk]
    try:
        token = rotated.token(org_id)

        async def no_longer_unknown():
            r = await _get(jwks_gateway, token)
            return None if r.json().get("code") == "unknown_kid" else r

        # the refresh is bounded to one per MIN_REFRESH: the new kid stays unknown until the window opens
        r = await eventually(no_longer_unknown, timeout=10 * MIN_REFRESH, interval=0.2)
        assert r.status_code == 200, r.text
        # the old key keeps working during the rotation
        assert (await _get(jwks_gateway, clerk_issuer.token(org_id))).status_code == 200
    finally:
        jwks_server.keys = [clerk_issuer.jwk]


async def test_wrong_signature_under_a_known_kid(jwks_gateway, clerk_issuer, org_id):
    stranger = ClerkIssuer(issuer=clerk_issuer.issuer)
    token = stranger.sign(stranger.claims(org_id), kid=clerk_issuer.kid)
    assert_problem(await _get(jwks_gateway, token), 401, code="bad_signature")
