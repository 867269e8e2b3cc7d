#!/usr/bin/env bash
# One LOGIN role and one database per BYTE service (and Temporal's two), for compose.yaml.
#
# The official postgres image runs this once, when its data volume is empty
# (/docker-entrypoint-initdb.d). It is idempotent, so after adding a service to compose.yaml
# (BYTE_SERVICE_DATABASES) it can be re-run against the existing volume:
#
#   docker compose exec postgres bash /docker-entrypoint-initdb.d/10-byte-roles.sh
#
# Each role is neither superuser nor BYPASSRLS and owns only its own database (row-level security
# binds the service; other roles cannot even connect). Passwords come from <NAME>_DB_PASSWORD
# (upper case), defaulting to the role name: development defaults only.
#
# Environment: POSTGRES_USER (the image's superuser), BYTE_SERVICE_DATABASES (space- or
# comma-separated service names), TEMPORAL_DB_PASSWORD.
set -euo pipefail

psql_admin() {
    psql -v ON_ERROR_STOP=1 --no-psqlrc --quiet --username "${POSTGRES_USER:-postgres}" --dbname postgres "$@"
}

# ensure_role ROLE PASSWORD
ensure_role() {
    psql_admin -v role="$1" -v password="$2" <<'SQL'
SELECT format('CREATE ROLE %I LOGIN', :'role')
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'role') \gexec
ALTER ROLE :"role" WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD :'password';
SQL
}

# ensure_database DATABASE OWNER
ensure_database() {
    psql_admin -v db="$1" -v owner="$2" <<'SQL'
SELECT format('CREATE DATABASE %I OWNER %I', :'db', :'owner')
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'db') \gexec
ALTER DATABASE :"db" OWNER TO :"owner";
REVOKE ALL ON DATABASE :"db" FROM PUBLIC;
GRANT ALL ON DATABASE :"db" TO :"owner";
SQL
}

password_for() {  # password_for NAME -> $<NAME>_DB_PASSWORD, else NAME
    local var
    var="$(printf '%s' "$1" | tr '[:lower:]-' '[:upper:]_')_DB_PASSWORD"
    printf '%s' "${!var:-$1}"
}

services="${BYTE_SERVICE_DATABASES:-}"
for name in ${services//,/ }; do
    [[ "$name" =~ ^[a-z][a-z0-9_]*$ ]] || { echo "10-byte-roles: bad service name '$name'" >&2; exit 1; }
    echo "10-byte-roles: role and database '$name'"
    ensure_role "$name" "$(password_for "$name")"
    ensure_database "$name" "$name"
done

# Temporal (temporalio/auto-setup with SKIP_DB_CREATE=true): one role, two databases.
echo "10-byte-roles: role 'temporal', databases 'temporal' and 'temporal_visibility'"
ensure_role temporal "$(password_for temporal)"
ensure_database temporal temporal
ensure_database temporal_visibility temporal
