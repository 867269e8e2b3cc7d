#!/usr/bin/env bash
# Runs every test against a stack of its own (the `test` profile: other ports, other state), so
# a running `make up` is never touched, and stops that stack whatever happens.
set -euo pipefail
cd "$(dirname "$0")/.."

uv run byte-stack infra --profile test
trap 'uv run byte-stack down --profile test' EXIT

# The slowest tests are listed at the end: the whole run must stay under 25 minutes on 2 cores.
# One process: two pytest-xdist workers were tried and took longer (two folders' service
# processes and load generators at once on two cores: the heavy tests starved each other).
BYTE_TEST_REUSE_STACK=1 uv run pytest --durations=25 "$@"
