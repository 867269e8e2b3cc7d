"""The project's conventions, checked: import rules, migrations in step with models, row-level
security on every tenant table, ruff and mypy. Each check is also shown failing on a deliberate
violation, so a check that silently stopped checking would be noticed."""

from __future__ import annotations

import importlib
import os
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Callable, Iterator
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def _tool(name: str) -> str:
    """A dev tool from this virtualenv (the one running pytest), not whatever is on PATH."""
    path = Path(sys.executable).parent / name
    assert path.is_file(), f"{name} is not installed in {path.parent}: run `uv sync --all-packages`"
    return str(path)


def _run(args: list[str], cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    # Wide enough that no tool wraps a module path or a rule name across lines.
    env = {**os.environ, "COLUMNS": "400", "NO_COLOR": "1"}
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def _output(result: subprocess.CompletedProcess[str]) -> str:
    return result.stdout + result.stderr


# mypy is the slowest check (half a minute from a cold cache), so it starts as soon as this
# module is collected and runs on another core while the rest of the session does; its test
# collects the result.
_MYPY = subprocess.Popen(
    [_tool("mypy")],
    cwd=ROOT,
    env={**os.environ, "COLUMNS": "400", "NO_COLOR": "1"},
    stdout=subprocess.PIPE,
    stderr=subprocess.STDOUT,
    text=True,
)


# --- Services with a database: every services/<name>/alembic.ini, so a new one is picked up ---------


def _migrated_services() -> list[str]:
    return sorted(p.parent.name for p in (ROOT / "services").glob("*/alembic.ini"))


MIGRATED_SERVICES = _migrated_services()


def _package(service: str) -> str:
    """The import name of a service: the one package under services/<name>/src."""
    (package,) = [p.parent.name for p in (ROOT / "services" / service / "src").glob("*/__init__.py")]
    return package


def _sync_url(url: str) -> str:
    return sa.make_url(url).set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


@pytest.fixture(scope="module")
def service_database(stack: dict[str, Any], fresh_database: Callable[[str], str]) -> Iterator[Callable[[str], str]]:
    """`service_database("tasks")` -> the URL of a freshly migrated database of that service,
    one per service for this module (sync driver, for inspection)."""
    urls: dict[str, str] = {}

    def _get(service: str) -> str:
        assert service in stack["services"], (
            f"services/{service}/alembic.ini exists but deploy/local/services.toml has no "
            f"[services.{service}] with a database: byte-stack would never create or migrate it"
        )
        if service not in urls:
            urls[service] = _sync_url(fresh_database(service))
        return urls[service]

    yield _get


# --- 1. Import rules (import-linter, configured in the root pyproject.toml) ------------------------

IMPORT_RULES = PYPROJECT["tool"]["importlinter"]


def _lint_imports(cwd: Path, config: Path) -> subprocess.CompletedProcess[str]:
    return _run([_tool("lint-imports"), "--no-cache", "--config", str(config)], cwd=cwd)


def test_import_rules_hold() -> None:
    result = _lint_imports(ROOT, ROOT / "pyproject.toml")
    assert result.returncode == 0, f"import rules broken (pyproject.toml [tool.importlinter]):\n{_output(result)}"


def test_every_service_is_under_the_import_rules() -> None:
    roots = set(IMPORT_RULES["root_packages"])
    (services_rule,) = [c for c in IMPORT_RULES["contracts"] if c["type"] == "independent_services"]
    for service_dir in sorted((ROOT / "services").glob("*/pyproject.toml")):
        package = _package(service_dir.parent.name)
        assert package in roots, (
            f"services/{service_dir.parent.name}: {package} is not in [tool.importlinter] root_packages, "
            "so no import rule looks at it: add it there"
        )
        assert package not in services_rule["shared"], (
            f"{package} is listed as a shared library in contract {services_rule['id']!r}; it is a service"
        )


@pytest.fixture
def project_copy(tmp_path: Path) -> Path:
    """A copy of every first-party package and of pyproject.toml: the real rules over the real
    code, which a test then breaks on purpose. lint-imports puts its working directory first on
    sys.path, so running it there analyses the copies, not the installed packages."""
    for package in IMPORT_RULES["root_packages"]:
        spec = find_spec(package)
        assert spec and spec.submodule_search_locations, f"root package {package} is not importable"
        source = Path(next(iter(spec.submodule_search_locations)))
        shutil.copytree(source, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def _add_line(path: Path, line: str) -> int:
    """Appends `line` to a module; returns its line number."""
    text = path.read_text()
    if not text.endswith("\n"):
        text += "\n"
    path.write_text(text + line + "\n")
    return text.count("\n") + 1


VIOLATIONS = {
    # contract id -> (module file in the copy, offending line, what the report must say)
    "services-independent": (
        "byte_tasks/handlers.py",
        "import byte_contacts.models",
        "byte_tasks is not allowed to import byte_contacts",
    ),
    "domain-pure": (
        "byte_contacts/domain.py",
        "import sqlalchemy",
        "byte_contacts.domain is not allowed to import sqlalchemy",
    ),
    "domain-pure/platform": (
        "byte_tasks/domain.py",
        "from byte_platform import db",
        "byte_tasks.domain is not allowed to import byte_platform.db",
    ),
    "persistence-without-http": (
        "byte_platform/outbox.py",
        "import byte_platform.http",
        "byte_platform.outbox -> byte_platform.http",
    ),
    "persistence-without-http/framework": (
        "byte_platform/inbox.py",
        "import starlette.requests",
        "byte_platform.inbox -> starlette",
    ),
    "contracts-standalone": (
        "byte_contracts/enums.py",
        "from byte_platform import context",
        "byte_contracts.enums is not allowed to import byte_platform.context",
    ),
}


@pytest.mark.parametrize("violation", sorted(VIOLATIONS))
def test_import_rules_catch_a_violation(project_copy: Path, violation: str) -> None:
    contract_id = violation.split("/")[0]
    (contract,) = [c for c in IMPORT_RULES["contracts"] if c["id"] == contract_id]
    module, line, expected = VIOLATIONS[violation]
    line_number = _add_line(project_copy / module, line)

    result = _lint_imports(project_copy, project_copy / "pyproject.toml")

    report = _output(result)
    assert result.returncode == 1, report
    assert f"{contract['name']} BROKEN" in report
    assert "1 broken" in report, f"only {contract_id!r} should break:\n{report}"
    assert expected in report and f"l.{line_number}" in report, report


def test_a_new_service_is_one_line_away_from_the_rules(project_copy: Path) -> None:
    """Naming a new service's package in root_packages puts it under the independence rule."""
    (project_copy / "byte_billing").mkdir()
    (project_copy / "byte_billing" / "__init__.py").write_text("")
    (project_copy / "byte_billing" / "api.py").write_text("from byte_tasks import models\n")
    config = project_copy / "pyproject.toml"
    text = config.read_text()
    assert "root_packages = [\n" in text
    config.write_text(text.replace("root_packages = [\n", 'root_packages = [\n    "byte_billing",\n', 1))

    result = _lint_imports(project_copy, config)

    report = _output(result)
    assert result.returncode == 1, report
    assert "Services never import each other; they share only the libraries BROKEN" in report
    assert "byte_billing is not allowed to import byte_tasks" in report
    assert "byte_billing.api -> byte_tasks.models (l.1)" in report


# --- 2. Every service's migrations end where its models are ----------------------------------------


def alembic_drift(conn: sa.Connection, metadata: sa.MetaData) -> list[str]:
    """What `alembic revision --autogenerate` would write to take the database to `metadata`."""
    context = MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": True})
    return [describe_drift(d) for d in compare_metadata(context, metadata)]


def describe_drift(diff: Any) -> str:
    """One line per difference: `add_index tasks.tasks_by_due` rather than a nested repr."""
    if isinstance(diff, list):  # modify_* of one column: [(op, schema, table, column, info, old, new)]
        return "; ".join(
            f"{op} {table}.{column}: database {old!r}, models {new!r}"
            for op, _schema, table, column, _info, old, new in diff
        )
    op, subject = diff[0], diff[-1]
    if isinstance(subject, sa.Table):
        return f"{op} {subject.name}"
    if isinstance(subject, sa.Column):  # (op, schema, table name, column)
        return f"{op} {diff[2]}.{subject.name}"
    if isinstance(subject, sa.Index | sa.Constraint):
        table = subject.table.name if subject.table is not None else "?"
        return f"{op} {table}.{subject.name}"
    return repr(diff)


# Every column, index and constraint of one schema, as PostgreSQL itself prints them.
CATALOG = """
SELECT 'column ' || c.relname || '.' || a.attname,
       format_type(a.atttypid, a.atttypmod)
       || CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE '' END
       || CASE a.attidentity WHEN 'a' THEN ' GENERATED ALWAYS AS IDENTITY'
                             WHEN 'd' THEN ' GENERATED BY DEFAULT AS IDENTITY' ELSE '' END
       || CASE WHEN a.attgenerated = 's' THEN ' GENERATED ALWAYS AS (' || pg_get_expr(d.adbin, d.adrelid) || ') STORED'
               WHEN d.adbin IS NOT NULL THEN ' DEFAULT ' || pg_get_expr(d.adbin, d.adrelid) ELSE '' END
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE c.relnamespace = to_regnamespace(:schema) AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped
  AND c.relname <> 'alembic_version'
UNION ALL
SELECT 'index ' || t.relname || '.' || i.relname, pg_get_indexdef(i.oid)
FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid
WHERE t.relnamespace = to_regnamespace(:schema) AND t.relname <> 'alembic_version'
UNION ALL
SELECT 'constraint ' || t.relname || '.' || k.conname, pg_get_constraintdef(k.oid)
FROM pg_constraint k JOIN pg_class t ON t.oid = k.conrelid
WHERE t.relnamespace = to_regnamespace(:schema) AND t.relname <> 'alembic_version'
  -- NOT NULL is on the column's line; PostgreSQL 18 also names it, after the column's first name.
  AND k.contype <> 'n'
"""
TWIN = "models_twin"


def _catalog(conn: sa.Connection, schema: str) -> dict[str, str]:
    rows = conn.execute(sa.text(CATALOG), {"schema": schema})
    return {name: definition.replace(f"{schema}.", "") for name, definition in rows}


def catalog_drift(conn: sa.Connection, metadata: sa.MetaData) -> list[str]:
    """What autogenerate does not compare: partial-index predicates, operator classes, CHECK
    constraints, generated-column expressions. The models are created in a throwaway schema of
    the same database (rolled back) and PostgreSQL's own rendering of both is compared."""
    twin = conn.begin()
    try:
        conn.execute(sa.text(f"CREATE SCHEMA {TWIN}"))
        metadata.create_all(conn.execution_options(schema_translate_map={None: TWIN}))
        database, models = _catalog(conn, "public"), _catalog(conn, TWIN)
    finally:
        twin.rollback()
    return [
        f"{name}: database {database.get(name, '(none)')!r}, models {models.get(name, '(none)')!r}"
        for name in sorted(database.keys() | models.keys())
        if database.get(name) != models.get(name)
    ]


def schema_drift(url: str, metadata: sa.MetaData) -> list[str]:
    """How the database at `url` differs from `metadata`: empty when a service's migrations and
    its models agree."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            drift = alembic_drift(conn, metadata)
            conn.rollback()
            return drift + catalog_drift(conn, metadata)
    finally:
        engine.dispose()


@pytest.mark.parametrize("service", MIGRATED_SERVICES)
def test_migrations_match_models(service: str, service_database: Callable[[str], str]) -> None:
    models = importlib.import_module(f"{_package(service)}.models")
    drift = schema_drift(service_database(service), models.metadata)
    listing = "\n".join(f"  {d}" for d in drift)
    assert not drift, (
        f"services/{service}: the database at the Alembic head differs from {models.__name__}.metadata "
        f"(declare it in the models, or add a migration):\n{listing}"
    )


def _copy(metadata: sa.MetaData) -> sa.MetaData:
    copy = sa.MetaData()
    for table in metadata.tables.values():
        table.to_metadata(copy)
    return copy


def test_schema_drift_is_reported(service_database: Callable[[str], str]) -> None:
    service = MIGRATED_SERVICES[0]
    changed = _copy(importlib.import_module(f"{_package(service)}.models").metadata)
    table = next(t for t in changed.tables.values() if "org_id" in t.c)
    table.append_column(sa.Column("added_in_models_only", sa.Text))

    drift = schema_drift(service_database(service), changed)

    assert drift == [
        f"add_column {table.name}.added_in_models_only",
        f"column {table.name}.added_in_models_only: database '(none)', models 'text'",
    ]


def test_drift_autogenerate_misses_is_reported(service_database: Callable[[str], str]) -> None:
    """A partial index's predicate and a CHECK constraint: alembic's comparison does not look."""
    service = MIGRATED_SERVICES[0]
    changed = _copy(importlib.import_module(f"{_package(service)}.models").metadata)
    table = next(t for t in changed.tables.values() if "org_id" in t.c)
    sa.Index("by_org_partial", table.c.org_id, postgresql_where=sa.text("org_id <> ''"))
    table.append_constraint(sa.CheckConstraint("org_id <> ''", name="org_id_not_empty"))

    drift = schema_drift(service_database(service), changed)

    assert drift[0] == f"add_index {table.name}.by_org_partial"
    assert drift[1:] == [
        f"constraint {table.name}.org_id_not_empty: database '(none)', models \"CHECK ((org_id <> ''::text))\"",
        f"index {table.name}.by_org_partial: database '(none)', models "
        f"\"CREATE INDEX by_org_partial ON {table.name} USING btree (org_id) WHERE (org_id <> ''::text)\"",
    ]


# --- 3. Row-level security on every tenant table ---------------------------------------------------

TENANT_TABLES = """
SELECT n.nspname, c.relname, c.relrowsecurity, c.relforcerowsecurity,
       EXISTS (SELECT 1 FROM pg_policies p
               WHERE p.schemaname = n.nspname AND p.tablename = c.relname
                 AND p.qual LIKE '%org_id%') AS has_org_policy
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'org_id' AND NOT a.attisdropped
WHERE c.relkind IN ('r', 'p')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
ORDER BY 1, 2
"""


def tenant_tables_without_isolation(url: str) -> dict[str, list[str]]:
    """Every table with an `org_id` column that is not behind row-level security, with what it
    lacks. Read from pg_catalog rather than information_schema, which hides tables the connected
    role has no privilege on."""
    gaps: dict[str, list[str]] = {}
    with psycopg.connect(sa.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)) as conn:
        for schema, table, enabled, forced, has_policy in conn.execute(TENANT_TABLES):
            missing = [
                what
                for what, ok in (
                    ("ENABLE ROW LEVEL SECURITY", enabled),
                    ("FORCE ROW LEVEL SECURITY", forced),
                    ("a policy on org_id", has_policy),
                )
                if not ok
            ]
            if missing:
                gaps[table if schema == "public" else f"{schema}.{table}"] = missing
    return gaps


def test_every_tenant_table_is_behind_row_level_security(service_database: Callable[[str], str]) -> None:
    gaps = {
        f"{service}.{table}": missing
        for service in MIGRATED_SERVICES
        for table, missing in tenant_tables_without_isolation(service_database(service)).items()
    }
    assert not gaps, "tenant tables (with org_id) not isolated by row-level security " + "; ".join(
        f"{name} lacks {', '.join(missing)}" for name, missing in sorted(gaps.items())
    )


def test_a_tenant_table_without_row_level_security_is_flagged(
    fresh_database: Callable[[str], str],
) -> None:
    service = MIGRATED_SERVICES[0]
    url = _sync_url(fresh_database(service))
    with psycopg.connect(sa.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)) as conn:
        conn.execute("CREATE TABLE notes (id bigint PRIMARY KEY, org_id text NOT NULL, body text)")
        conn.execute("CREATE TABLE half_done (id bigint PRIMARY KEY, org_id text NOT NULL)")
        conn.execute("ALTER TABLE half_done ENABLE ROW LEVEL SECURITY")
        conn.execute("CREATE POLICY half_done_org ON half_done USING (org_id = current_setting('app.org_id', true))")

    assert tenant_tables_without_isolation(url) == {
        "notes": ["ENABLE ROW LEVEL SECURITY", "FORCE ROW LEVEL SECURITY", "a policy on org_id"],
        "half_done": ["FORCE ROW LEVEL SECURITY"],
    }


# --- 4. Ruff and mypy, configured in the root pyproject.toml ----------------------------------------


def test_ruff_check_passes() -> None:
    result = _run([_tool("ruff"), "check", "--output-format", "concise", "--no-cache"])
    assert result.returncode == 0, f"ruff check ([tool.ruff] in pyproject.toml):\n{_output(result)}"


def test_ruff_format_is_applied() -> None:
    result = _run([_tool("ruff"), "format", "--check", "--output-format", "concise", "--no-cache"])
    assert result.returncode == 0, f"ruff format --check (run `uv run ruff format`):\n{_output(result)}"


@pytest.mark.timeout(900)
def test_mypy_passes() -> None:
    output, _ = _MYPY.communicate(timeout=600)
    assert _MYPY.returncode == 0, f"mypy ([tool.mypy] in pyproject.toml):\n{output}"


def _ruff_on(path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return _run(
        [_tool("ruff"), *args, "--no-cache", "--config", str(ROOT / "pyproject.toml"), str(path)], cwd=path.parent
    )


def test_ruff_check_reports_a_violation(tmp_path: Path) -> None:
    """The project's rule set and line length, not ruff's defaults: B006 is not a default rule,
    and a 120-character line passes where 121 does not."""
    module = tmp_path / "offender.py"
    module.write_text(
        "import os\n"
        "\n"
        "\n"
        "def tags(seen=[]):\n"
        f"    print(seen, '{'x' * 101}')\n"  # 120 characters
        f"    print(seen, '{'x' * 102}')\n"  # 121
    )

    result = _ruff_on(module, "check", "--output-format", "concise")

    report = _output(result)
    assert result.returncode == 1, report
    assert "offender.py:1:8: F401" in report
    assert "offender.py:4:15: B006" in report
    assert "offender.py:6:121: E501" in report
    assert "offender.py:5:121" not in report, report


def test_ruff_format_reports_a_violation(tmp_path: Path) -> None:
    module = tmp_path / "offender.py"
    module.write_text("x = { 'a':1 }\n")

    result = _ruff_on(module, "format", "--check", "--output-format", "concise")

    assert result.returncode == 1, _output(result)
    assert "offender.py:1:6: unformatted: File would be reformatted" in _output(result)


def test_mypy_reports_a_violation(tmp_path: Path) -> None:
    """check_untyped_defs is on: a body without annotations is checked too."""
    module = tmp_path / "offender.py"
    module.write_text("def total(values):\n    count: int = 'many'\n    return count\n")

    result = _run(
        [
            _tool("mypy"),
            "--config-file",
            str(ROOT / "pyproject.toml"),
            "--cache-dir",
            str(tmp_path / "cache"),
            str(module),
        ],
        cwd=tmp_path,
    )

    report = _output(result)
    assert result.returncode == 1, report
    assert "offender.py:2: error: Incompatible types in assignment" in report and "[assignment]" in report
