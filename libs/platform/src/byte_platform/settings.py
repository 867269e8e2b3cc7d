"""Settings every service shares; each service subclasses `ServiceSettings` once."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

Environment = Literal["dev", "test", "production"]


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=None, extra="ignore")

    service_name: str = "byte"
    environment: Environment = "dev"
    host: str = "127.0.0.1"
    port: int = 8000
    log_level: str = "INFO"
    # identical warnings/errors beyond this many per interval are counted, not written
    log_repeat_limit: int = 5
    log_repeat_interval_seconds: float = 10.0

    database_url: str = "postgresql+asyncpg://byte:byte@127.0.0.1:54320/byte"
    database_pool_size: int = 20
    database_max_overflow: int = 20

    kafka_bootstrap_servers: str = "127.0.0.1:19092"
    kafka_create_topics: bool = True
    # how long startup waits for Kafka before serving degraded and connecting in the background
    kafka_connect_timeout_seconds: float = 10.0

    identity_public_key: str | None = Field(default=None, description="PEM of the gateway's Ed25519 key")
    identity_public_key_file: Path | None = None
    identity_audience: str = "byte-services"
    identity_issuer: str = "byte-gateway"

    # Kafka consumer groups are `<consumer_group>.<subscription>`. Every replica of one
    # deployment shares them; a second deployment (or a test process on its own database)
    # needs its own. Empty: the service name.
    consumer_group: str = ""
    consumers_enabled: bool = True
    # Where a consumer group with no committed offset starts: the topic's history ("earliest",
    # so a new deployment misses nothing), or its end ("end": a test process on a shared,
    # long-lived broker, which must not wade through every earlier test's events first).
    consumer_new_groups_start: Literal["earliest", "end"] = "earliest"

    page_size_default: int = 50

    outbox_relay_enabled: bool = True
    outbox_poll_seconds: float = 1.0
    outbox_batch_size: int = 200

    inbox_retention_days: int = 30
    inbox_prune_every_seconds: float = 600.0

    shutdown_grace_seconds: float = 20.0

    @model_validator(mode="after")
    def _consumer_group_defaults_to_the_service(self) -> ServiceSettings:
        if not self.consumer_group:
            self.consumer_group = self.service_name
        return self

    @model_validator(mode="after")
    def _production_needs_real_secrets(self) -> ServiceSettings:
        if self.environment != "production":
            return self
        if not (self.identity_public_key or self.identity_public_key_file):
            raise ValueError("IDENTITY_PUBLIC_KEY or IDENTITY_PUBLIC_KEY_FILE is required in production")
        if "byte:byte@" in self.database_url or "127.0.0.1" in self.database_url:
            raise ValueError("DATABASE_URL still points at the development default")
        return self

    def identity_key_pem(self) -> str:
        if self.identity_public_key:
            return self.identity_public_key
        if self.identity_public_key_file:
            return self.identity_public_key_file.read_text()
        raise RuntimeError("no identity public key configured (IDENTITY_PUBLIC_KEY[_FILE])")
