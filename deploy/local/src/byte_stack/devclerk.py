"""The local stand-in for Clerk: an RSA key pair per profile, its JWKS, a Svix webhook secret,
and Clerk-shaped session tokens signed with that key.

The gateway verifies these tokens exactly as it verifies Clerk's (RS256 against the JWKS URL the
stack gives it); only the issuer differs. The claims follow Clerk's session token: v2 by
default (`v: 2`, `o: {id, slg, rol, per}`, `sts`), v1 on request (`org_id`, `org_role`, ...).
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
import time
import uuid
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

# The app's origin in development (a frontend dev server). Dev session tokens are made for it
# (`azp`), and the dev gateway accepts tokens and cookie-authenticated writes from it only.
DEV_ORIGIN = "http://localhost:3000"


def _write_private(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def ensure_keys(private_file: Path, public_file: Path) -> bool:
    """An RSA-2048 pair, made once (tokens minted before a restart keep verifying)."""
    if private_file.exists() and public_file.exists():
        return False
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    _write_private(
        private_file,
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),
    )
    public_file.write_bytes(
        key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    return True


def ensure_webhook_secret(path: Path) -> str:
    """A Svix-style `whsec_<base64>` secret, made once."""
    if not path.exists():
        _write_private(path, ("whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()).encode())
    return path.read_text().strip()


def _b64(n: int) -> str:
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def jwk(public_pem: str) -> dict:
    """The public key as a JWK; kid = RFC 7638 thumbprint, so it changes when the key does."""
    key = serialization.load_pem_public_key(public_pem.encode())
    assert isinstance(key, rsa.RSAPublicKey)
    numbers = key.public_numbers()
    e, n = _b64(numbers.e), _b64(numbers.n)
    thumbprint = hashlib.sha256(f'{{"e":"{e}","kty":"RSA","n":"{n}"}}'.encode()).digest()
    kid = "ins_dev_" + base64.urlsafe_b64encode(thumbprint).decode().rstrip("=")[:22]
    return {"kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid, "n": n, "e": e}


def jwks(public_pem: str) -> dict:
    return {"keys": [jwk(public_pem)]}


CLERK_ROLES = {"admin": "admin", "user": "member", "member": "member", "guest": "guest", "owner": "owner"}


def clerk_role(role: str) -> str:
    """A BYTE role name (or a Clerk one) -> the Clerk org role key, without `org:`."""
    key = role.strip().removeprefix("org:")
    return CLERK_ROLES.get(key, key)


def session_claims(
    *,
    user_id: str,
    org_id: str | None,
    role: str = "admin",
    issuer: str,
    ttl_seconds: int = 3600,
    version: int = 2,
    azp: str | None = DEV_ORIGIN,
    permissions: list[str] | None = None,
    now: int | None = None,
) -> dict:
    now = int(time.time()) if now is None else now
    claims: dict = {
        "iss": issuer,
        "sub": user_id,
        "sid": f"sess_{uuid.uuid4().hex[:24]}",
        "iat": now,
        "nbf": now - 5,
        "exp": now + ttl_seconds,
        "jti": uuid.uuid4().hex,
    }
    if azp:
        claims["azp"] = azp
    key = clerk_role(role)
    perms = permissions or []
    if version == 2:
        claims |= {"v": 2, "sts": "active", "fva": [0, -1]}
        if org_id:
            claims["o"] = {"id": org_id, "slg": org_id, "rol": key, "per": ",".join(perms)}
    elif org_id:
        claims |= {"org_id": org_id, "org_slug": org_id, "org_role": f"org:{key}", "org_permissions": perms}
    return claims


def mint_session_token(private_pem: str, public_pem: str, claims: dict) -> str:
    import jwt  # PyJWT: the same library the gateway verifies with

    return jwt.encode(claims, private_pem, algorithm="RS256", headers={"kid": jwk(public_pem)["kid"]})
