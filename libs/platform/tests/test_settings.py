import pytest
from byte_platform.settings import ServiceSettings
from pydantic import ValidationError


def test_production_refuses_development_defaults(monkeypatch):
    monkeypatch.setenv("ENVIRONMENT", "production")
    with pytest.raises(ValidationError, match="IDENTITY_PUBLIC_KEY"):
        ServiceSettings()
    monkeypatch.setenv("IDENTITY_PUBLIC_KEY", "pem")
    with pytest.raises(ValidationError, match="DATABASE_URL"):
        ServiceSettings()
    monkeypatch.setenv("DATABASE_URL", "postgresql+asyncpg://svc:s3cret@db.internal:5432/svc")
    assert ServiceSettings().environment == "production"


def test_dev_runs_on_defaults(monkeypatch):
    monkeypatch.delenv("ENVIRONMENT", raising=False)
    assert ServiceSettings().environment == "dev"
