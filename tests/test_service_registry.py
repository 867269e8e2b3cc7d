"""deploy/local/services.toml is the one list of services; every other place that must name a
service agrees with it, and each failure names the service and the place it is missing from.

A service is a directory under services/ with a pyproject.toml. docs/adding-a-service.md is the
path these checks walk. Static checks only: nothing is built or started.
"""

from __future__ import annotations

import json
import re
import shutil
import tomllib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import pytest
import yaml
from byte_gateway.domain import ROUTES
from byte_stack.profiles import Service, get_profile, load_services

ROOT = Path(__file__).resolve().parents[1]

REGISTRY = "deploy/local/services.toml"
COMPOSE = "compose.yaml"
GATEWAY_ROUTES = "services/gateway/src/byte_gateway/domain.py (ROUTES)"
TEMPLATE = "contacts"  # the worked example: its Dockerfile is every service's, renamed

# compose.yaml publishes each service on 31000 + its dev port (see the header of compose.yaml).
COMPOSE_PORT_OFFSET = 31000

LAYOUT = (
    "__main__.py",
    "settings.py",
    "models.py",
    "schemas.py",
    "commands.py",
    "domain.py",
    "handlers.py",
    "queries.py",
    "api.py",
    "consumers.py",
    "main.py",
)
# The gateway is the edge, not a domain service: it consumes no topic (it only produces
# identity.*), and its one command, a verified Clerk webhook delivery, sits in handlers.py next
# to its one handler. Its extra modules (clerk, proxy, access, ratelimit, openapi) are the edge.
NOT_IN_LAYOUT = {"gateway": {"commands.py", "consumers.py"}}


@dataclass
class Repo:
    """The files of one checkout (the real one, or a copy a test breaks on purpose)."""

    root: Path
    gateway_routes: tuple[tuple[str, str], ...]

    def text(self, relative: str) -> str:
        path = self.root / relative
        return path.read_text() if path.is_file() else ""

    @cached_property
    def service_dirs(self) -> list[str]:
        return sorted(d.name for d in (self.root / "services").iterdir() if (d / "pyproject.toml").is_file())

    @cached_property
    def registry(self) -> dict[str, Service]:
        # the dev profile: ports as written in the file
        return {s.name: s for s in load_services(get_profile("dev"), self.root / REGISTRY)}

    @cached_property
    def compose(self) -> dict[str, Any]:
        return (yaml.safe_load(self.text(COMPOSE)) or {}).get("services") or {}

    def compose_env(self, service: str) -> dict[str, Any]:
        env = (self.compose.get(service) or {}).get("environment") or {}
        return env if isinstance(env, dict) else {}

    @cached_property
    def init_databases(self) -> set[str]:
        """The databases the compose init script creates (deploy/compose/postgres-init reads them
        from the postgres container's BYTE_SERVICE_DATABASES)."""
        listed = str(self.compose_env("postgres").get("BYTE_SERVICE_DATABASES", ""))
        return set(re.split(r"[\s,]+", listed.strip())) - {""}

    @cached_property
    def gateway_service_urls(self) -> dict[str, str]:
        return json.loads(str(self.compose_env("gateway").get("SERVICE_URLS_JSON") or "{}"))

    def routes_to(self, service: str) -> list[str]:
        return sorted(prefix for prefix, owner in self.gateway_routes if owner == service)


