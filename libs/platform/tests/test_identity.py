import base64
import hashlib
import hmac
import json
import time

import jwt
import pytest
from byte_platform.context import Context
from byte_platform.identity import IdentityVerifier, InvalidIdentity, generate_key_pair, mint

PRIVATE, PUBLIC = generate_key_pair()


def test_a_minted_identity_verifies():
    who = IdentityVerifier(PUBLIC).verify(mint(PRIVATE, user_id="u1", org_id="org_1", roles=["admin", "reviewer"]))
    assert (who.user_id, who.org_id, who.roles) == ("u1", "org_1", frozenset({"admin", "reviewer"}))
    ctx = Context.of_identity(who)
    assert ctx.is_admin and not ctx.is_read_only


@pytest.mark.parametrize(
    "roles,admin,read_only",
    [(["guest"], False, True), ([], False, True), (["user"], False, False), (["owner"], True, False)],
)
def test_role_predicates(roles, admin, read_only):
    ctx = Context.of_identity(IdentityVerifier(PUBLIC).verify(mint(PRIVATE, user_id="u", org_id="o", roles=roles)))
    assert (ctx.is_admin, ctx.is_read_only) == (admin, read_only)


def _hs256_with_public_key(claims: dict) -> str:
    """The classic key-confusion forgery: HMAC keyed with the verifier's public key."""

    def b64(raw: bytes) -> bytes:
        return base64.urlsafe_b64encode(raw).rstrip(b"=")

    signing_input = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode()) + b"." + b64(json.dumps(claims).encode())
    return (signing_input + b"." + b64(hmac.new(PUBLIC.encode(), signing_input, hashlib.sha256).digest())).decode()


def test_forgeries_are_refused():
    verifier = IdentityVerifier(PUBLIC)
    other_private, _ = generate_key_pair()
    now = int(time.time())
    claims = {
        "iss": "byte-gateway",
        "aud": "byte-services",
        "sub": "u",
        "org": "o",
        "roles": ["admin"],
        "iat": now,
        "exp": now + 60,
    }
    attempts = [
        mint(other_private, user_id="u", org_id="o", roles=["admin"]),
        mint(PRIVATE, user_id="u", org_id="o", roles=["admin"], ttl_seconds=-120),
        mint(PRIVATE, user_id="u", org_id="o", roles=["admin"], audience="someone-else"),
        mint(PRIVATE, user_id="u", org_id="o", roles=["admin"], issuer="not-the-gateway"),
        _hs256_with_public_key(claims),
        jwt.encode(claims, None, algorithm="none"),
        jwt.encode({**claims, "org": ""}, PRIVATE, algorithm="EdDSA"),
        jwt.encode({**claims, "roles": "admin"}, PRIVATE, algorithm="EdDSA"),
        "not.a.token",
    ]
    for token in attempts:
        with pytest.raises(InvalidIdentity):
            verifier.verify(token)


def test_a_remembered_identity_is_refused_once_it_expires():
    verifier = IdentityVerifier(PUBLIC)
    fresh = mint(PRIVATE, user_id="u", org_id="o", roles=["admin"])
    assert verifier.verify(fresh) is verifier.verify(fresh)  # the second answer is the remembered one
    stale = mint(PRIVATE, user_id="u", org_id="o", roles=["admin"], ttl_seconds=-60)
    # as if it had verified while still valid: past its expiry the cache must not vouch for it
    verifier._verified[stale] = (verifier.verify(fresh), time.time() - 1)
    with pytest.raises(InvalidIdentity):
        verifier.verify(stale)
