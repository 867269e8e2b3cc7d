"""Process handling, identity keys and the mail sink, without the infrastructure."""

from __future__ import annotations

import smtplib
import socket
import sys
import threading
import time
from email.message import EmailMessage
from pathlib import Path

import httpx
import psutil
import pytest
from byte_stack import identity, mail_server, procs
from byte_testing import eventually
from cryptography.hazmat.primitives.serialization import (
    load_pem_private_key,
    load_pem_public_key,
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_stop_ends_the_whole_process_tree(tmp_path: Path) -> None:
    # a parent that ignores SIGTERM and forks a child: only the SIGKILL fallback ends it
    code = (
        "import signal, subprocess, sys, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'])\n"
        "time.sleep(600)\n"
    )
    proc = procs.spawn(tmp_path, "stubborn", [sys.executable, "-c", code])
    await eventually(lambda: psutil.Process(proc.pid).children(), timeout=10, interval=0.05)
    tree = [psutil.Process(proc.pid), *psutil.Process(proc.pid).children(recursive=True)]
    assert procs.running(tmp_path, "stubborn") == proc
    assert procs.stop(tmp_path, "stubborn", timeout=2)
    assert not any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in tree)
    assert procs.read_pidfile(tmp_path, "stubborn") is None
    assert not procs.stop(tmp_path, "stubborn")


def test_recycled_pid_is_not_ours(tmp_path: Path) -> None:
    (tmp_path / "pids").mkdir()
    (tmp_path / "pids" / "x.json").write_text('{"pid": 1, "create_time": 12345.0}')
    assert procs.running(tmp_path, "x") is None


def test_wait_healthy_reports_the_log_of_a_dead_process(tmp_path: Path) -> None:
    proc = procs.spawn(tmp_path, "dies", [sys.executable, "-c", "print('boom: bad config'); raise SystemExit(3)"])
    with pytest.raises(procs.StackError) as err:
        procs.wait_healthy("dies", lambda: False, timeout=30, proc=proc, log=procs.log_path(tmp_path, "dies"))
    assert "exited while starting" in str(err.value)
    assert "boom: bad config" in str(err.value)
    assert str(procs.log_path(tmp_path, "dies")) in str(err.value)


def test_wait_healthy_times_out() -> None:
    t = time.monotonic()
    with pytest.raises(procs.StackError, match="not healthy after"):
        procs.wait_healthy("never", lambda: False, timeout=0.5, interval=0.1)
    assert time.monotonic() - t < 5


def test_identity_keys_are_created_once(tmp_path: Path) -> None:
    priv, pub = tmp_path / "id" / "private.pem", tmp_path / "id" / "public.pem"
    assert identity.ensure_keys(priv, pub)
    first = priv.read_bytes()
    assert not identity.ensure_keys(priv, pub)
    assert priv.read_bytes() == first
    assert priv.stat().st_mode & 0o077 == 0
    key = load_pem_private_key(first, None)
    sig = key.sign(b"token")
    load_pem_public_key(pub.read_bytes()).verify(sig, b"token")


def test_mail_sink_stores_and_serves_messages(tmp_path: Path) -> None:
    smtp_port, http_port = _free_port(), _free_port()
    threading.Thread(target=mail_server.serve, args=(tmp_path, "127.0.0.1", smtp_port, http_port), daemon=True).start()
    base = f"http://127.0.0.1:{http_port}"
    procs.wait_healthy("mail", lambda: httpx.get(f"{base}/healthz").status_code == 200, timeout=10)

    msg = EmailMessage()
    msg["From"] = "noreply@byte.test"
    msg["To"] = "ada@example.test"
    msg["Subject"] = "Welcome, Ada"
    msg.set_content("Hello Ada,\nwelcome.")
    msg.add_alternative("<p>Hello Ada</p>", subtype="html")
    with smtplib.SMTP("127.0.0.1", smtp_port) as s:
        s.send_message(msg, to_addrs=["ada@example.test", "audit@example.test"])

    items = httpx.get(f"{base}/messages").json()
    assert len(items) == 1 and len(list(tmp_path.glob("*.eml"))) == 1
    m = items[0]
    assert m["subject"] == "Welcome, Ada"
    assert m["from"] == "noreply@byte.test"
    assert m["to"] == ["ada@example.test", "audit@example.test"]
    assert m["body"] == "Hello Ada,\nwelcome.\n"
    assert "<p>Hello Ada</p>" in m["html"]
    assert m["date"]
    assert httpx.get(f"{base}/messages", params={"to": "audit@example.test"}).json()[0]["id"] == m["id"]
    assert httpx.get(f"{base}/messages", params={"to": "other@example.test"}).json() == []
    one = httpx.get(f"{base}/messages/{m['id']}").json()
    assert one["headers"]["Subject"] == "Welcome, Ada"
    assert httpx.get(f"{base}/messages/{m['id']}.eml").content.startswith(b"X-Envelope-From: noreply@byte.test")
    assert httpx.get(f"{base}/messages/nope").status_code == 404
    assert httpx.delete(f"{base}/messages").status_code == 200
    assert httpx.get(f"{base}/messages").json() == []


