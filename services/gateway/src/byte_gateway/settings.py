import json
from pathlib import Path
from typing import Annotated

from byte_platform.settings import ServiceSettings
from pydantic import Field, field_validator, model_validator
from pydantic_settings import NoDecode

CommaList = Annotated[list[str], NoDecode]


def _listish(value: object) -> object:
    """`a,b` or a JSON list, from the environment; a list from Python."""
    if isinstance(value, str):
        value = value.strip()
        if value.startswith("["):
            return json.loads(value)
        return [v.strip() for v in value.split(",") if v.strip()]
    return value


class GatewaySettings(ServiceSettings):
    service_name: str = "gateway"
    port: int = 8000
    database_url: str = "postgresql+asyncpg://gateway:gateway@127.0.0.1:54320/gateway"

    # The Ed25519 key the gateway signs internal identities with (services hold the public half).
    identity_private_key: str | None = None
    identity_private_key_file: Path | None = None
    identity_ttl_seconds: int = 60

    # Clerk session verification: a JWKS URL (fetched, cached, refreshed on an unknown kid) or
    # the instance's PEM public key (networkless). With both, the PEM key is used.
    clerk_jwt_key: str | None = Field(default=None, description="PEM public key of the Clerk instance")
    clerk_jwt_key_file: Path | None = None
    clerk_jwks_url: str | None = None
    clerk_jwks_cache_seconds: float = 3600.0
    clerk_jwks_min_refresh_seconds: float = 30.0
    clerk_jwks_timeout_seconds: float = 3.0
    clerk_issuer: str | None = Field(default=None, description="when set, `iss` must equal it")
    clerk_clock_skew_seconds: int = 5
    # The app's own origins. A token's `azp` (the origin it was made for) must be one of them,
    # and so must the Origin of a write authenticated by the __session cookie. Empty:
    # CORS_ORIGINS is used; both empty: azp is not checked and cookie writes are refused
    # (required in production).
    clerk_authorized_parties: CommaList = Field(default_factory=list)
    clerk_webhook_secret: str | None = Field(default=None, description="whsec_... of the Svix endpoint")
    clerk_webhook_secret_file: Path | None = None

    # Where the services are: {"contacts": "http://127.0.0.1:8001", ...} (byte-stack passes it).
    service_urls_json: Annotated[dict[str, str], NoDecode] = Field(default_factory=dict)
    upstream_connect_timeout_seconds: float = 1.0
    upstream_read_timeout_seconds: float = 30.0
    upstream_pool_timeout_seconds: float = 2.0
    upstream_max_connections: int = 200
    # Formstack deliveries pass up to this size: the ingest service applies its own limit (1 MB)
    # and keeps a signed delivery over it as `rejected`, reading up to 4x its limit to verify the
    # signature; above this the gateway answers 413 and nothing is kept.
    formstack_webhook_max_bytes: int = 4 * 1_048_576
    # An idle pooled connection is dropped after this; keep it below the services' keep-alive
    # (uvicorn's default, 5 s), so the service never closes one the gateway is about to use.
    upstream_keepalive_seconds: float = 4.0
    upstream_retry_after_seconds: int = 5
    openapi_cache_seconds: float = 60.0

    cors_origins: CommaList = Field(default_factory=list)

    # Rate limits (the `limits` library's notation: "600/minute", "20/second;600/minute").
    rate_limit_enabled: bool = True
    rate_limit_per_user: str = "600/minute"
    rate_limit_per_org: str = "3000/minute"
    rate_limit_storage_uri: str = "memory://"
    rate_limit_strategy: str = "moving-window"

    @field_validator("clerk_authorized_parties", "cors_origins", mode="before")
    @classmethod
    def _split_lists(cls, value: object) -> object:
        return _listish(value)

    @field_validator(
        "identity_private_key",
        "identity_private_key_file",
        "clerk_jwt_key",
        "clerk_jwt_key_file",
        "clerk_jwks_url",
        "clerk_issuer",
        "clerk_webhook_secret",
        "clerk_webhook_secret_file",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        # compose passes `VAR: ${VAR:-}`: an empty value means "not configured", not the path "."
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("service_urls_json", mode="before")
    @classmethod
    def _urls(cls, value: object) -> object:
        if isinstance(value, str):
            value = json.loads(value) if value.strip() else {}
        if isinstance(value, dict):
            return {k: str(v).rstrip("/") for k, v in value.items()}
        return value

    @model_validator(mode="after")
    def _production_needs_gateway_secrets(self) -> "GatewaySettings":
        if self.environment != "production":
            return self
        if not (self.identity_private_key or self.identity_private_key_file):
            raise ValueError("IDENTITY_PRIVATE_KEY or IDENTITY_PRIVATE_KEY_FILE is required in production")
        if not (self.clerk_jwt_key or self.clerk_jwt_key_file or self.clerk_jwks_url):
            raise ValueError("CLERK_JWT_KEY[_FILE] or CLERK_JWKS_URL is required in production")
        if not (self.clerk_webhook_secret or self.clerk_webhook_secret_file):
            raise ValueError("CLERK_WEBHOOK_SECRET is required in production")
        if not self.authorized_parties():
            # without them a session token minted for any other site on the same Clerk
            # instance would be accepted here
            raise ValueError("CLERK_AUTHORIZED_PARTIES (or CORS_ORIGINS) is required in production")
        return self

    def identity_private_key_pem(self) -> str:
        if self.identity_private_key:
            return self.identity_private_key
        if self.identity_private_key_file:
            return self.identity_private_key_file.read_text()
        raise RuntimeError("no identity private key configured (IDENTITY_PRIVATE_KEY[_FILE])")

    def clerk_pem(self) -> str | None:
        if self.clerk_jwt_key:
            return self.clerk_jwt_key.replace("\\n", "\n")
        if self.clerk_jwt_key_file:
            return self.clerk_jwt_key_file.read_text()
        return None

    def webhook_secret(self) -> str | None:
        if self.clerk_webhook_secret:
            return self.clerk_webhook_secret
        if self.clerk_webhook_secret_file:
            return self.clerk_webhook_secret_file.read_text().strip()
        return None

    def authorized_parties(self) -> list[str]:
        return self.clerk_authorized_parties or self.cors_origins
