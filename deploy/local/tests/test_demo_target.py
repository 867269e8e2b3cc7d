"""`byte-stack demo` finds the running stack of a profile the way `byte-stack token` does: the
gateway's address from the service registry, the mail sink and Temporal UI from the profile,
and session tokens of the profile's dev Clerk issuer for the demo's org. (The demo itself runs
against the real system in tests/test_demo.py.)"""

from __future__ import annotations

from pathlib import Path

import jwt
import pytest
from byte_stack import demo, devclerk
from byte_stack.profiles import PROFILES


def test_the_target_is_the_profiles_gateway_with_its_dev_issuer(tmp_path: Path, monkeypatch) -> None:
    registry = tmp_path / "services.toml"
    registry.write_text('[services.gateway]\npackage = "byte_gateway"\nport = 8000\n')
    monkeypatch.setenv("BYTE_REPO_ROOT", str(tmp_path))
    monkeypatch.setenv("BYTE_SERVICES_TOML", str(registry))
    for name in ("DATABASE_ADMIN_URL", "DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS", "TEMPORAL_ADDRESS", "SMTP_HOST"):
        monkeypatch.delenv(name, raising=False)

    with pytest.raises(demo.DemoFailed, match="make up"):
        demo.target_for("test", "org_demo")  # no keys yet: the stack never ran

    clerk = tmp_path / ".state" / "test" / "clerk"
    devclerk.ensure_keys(clerk / "private.pem", clerk / "public.pem")
    secret = devclerk.ensure_webhook_secret(clerk / "webhook_secret")
    target = demo.target_for("test", "org_demo")
    test = PROFILES["test"]
    assert target.gateway_url == f"http://127.0.0.1:{8000 + test.service_port_offset}"
    assert target.mail_url == f"http://127.0.0.1:{test.mail_http_port}"
    assert target.temporal_ui_url == f"http://127.0.0.1:{test.temporal_ui_port}"
    assert target.clerk_webhook_secret == secret
    assert target.state_dir == tmp_path / ".state" / "test" / "demo"

    claims = jwt.decode(
        target.token("user_demo_manager", "manager"),
        (clerk / "public.pem").read_text(),
        algorithms=["RS256"],
        issuer=f"http://127.0.0.1:{test.issuer_port}",
    )
    assert claims["sub"] == "user_demo_manager"
    assert (claims["o"]["id"], claims["o"]["rol"]) == ("org_demo", "manager")
