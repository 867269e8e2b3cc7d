"""Clerk session tokens: RS256 against a PEM key or the instance JWKS, then the claims.

PyJWT does the cryptography and the registered claims (exp, nbf, iat, iss); this module picks
the key, checks `azp`, and hands the claims to `domain.session_from_claims`. The JWKS is fetched
with the gateway's async HTTP client (PyJWT's PyJWKClient fetches with blocking urllib), cached,
refreshed when a token names a kid it does not know, and at most once per
`min_refresh_seconds` for that reason, so a stream of made-up kids cannot turn the gateway into a
JWKS load generator. See docs/adr/0004-clerk-session-verification.md.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives import serialization
from prometheus_client import Counter

from byte_gateway.domain import InvalidClaims, Session, session_from_claims

log = logging.getLogger(__name__)

ALGORITHM = "RS256"
JWKS_FETCHES = Counter("byte_gateway_jwks_fetches_total", "JWKS documents fetched", ["outcome"])


class AuthError(Exception):
    """Rendered as problem+json: 401 (who are you?) or 403 (known, but not allowed here)."""

    def __init__(self, status: int, detail: str, code: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.code = code


def unauthorized(detail: str, code: str) -> AuthError:
    return AuthError(401, detail, code)


class KeysUnavailable(Exception):
    """The JWKS could not be fetched and no key is cached: 503, not the caller's fault."""


class JwksCache:
    def __init__(
        self,
        url: str,
        client: httpx.AsyncClient,
        *,
        ttl_seconds: float = 3600.0,
        min_refresh_seconds: float = 30.0,
        timeout_seconds: float = 3.0,
    ) -> None:
        self.url = url
        self._client = client
        self._ttl = ttl_seconds
        self._min_refresh = min_refresh_seconds
        self._timeout = timeout_seconds
        self._keys: dict[str, Any] = {}
        self._fetched_at = float("-inf")
        self._attempted_at = float("-inf")
        self._lock = asyncio.Lock()

    async def key(self, kid: str | None) -> Any:
        now = time.monotonic()
        due = now - self._fetched_at >= self._ttl or kid not in self._keys
        # An expired cache, or a kid it lacks (maybe a rotated key): fetch, but never more often
        # than min_refresh_seconds, whatever callers send; on failure the old keys stay.
        if due and now - self._attempted_at >= self._min_refresh:
            await self._refresh(now)
        if kid is None and len(self._keys) == 1:
            return next(iter(self._keys.values()))
        key = self._keys.get(kid) if kid is not None else None
        if key is None:
            if not self._keys:
                raise KeysUnavailable(f"no signing keys available from {self.url}")
            raise unauthorized("token is signed with a key this gateway does not know (unknown kid)", "unknown_kid")
        return key

    async def _refresh(self, requested_at: float) -> None:
        async with self._lock:
            if self._attempted_at >= requested_at:  # another request fetched while this one waited
                return
            self._attempted_at = time.monotonic()
            try:
                response = await self._client.get(self.url, timeout=self._timeout)
                response.raise_for_status()
                keys = {}
                for jwk in response.json().get("keys", []):
                    if jwk.get("kty") != "RSA" or jwk.get("use", "sig") != "sig" or not jwk.get("kid"):
                        continue
                    keys[jwk["kid"]] = jwt.PyJWK(jwk, ALGORITHM).key
            except (httpx.HTTPError, ValueError, jwt.PyJWTError) as exc:
                JWKS_FETCHES.labels("failed").inc()
                log.warning("fetching the JWKS from %s failed: %s", self.url, exc)
                return
            JWKS_FETCHES.labels("ok").inc()
            self._keys = keys
            self._fetched_at = time.monotonic()


class ClerkVerifier:
    def __init__(
        self,
        *,
        pem: str | None = None,
        jwks: JwksCache | None = None,
        issuer: str | None = None,
        leeway_seconds: int = 5,
        authorized_parties: list[str] | None = None,
        cache_size: int = 10_000,
    ) -> None:
        if pem is None and jwks is None:
            raise ValueError("configure CLERK_JWT_KEY[_FILE] or CLERK_JWKS_URL")
        self._pem_key = serialization.load_pem_public_key(pem.encode()) if pem else None
        self._jwks = jwks
        self._issuer = issuer
        self._leeway = leeway_seconds
        self._parties = frozenset(p.rstrip("/") for p in authorized_parties or ())
        # A browser sends the same session token on every call until it refreshes it (about a
        # minute): verifying its RS256 signature once per token, not per request, is most of
        # what the gateway costs. Only verified tokens are kept, each only within its own
        # nbf..exp window; a key removed from the JWKS stops covering new tokens at once and
        # cached ones within their (short) lifetime.
        self._verified: OrderedDict[str, tuple[Session, float, float]] = OrderedDict()
        self._cache_size = cache_size

    async def verify(self, token: str) -> Session:
        cached = self._verified.get(token)
        if cached is not None:
            who, not_before, expires = cached
            if not_before - self._leeway <= time.time() <= expires + self._leeway:
                self._verified.move_to_end(token)
                return who
            del self._verified[token]  # out of its window: the full check below says why
        who, not_before, expires = await self._verify_signed(token)
        self._verified[token] = (who, not_before, expires)
        if len(self._verified) > self._cache_size:
            self._verified.popitem(last=False)
        return who

    async def _verify_signed(self, token: str) -> tuple[Session, float, float]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise unauthorized("malformed session token", "malformed") from None
        alg = header.get("alg")
        if alg != ALGORITHM:
            raise unauthorized(f"session tokens must be signed with {ALGORITHM}, not {alg!r}", "bad_algorithm")
        kid = header.get("kid")
        if kid is not None and not isinstance(kid, str):
            raise unauthorized("malformed session token", "malformed")
        key = self._pem_key if self._pem_key is not None else await self._jwks.key(kid)  # type: ignore[union-attr]
        try:
            claims = jwt.decode(
                token,
                key,  # type: ignore[arg-type]  # an RSA key: the PEM and the JWKS hold nothing else
                algorithms=[ALGORITHM],
                leeway=self._leeway,
                issuer=self._issuer,
                options={"require": ["exp", "sub"], "verify_aud": False},
            )
        except jwt.ExpiredSignatureError:
            raise unauthorized("session token has expired", "expired") from None
        except jwt.ImmatureSignatureError:
            raise unauthorized("session token is not valid yet", "not_yet_valid") from None
        except jwt.InvalidSignatureError:
            raise unauthorized("session token signature does not verify", "bad_signature") from None
        except jwt.InvalidIssuerError:
            raise unauthorized("session token comes from another issuer", "bad_issuer") from None
        except jwt.MissingRequiredClaimError as exc:
            raise unauthorized(f"session token lacks the {exc.claim!r} claim", "malformed") from None
        except jwt.PyJWTError:
            raise unauthorized("malformed session token", "malformed") from None
        azp = claims.get("azp")
        if azp is not None and self._parties and (not isinstance(azp, str) or azp.rstrip("/") not in self._parties):
            raise unauthorized(f"session token was issued for another origin ({azp!r})", "bad_azp")
        try:
            who = session_from_claims(claims)
        except InvalidClaims as exc:
            if exc.forbidden:
                raise AuthError(403, exc.detail, "no_org") from None
            raise unauthorized(exc.detail, "pending" if "pending" in exc.detail else "bad_claims") from None
        not_before = claims.get("nbf")
        return who, float(not_before) if isinstance(not_before, int | float) else 0.0, float(claims["exp"])
