"""compose.yaml and the service Dockerfiles: valid for docker-compose 1.29, and in step with services/.

Static checks only; nothing is built or started (no Docker daemon needed).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
COMPOSE_FILE = ROOT / "compose.yaml"
SERVICES_DIR = ROOT / "services"


def _service_dirs() -> list[Path]:
    return sorted(d for d in SERVICES_DIR.iterdir() if (d / "pyproject.toml").is_file())


SERVICE_DIRS = _service_dirs()
SERVICE_IDS = [d.name for d in SERVICE_DIRS]


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE_FILE.read_text())


def _package(service_dir: Path) -> str:
    return tomllib.loads((service_dir / "pyproject.toml").read_text())["project"]["name"]


def _condition(depends_on: Any, name: str) -> str | None:
    """The condition `depends_on` sets for `name` (the short list form means service_started)."""
    if isinstance(depends_on, list):
        return "service_started" if name in depends_on else None
    if isinstance(depends_on, dict) and name in depends_on:
        return (depends_on[name] or {}).get("condition", "service_started")
    return None


def _instructions(dockerfile: Path) -> list[str]:
    """Dockerfile instructions, continuation lines joined, comments dropped."""
    out: list[str] = []
    pending = ""
    for raw in dockerfile.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        out.append(pending + line)
        pending = ""
    if pending:
        out.append(pending)
    return out


def test_there_are_services() -> None:
    assert SERVICE_DIRS, f"no services/*/pyproject.toml under {SERVICES_DIR}"


def test_docker_compose_config_is_valid() -> None:
    exe = shutil.which("docker-compose")
    if exe is None:
        pytest.fail(
            "docker-compose is not on PATH. Run `make test`, which installs it "
            "(scripts/ensure-tools.sh: apt-get install docker-compose, version 1.29)."
        )
    # Every variable in compose.yaml has a default, so a bare environment must validate too
    # (and without "variable is not set" warnings).
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "LC_ALL")}
    result = subprocess.run(
        [exe, "-f", str(COMPOSE_FILE), "config", "-q"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, f"docker-compose config failed:\n{result.stdout}\n{result.stderr}"
    assert "WARNING" not in result.stderr, result.stderr


def test_every_build_uses_an_existing_dockerfile(compose: dict[str, Any]) -> None:
    for name, svc in compose["services"].items():
        build = svc.get("build")
        if build is None:
            continue
        if isinstance(build, str):
            build = {"context": build}
        context = ROOT / build.get("context", ".")
        dockerfile = context / build.get("dockerfile", "Dockerfile")
        assert dockerfile.is_file(), f"compose service {name!r}: {dockerfile} does not exist"


@pytest.mark.parametrize("service_dir", SERVICE_DIRS, ids=SERVICE_IDS)
def test_service_is_in_compose(service_dir: Path, compose: dict[str, Any]) -> None:
    name = service_dir.name
    services = compose["services"]
    assert name in services, f"services/{name} has no compose service {name!r} in compose.yaml"
    svc = services[name]
    assert (service_dir / "Dockerfile").is_file(), f"services/{name}/Dockerfile is missing"
    assert svc.get("build") == {"context": ".", "dockerfile": f"services/{name}/Dockerfile"}, (
        f"compose service {name!r} must build from the repository root with services/{name}/Dockerfile"
    )
    env = svc.get("environment") or {}
    assert isinstance(env, dict), f"{name}: write `environment` as a mapping"
    assert env.get("ENVIRONMENT") == "dev", f"{name}: ENVIRONMENT must be dev in compose"
    assert env.get("IDENTITY_PUBLIC_KEY_FILE") or env.get("IDENTITY_PUBLIC_KEY"), f"{name}: no identity key"
    for dep in ("postgres", "kafka"):
        if dep == "postgres" and not (service_dir / "alembic.ini").is_file():
            continue
        assert _condition(svc.get("depends_on"), dep) == "service_healthy", (
            f"{name} must depend on {dep} with condition service_healthy"
        )
    assert svc.get("healthcheck"), f"{name}: no healthcheck"


MIGRATED_DIRS = [d for d in SERVICE_DIRS if (d / "alembic.ini").is_file()]


@pytest.mark.parametrize("service_dir", MIGRATED_DIRS, ids=[d.name for d in MIGRATED_DIRS])
def test_service_with_migrations_has_a_migrate_step(service_dir: Path, compose: dict[str, Any]) -> None:
    name = service_dir.name
    services = compose["services"]
    migrate = services.get(f"{name}-migrate")
    assert migrate is not None, f"services/{name} has alembic.ini but compose.yaml has no {name}-migrate"
    assert migrate.get("build") == services[name].get("build"), f"{name}-migrate must use the service's image"
    assert migrate.get("image") == services[name].get("image"), f"{name}-migrate must use the service's image"
    command = migrate.get("command")
    assert command == ["python", "-m", "alembic", "-c", f"/app/services/{name}/alembic.ini", "upgrade", "head"]
    assert migrate.get("environment") == services[name].get("environment"), (
        f"{name}-migrate must see the same settings (DATABASE_URL) as {name}"
    )
    assert _condition(migrate.get("depends_on"), "postgres") == "service_healthy"
    assert _condition(services[name].get("depends_on"), f"{name}-migrate") == "service_completed_successfully"
    assert migrate.get("restart", "no") == "no"

    # and the init script creates its database and role
    databases = str(services["postgres"]["environment"].get("BYTE_SERVICE_DATABASES", ""))
    assert name in re.split(r"[\s,]+", databases), f"add {name} to BYTE_SERVICE_DATABASES of postgres"
    url = services[name]["environment"].get("DATABASE_URL", "")
    assert url.startswith(f"postgresql+asyncpg://{name}:") and url.endswith(f"@postgres:5432/{name}"), url


@pytest.mark.parametrize("service_dir", SERVICE_DIRS, ids=SERVICE_IDS)
def test_service_dockerfile_installs_only_that_service(service_dir: Path) -> None:
    name = service_dir.name
    package = _package(service_dir)
    module = package.replace("-", "_")
    assert package == f"byte-{name}", f"services/{name} should be the package byte-{name}, not {package}"
    dockerfile = service_dir / "Dockerfile"
    assert dockerfile.is_file(), f"services/{name}/Dockerfile is missing (copy services/contacts/Dockerfile)"
    text = dockerfile.read_text()
    instructions = _instructions(dockerfile)

    syncs = [i for i in instructions if i.startswith("RUN") and "uv sync" in i]
    assert syncs, f"{dockerfile}: no `uv sync`"
    for sync in syncs:
        assert f"--package {package}" in sync, f"{dockerfile}: `uv sync` without --package {package}: {sync}"
        assert "--frozen" in sync and "--no-dev" in sync, f"{dockerfile}: sync must be --frozen --no-dev: {sync}"
        assert "--all-packages" not in sync
    assert any("--no-editable" in s for s in syncs), f"{dockerfile}: the final sync must be --no-editable"

    copies = [i for i in instructions if i.startswith(("COPY", "ADD"))]
    for copy in copies:
        if "--from=" in copy:
            continue
        sources = [w for w in copy.split()[1:-1] if not w.startswith("--")]
        for src in sources:
            assert src not in (".", "./", "*", "services", "services/"), f"{dockerfile}: copies too much: {copy}"
            if src.startswith("services/"):
                assert src.startswith(f"services/{name}/"), f"{dockerfile}: copies another service: {copy}"
    if (service_dir / "alembic.ini").is_file():
        assert any(f"services/{name}/alembic.ini" in c for c in copies), f"{dockerfile}: alembic.ini not copied"
        assert any(f"services/{name}/migrations" in c for c in copies), f"{dockerfile}: migrations not copied"

    # no leftover of the service this file was copied from
    for other in SERVICE_IDS:
        if other != name:
            leftover = re.search(rf"(services/|byte[-_]){re.escape(other)}\b", text)
            assert not leftover, f"{dockerfile} mentions {leftover.group(0)!r}"

    assert f'CMD ["python", "-m", "{module}"]' in instructions, f"{dockerfile}: CMD must run python -m {module}"
    users = [i.split()[1] for i in instructions if i.startswith("USER ")]
    assert users and users[-1].split(":")[0] not in ("root", "0"), f"{dockerfile}: the image must run as non-root"
    assert any(i.startswith("HEALTHCHECK") and "/healthz" in i for i in instructions), f"{dockerfile}: no HEALTHCHECK"
    assert any(i.startswith("EXPOSE") for i in instructions), f"{dockerfile}: no EXPOSE"
    assert re.search(r"^COPY --from=ghcr\.io/astral-sh/uv:\d+\.\d+\.\d+ /uv /bin/uv$", text, re.M), (
        f"{dockerfile}: take uv from a pinned ghcr.io/astral-sh/uv image"
    )


def test_postgres_init_script_is_executable() -> None:
    scripts = sorted((ROOT / "deploy/compose/postgres-init").glob("*.sh"))
    assert scripts
    for script in scripts:
        assert os.access(script, os.X_OK), f"{script} must be executable (otherwise the image sources it)"


def test_dev_identity_key_pair_matches() -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

    directory = ROOT / "deploy/compose/identity"
    private = serialization.load_pem_private_key((directory / "dev_identity_private.pem").read_bytes(), None)
    public = serialization.load_pem_public_key((directory / "dev_identity_public.pem").read_bytes())
    assert isinstance(private, Ed25519PrivateKey) and isinstance(public, Ed25519PublicKey)
    public.verify(private.sign(b"byte"), b"byte")
    assert "DEV ONLY" in (directory / "README.md").read_text()