def _dockerfile_problem(repo: Repo, name: str) -> str | None:
    where = f"services/{name}/Dockerfile"
    found = repo.text(where)
    if not found:
        return f"{where} is missing: copy services/{TEMPLATE}/Dockerfile with {TEMPLATE} replaced by {name}"
    expected = repo.text(f"services/{TEMPLATE}/Dockerfile").replace(TEMPLATE, name)
    expected_lines, found_lines = expected.splitlines(), found.splitlines()
    if not (repo.root / "services" / name / "alembic.ini").is_file():
        # a service without tables ships no migrations: the template less its migration lines
        def keep(line: str) -> bool:
            return not re.search(r"alembic|migrations", line, re.IGNORECASE)

        expected_lines = [line for line in expected_lines if keep(line)]
        found_lines = [line for line in found_lines if keep(line)]
    for number, (want, got) in enumerate(zip(expected_lines, found_lines, strict=False), start=1):
        if want != got:
            return (
                f"{where} is not services/{TEMPLATE}/Dockerfile with {TEMPLATE} replaced by {name}: "
                f"line {number} is {got!r}, expected {want!r}"
            )
    if len(expected_lines) != len(found_lines):
        return f"{where} has {len(found_lines)} lines, services/{TEMPLATE}/Dockerfile renamed has {len(expected_lines)}"
    return None


def service_problems(repo: Repo, name: str) -> list[str]:
    """Every place services/<name> should be named in and is not."""
    directory = repo.root / "services" / name
    migrated = (directory / "alembic.ini").is_file()
    module = f"byte_{name}"
    problems: list[str] = []

    def missing(place: str, what: str) -> None:
        problems.append(f"services/{name}: {place}: {what}")

    # the workspace: the Dockerfile's `uv sync --frozen --package byte-<name>` needs it in uv.lock
    project = tomllib.loads((directory / "pyproject.toml").read_text()).get("project", {})
    if project.get("name") != f"byte-{name}":
        missing("pyproject.toml", f"the project must be named byte-{name}, not {project.get('name')!r}")
    if f'name = "byte-{name}"' not in repo.text("uv.lock"):
        missing("uv.lock", f"no package byte-{name}: run `uv lock`")

    # the registry
    svc = repo.registry.get(name)
    if svc is None:
        missing(REGISTRY, f"no [services.{name}] (package, port, database, alembic, routes)")
    else:
        if svc.package != module:
            missing(REGISTRY, f'package = "{module}", not {svc.package!r}')
        if migrated and svc.database != name:
            missing(REGISTRY, f'database = "{name}" (it has migrations)')
        if migrated and svc.alembic != f"services/{name}/alembic.ini":
            missing(REGISTRY, f'alembic = "services/{name}/alembic.ini"')
        if not migrated and (svc.database or svc.alembic):
            missing(REGISTRY, "database/alembic given, but the service has no alembic.ini")

    # the code: the standard layout and its own tests
    package = directory / "src" / module
    for filename in LAYOUT:
        # A layer that grew may be a package of the same name, a module per aggregate inside.
        present = (package / filename).is_file() or (package / filename.removesuffix(".py") / "__init__.py").is_file()
        if filename not in NOT_IN_LAYOUT.get(name, ()) and not present:
            missing(f"src/{module}/", f"no {filename} (the layout of services/{TEMPLATE})")
    if not any((directory / "tests").glob("test_*.py")):
        missing("tests/", "no test_*.py (pytest collects services/<name>/tests)")

    # the image
    if problem := _dockerfile_problem(repo, name):
        missing("Dockerfile", problem)

    # compose.yaml: the service, its migrate step, its database, and the gateway's address book
    compose_svc = repo.compose.get(name)
    if compose_svc is None:
        missing(COMPOSE, f"no service {name!r}: copy the {TEMPLATE} service")
    else:
        build = compose_svc.get("build") or {}
        if not isinstance(build, dict) or build.get("dockerfile") != f"services/{name}/Dockerfile":
            missing(COMPOSE, f"service {name!r} must build services/{name}/Dockerfile")
        if svc is not None:
            port = f"127.0.0.1:{COMPOSE_PORT_OFFSET + svc.port}:8000"
            if port not in (compose_svc.get("ports") or []):
                missing(COMPOSE, f"service {name!r} must publish {port!r} ({COMPOSE_PORT_OFFSET} + its dev port)")
    if migrated:
        if f"{name}-migrate" not in repo.compose:
            missing(COMPOSE, f"no service '{name}-migrate': copy {TEMPLATE}-migrate")
        if name not in repo.init_databases:
            missing(
                f"{COMPOSE} (postgres BYTE_SERVICE_DATABASES, read by deploy/compose/postgres-init)",
                f"no database {name}",
            )
        password = f"{name.upper().replace('-', '_')}_DB_PASSWORD"
        if password not in repo.compose_env("postgres"):
            missing(f"{COMPOSE} (postgres environment)", f"no {password}")
        if f"${{{password}:-{name}}}@postgres:5432/{name}" not in str(repo.compose_env(name).get("DATABASE_URL", "")):
            missing(
                COMPOSE, f"service {name!r} needs DATABASE_URL with {name}:${{{password}:-{name}}}@postgres:5432/{name}"
            )

    # the gateway: what services.toml says it routes here is what the gateway's table routes here
    routes = sorted(svc.routes) if svc is not None else []
    if routes != repo.routes_to(name):
        missing(
            f"{REGISTRY} routes vs {GATEWAY_ROUTES}",
            f"services.toml says {routes}, the gateway routes {repo.routes_to(name)}",
        )
    if routes and repo.gateway_service_urls.get(name) != f"http://{name}:8000":
        missing(f"{COMPOSE} (gateway SERVICE_URLS_JSON)", f'no "{name}": "http://{name}:8000"')
    readme = repo.text("README.md")
    for prefix in routes:
        if f"`{prefix}`" not in readme:
            missing("README.md (What runs where, the gateway's row)", f"no `{prefix}`")

    # the docs
    if svc is not None:
        address = f"http://127.0.0.1:{svc.port}"
        if not any(name in line and address in line for line in readme.splitlines() if line.startswith("|")):
            missing("README.md (What runs where)", f"no row naming {name} at {address}")
    if not re.search(rf"^\| {re.escape(name)} \|", repo.text("docs/architecture.md"), re.MULTILINE):
        missing("docs/architecture.md (Services)", f"no row | {name} |")
    return problems


