"""Who may pass: the Clerk session (Bearer header or `__session` cookie), the rate limits, the
role matrix, and the internal identity minted for the services."""

from __future__ import annotations

import time
from typing import Any

from byte_platform.http import Forbidden
from byte_platform.identity import mint
from cryptography.hazmat.primitives import serialization
from fastapi import Request

from byte_gateway.clerk import ClerkVerifier, unauthorized
from byte_gateway.domain import Level, Session, level_of, required_level
from byte_gateway.ratelimit import RateLimits

SESSION_COOKIE = "__session"
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def session_token(request: Request) -> tuple[str, bool]:
    """(token, from_cookie). Cross-origin callers send a Bearer header, same-origin ones the cookie."""
    header = request.headers.get("authorization")
    if header is not None:
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise unauthorized("Authorization must be `Bearer <session token>`", "malformed")
        return token, False
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        return cookie, True
    raise unauthorized("no session token: send `Authorization: Bearer <token>` or the __session cookie", "missing")


class Gatekeeper:
    def __init__(
        self,
        verifier: ClerkVerifier,
        limits: RateLimits | None,
        identity_private_key_pem: str,
        *,
        identity_ttl_seconds: int = 60,
        identity_issuer: str = "byte-gateway",
        identity_audience: str = "byte-services",
        allowed_origins: list[str] | None = None,
    ) -> None:
        self.verifier = verifier
        self.limits = limits
        # parsed once: signing with a loaded key is what makes minting per request cheap
        self._key: Any = serialization.load_pem_private_key(identity_private_key_pem.encode(), None)
        self._ttl = identity_ttl_seconds
        self._issuer = identity_issuer
        self._audience = identity_audience
        self._origins = frozenset(o.rstrip("/") for o in allowed_origins or ())
        self._minted: dict[tuple[str, str, frozenset[str]], tuple[str, float]] = {}

    async def admit(self, request: Request) -> Session:
        token, from_cookie = session_token(request)
        if from_cookie and request.method in UNSAFE:
            self._check_origin(request)
        who = await self.verifier.verify(token)
        if self.limits is not None:
            await self.limits.hit(who)
        path = request.scope["path"]  # not request.url.path: building the URL costs more than the check
        needs = required_level(request.method, path)
        if level_of(who.roles) < needs:
            raise Forbidden(
                f"role {', '.join(sorted(who.roles))} may not {request.method} {path}"
                f" (needs {'an admin or owner' if needs is Level.ADMIN else 'a member role'})"
            )
        return who

    def _check_origin(self, request: Request) -> None:
        """A browser attaches the cookie to cross-site requests too (CSRF): a write on the
        cookie's strength must say it comes from one of the app's origins. Browsers send Origin
        on every POST, PUT, PATCH and DELETE; a caller that does not is no browser and can use
        the Authorization header."""
        origin = request.headers.get("origin")
        if origin is None:
            raise Forbidden("a write authenticated by the __session cookie needs an Origin header")
        if origin.rstrip("/") not in self._origins:
            raise Forbidden(f"cookie-authenticated writes are not accepted from origin {origin!r}")

    def identity_token(self, who: Session) -> str:
        """The internal identity for this caller; one is reused for half its lifetime, so a
        burst of requests signs once and every token still has at least ttl/2 left."""
        key = (who.user_id, who.org_id, who.roles)
        now = time.monotonic()
        cached = self._minted.get(key)
        if cached is not None and now - cached[1] < self._ttl / 2:
            return cached[0]
        if len(self._minted) > 10_000:
            self._minted.clear()
        token = mint(
            self._key,
            user_id=who.user_id,
            org_id=who.org_id,
            roles=who.roles,
            ttl_seconds=self._ttl,
            issuer=self._issuer,
            audience=self._audience,
        )
        self._minted[key] = (token, now)
        return token
