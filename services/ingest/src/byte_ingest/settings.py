from byte_platform.settings import ServiceSettings
from pydantic import model_validator


class IngestSettings(ServiceSettings):
    service_name: str = "ingest"
    port: int = 8005
    database_url: str = "postgresql+asyncpg://ingest:ingest@127.0.0.1:54320/ingest"

    # Fernet key (urlsafe base64 of 32 bytes) that encrypts the forms' HMAC keys at rest: they
    # must be read back to verify, so they cannot be hashed. The development default is public.
    secrets_key: str = "ZGV2LW9ubHktYnl0ZS1pbmdlc3Qtc2VjcmV0cy1rZXk="

    webhook_max_bytes: int = 1_048_576
    # deliveries per token and minute; Formstack sends one per submission
    webhook_rate_per_minute: int = 600
    # how long the previous HMAC key still verifies after a rotation
    key_rotation_grace_seconds: int = 86_400

    @model_validator(mode="after")
    def _production_needs_its_own_secrets_key(self) -> "IngestSettings":
        if self.environment == "production" and self.secrets_key == IngestSettings.model_fields["secrets_key"].default:
            raise ValueError("SECRETS_KEY must be set in production (a Fernet key)")
        return self