def registry_problems(repo: Repo) -> list[str]:
    """Places naming a service that does not exist under services/."""
    dirs = set(repo.service_dirs)
    problems = [
        f"{REGISTRY}: [services.{n}] has no services/{n}/pyproject.toml" for n in repo.registry if n not in dirs
    ]
    databases = {s.database for s in repo.registry.values() if s.database}
    problems += [
        f"{COMPOSE} (postgres BYTE_SERVICE_DATABASES): {d} is no service's database in {REGISTRY}"
        for d in sorted(repo.init_databases - databases)
    ]
    problems += [
        f"{COMPOSE} (gateway SERVICE_URLS_JSON): {n} has no routes in {REGISTRY}"
        for n in sorted(repo.gateway_service_urls)
        if not (n in repo.registry and repo.registry[n].routes)
    ]
    for compose_name, compose_svc in repo.compose.items():
        build = compose_svc.get("build") or {}
        dockerfile = str(build.get("dockerfile", "")) if isinstance(build, dict) else ""
        match = re.fullmatch(r"services/([^/]+)/Dockerfile", dockerfile)
        if match and match.group(1) not in dirs:
            problems.append(
                f"{COMPOSE}: service {compose_name!r} builds services/{match.group(1)}, which does not exist"
            )
    return problems


REPO = Repo(ROOT, ROUTES)


def test_there_are_services() -> None:
    assert REPO.service_dirs, "no services/*/pyproject.toml"
    assert TEMPLATE in REPO.service_dirs


@pytest.mark.parametrize("name", REPO.service_dirs)
def test_service_is_named_everywhere(name: str) -> None:
    problems = service_problems(REPO, name)
    assert not problems, "\n".join(problems)


# The gateway may route prefixes to a service not built yet (they answer 503 until it is); once
# services/<name> exists, test_service_is_named_everywhere holds its routes to the registry's.
def test_nothing_names_a_service_that_does_not_exist() -> None:
    problems = registry_problems(REPO)
    assert not problems, "\n".join(problems)


