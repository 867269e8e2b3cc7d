"""The identity the gateway hands to services: a short-lived Ed25519-signed JWT.

Only the gateway holds the private key; services hold the public key, so a service (or anyone
who reaches one) can verify an identity but never mint one. The org id a service scopes by
comes from here and nowhere else: never from a body, query string or plain header.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

HEADER = "X-Byte-Identity"
ALGORITHM = "EdDSA"
DEFAULT_TTL_SECONDS = 60
ADMIN_ROLES = frozenset({"owner", "admin"})


@dataclass(frozen=True)
class Identity:
    user_id: str
    org_id: str
    roles: frozenset[str] = field(default_factory=frozenset)


class InvalidIdentity(Exception):
    pass


def generate_key_pair() -> tuple[str, str]:
    """Returns (private PEM, public PEM)."""
    private = Ed25519PrivateKey.generate()
    private_pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public_pem = (
        private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private_pem, public_pem


def mint(
    private_key_pem: str,
    *,
    user_id: str,
    org_id: str,
    roles: list[str] | frozenset[str] | tuple[str, ...],
    ttl_seconds: int = DEFAULT_TTL_SECONDS,
    issuer: str = "byte-gateway",
    audience: str = "byte-services",
) -> str:
    now = int(time.time())
    claims = {
        "iss": issuer,
        "aud": audience,
        "sub": user_id,
        "org": org_id,
        "roles": sorted(roles),
        "iat": now,
        "nbf": now - 5,
        "exp": now + ttl_seconds,
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(claims, private_key_pem, algorithm=ALGORITHM)


class IdentityVerifier:
    """Verifies identities, remembering the ones it verified until they expire: the gateway
    reuses one identity per caller for most of its life, so a signature is checked once, not on
    every request. A remembered token is the same bytes that verified, so it is as good as
    verifying again, except for the clock, which is checked on every hit."""

    CACHE_SIZE = 10_000

    def __init__(self, public_key_pem: str, *, issuer: str = "byte-gateway", audience: str = "byte-services") -> None:
        key = serialization.load_pem_public_key(public_key_pem.encode())
        if not isinstance(key, Ed25519PublicKey):
            raise ValueError("the identity key must be an Ed25519 public key")
        self._key = key
        self._issuer = issuer
        self._audience = audience
        self._verified: dict[str, tuple[Identity, float]] = {}

    def verify(self, token: str) -> Identity:
        hit = self._verified.get(token)
        if hit is not None:
            identity, expires_at = hit
            if time.time() < expires_at:
                return identity
            del self._verified[token]
        identity, expires_at = self._verify(token)
        if len(self._verified) >= self.CACHE_SIZE:
            self._verified.clear()  # simplest bound: a burst of distinct callers starts over
        self._verified[token] = (identity, expires_at)
        return identity

    def _verify(self, token: str) -> tuple[Identity, float]:
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=[ALGORITHM],
                audience=self._audience,
                issuer=self._issuer,
                leeway=5,
                options={"require": ["exp", "iat", "sub", "aud", "iss"]},
            )
        except jwt.PyJWTError as exc:
            raise InvalidIdentity(str(exc)) from exc
        org_id = claims.get("org")
        roles = claims.get("roles", [])
        if not isinstance(org_id, str) or not org_id:
            raise InvalidIdentity("identity carries no org")
        if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
            raise InvalidIdentity("roles must be a list of strings")
        # remembered until verifying again would fail: its expiry plus the same leeway
        return Identity(user_id=claims["sub"], org_id=org_id, roles=frozenset(roles)), float(claims["exp"]) + 5
