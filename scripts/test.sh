#!/usr/bin/env bash
# Runs every test against a stack of its own (the `test` profile: other ports, other state), so
# a running `make up` is never touched, and stops that stack whatever happens.
set -euo pipefail
cd "$(dirname "$0")/.."

uv run byte-stack infra --profile test
trap 'uv run byte-stack down --profile test' EXIT

# Two workers: most of a stack test's time is waiting for events to cross services, so two
# folders at once (each folder's tests on one worker, see byte_testing's plugin) roughly halve
# the run on two cores. The slowest tests are listed at the end: the whole run must stay under
# 25 minutes on 2 cores. BYTE_TEST_WORKERS=0 runs everything in one process.
BYTE_TEST_REUSE_STACK=1 uv run pytest -n "${BYTE_TEST_WORKERS:-2}" --dist loadgroup --durations=25 "$@"