# ---------------------------------------------------------------------------------------------
# The checker itself, on a copy of the repository broken on purpose
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    for relative in (REGISTRY, COMPOSE, "README.md", "docs/architecture.md", "uv.lock"):
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / relative, tmp_path / relative)
    for name in REPO.service_dirs:
        shutil.copytree(
            ROOT / "services" / name,
            tmp_path / "services" / name,
            ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"),
        )
    return tmp_path


def test_a_clean_copy_has_no_problems(copy: Path) -> None:
    repo = Repo(copy, ROUTES)
    assert [p for n in repo.service_dirs for p in service_problems(repo, n)] == []
    assert registry_problems(repo) == []


def test_a_new_service_directory_alone_is_reported_at_every_place(copy: Path) -> None:
    widgets = copy / "services" / "widgets"
    (widgets / "src" / "byte_widgets").mkdir(parents=True)
    (widgets / "pyproject.toml").write_text('[project]\nname = "byte-widgets"\n')
    (widgets / "alembic.ini").write_text("[alembic]\n")
    (widgets / "src" / "byte_widgets" / "main.py").write_text("")

    problems = "\n".join(service_problems(Repo(copy, ROUTES), "widgets"))

    for expected in (
        "services/widgets: uv.lock: no package byte-widgets",
        f"services/widgets: {REGISTRY}: no [services.widgets]",
        "services/widgets: src/byte_widgets/: no handlers.py",
        "services/widgets: tests/: no test_*.py",
        "services/widgets: Dockerfile: services/widgets/Dockerfile is missing",
        f"services/widgets: {COMPOSE}: no service 'widgets'",
        f"services/widgets: {COMPOSE}: no service 'widgets-migrate'",
        "BYTE_SERVICE_DATABASES, read by deploy/compose/postgres-init): no database widgets",
        "(postgres environment): no WIDGETS_DB_PASSWORD",
        "services/widgets: docs/architecture.md (Services): no row | widgets |",
    ):
        assert expected in problems, f"{expected!r} not reported in:\n{problems}"
    assert "main.py" not in re.findall(r"no (\w+\.py)", problems)


def test_routes_out_of_step_with_the_gateway_are_reported(copy: Path) -> None:
    registry = copy / REGISTRY
    text = registry.read_text().replace('routes = ["/v1/contacts"]', 'routes = ["/v1/contacts", "/v1/people"]')
    registry.write_text(text)
    problems = "\n".join(service_problems(Repo(copy, ROUTES), "contacts"))
    assert (
        f"services/contacts: {REGISTRY} routes vs {GATEWAY_ROUTES}: "
        "services.toml says ['/v1/contacts', '/v1/people'], the gateway routes ['/v1/contacts']"
    ) in problems
    assert "README.md (What runs where, the gateway's row): no `/v1/people`" in problems

    # and a built service the gateway already routes to, with no routes in services.toml
    problems = "\n".join(service_problems(Repo(copy, (*ROUTES, ("/v1/tasks-archive", "tasks"))), "tasks"))
    assert "the gateway routes ['/v1/tasks', '/v1/tasks-archive']" in problems


def test_a_dockerfile_that_drifts_from_the_template_is_reported(copy: Path) -> None:
    dockerfile = copy / "services" / "tasks" / "Dockerfile"
    dockerfile.write_text(dockerfile.read_text().replace("USER 10001:10001", "USER root"))
    problems = service_problems(Repo(copy, ROUTES), "tasks")
    assert any(
        "services/tasks/Dockerfile is not services/contacts/Dockerfile" in p and "'USER root'" in p for p in problems
    ), problems


def test_leftovers_of_a_removed_service_are_reported(copy: Path) -> None:
    shutil.rmtree(copy / "services" / "tasks")
    problems = "\n".join(registry_problems(Repo(copy, ROUTES)))
    assert f"{REGISTRY}: [services.tasks] has no services/tasks/pyproject.toml" in problems
    assert f"{COMPOSE}: service 'tasks' builds services/tasks, which does not exist" in problems
    assert f"{COMPOSE} (gateway SERVICE_URLS_JSON)" not in problems  # tasks still has routes in the registry