def test_dev_issuer_serves_a_jwks_that_verifies_its_tokens(tmp_path: Path) -> None:
    import jwt
    from byte_stack import devclerk, issuer_server

    priv, pub = tmp_path / "clerk" / "private.pem", tmp_path / "clerk" / "public.pem"
    assert devclerk.ensure_keys(priv, pub) and not devclerk.ensure_keys(priv, pub)
    assert priv.stat().st_mode & 0o077 == 0
    secret = devclerk.ensure_webhook_secret(tmp_path / "clerk" / "webhook_secret")
    assert (
        secret.startswith("whsec_") and devclerk.ensure_webhook_secret(tmp_path / "clerk" / "webhook_secret") == secret
    )

    server = issuer_server.make_server(pub, "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        assert httpx.get(f"{base}/healthz").status_code == 200
        keys = httpx.get(f"{base}/.well-known/jwks.json").json()["keys"]
        assert [k["kid"] for k in keys] == [devclerk.jwk(pub.read_text())["kid"]]
        for version in (2, 1):
            claims = devclerk.session_claims(
                user_id="user_1", org_id="org_1", role="reviewer", issuer=base, version=version
            )
            token = devclerk.mint_session_token(priv.read_text(), pub.read_text(), claims)
            assert jwt.get_unverified_header(token)["kid"] == keys[0]["kid"]
            decoded = jwt.decode(
                token, jwt.PyJWK(keys[0]).key, algorithms=["RS256"], issuer=base, options={"verify_aud": False}
            )
            if version == 2:
                assert decoded["v"] == 2 and decoded["o"] == {
                    "id": "org_1",
                    "slg": "org_1",
                    "rol": "reviewer",
                    "per": "",
                }
                assert decoded["sts"] == "active"
            else:
                assert decoded["org_id"] == "org_1" and decoded["org_role"] == "org:reviewer"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(
    ("given", "clerk"),
    [
        ("admin", "admin"),
        ("user", "member"),
        ("guest", "guest"),
        ("owner", "owner"),
        ("org:hr", "hr"),
        ("reviewer", "reviewer"),
    ],
)
def test_dev_issuer_role_names(given: str, clerk: str) -> None:
    from byte_stack.devclerk import clerk_role

    assert clerk_role(given) == clerk


def test_token_commands(capsys: pytest.CaptureFixture[str]) -> None:
    import jwt
    from byte_stack import cli

    assert cli.main(["token", "--profile", "test", "--org", "org_t", "--user", "user_t", "--role", "guest"]) == 0
    claims = jwt.decode(capsys.readouterr().out.strip(), options={"verify_signature": False})
    assert (claims["sub"], claims["o"]["id"], claims["o"]["rol"]) == ("user_t", "org_t", "guest")
    assert cli.main(["token", "--profile", "test", "--v1", "--org", ""]) == 0
    claims = jwt.decode(capsys.readouterr().out.strip(), options={"verify_signature": False})
    assert "org_id" not in claims and "o" not in claims
    assert cli.main(["token", "--profile", "test", "--roles", "admin,guest"]) == 1
    assert "one org role" in capsys.readouterr().err
    assert cli.main(["identity-token", "--profile", "test", "--org", "org_t", "--roles", "admin,reviewer"]) == 0
    claims = jwt.decode(capsys.readouterr().out.strip(), options={"verify_signature": False})
    assert (claims["org"], claims["roles"]) == ("org_t", ["admin", "reviewer"])
