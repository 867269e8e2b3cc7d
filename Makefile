# The two commands: `make up` (the whole system, locally, no Docker) and `make test`.
SHELL := /bin/bash
export UV_PYTHON_DOWNLOADS := never
export PATH := $(HOME)/.local/bin:$(PATH)
UV := uv

.PHONY: help install up down status token demo test test-fast test-durability

help:
	@echo "make up      install, start PostgreSQL, Kafka, Temporal, mail sink and every service (dev profile)"
	@echo "make down    stop everything 'make up' started"
	@echo "make status  what is running"
	@echo "make token   print a dev Clerk session token for the gateway (ORG=org_dev USER_ID=user_dev ROLE=admin; V1=1 for v1 claims)"
	@echo "make demo   against 'make up': a signed Formstack submission walked to the welcome email (ORG=org_demo)"
	@echo "make test    install, start a separate test stack, run every test, stop it"
	@echo "make test-durability  only the durability run (50 cases while the worker, executions and tasks are killed; part of make test)"
	@echo "make test-fast  no servers, under a minute: domain, in-process API and subscriber tests, repository checks"

install:
	@bash scripts/ensure-tools.sh
	@$(UV) sync --all-packages --frozen --quiet

up: install
	@$(UV) run byte-stack up --profile dev

down:
	@$(UV) run byte-stack down --profile dev

status:
	@$(UV) run byte-stack status --profile dev

token:
	@$(UV) run byte-stack token --profile dev --org "$(or $(ORG),org_dev)" --user "$(or $(USER_ID),user_dev)" --role "$(or $(ROLE),$(ROLES),admin)" $(if $(V1),--v1)

# Against a running `make up`: one applicant from a signed Formstack submission through review
# and approval to the email, printing each step (deploy/local/src/byte_stack/demo.py).
demo:
	@$(UV) run byte-stack demo --profile dev --org "$(or $(ORG),org_demo)"

# Every test, the durability run included.
test: install
	@bash scripts/test.sh

# The durability run alone (about 2-3 minutes), on its own test stack the same way.
test-durability: install
	@bash scripts/test.sh -m durability

# No servers, under a minute: domain rules, each service's app in process (httpx.ASGITransport),
# its Kafka subscribers on FastStream's TestKafkaBroker, and the repository-wide checks in tests/.
# Every test that reaches the real stack (through the `stack` fixture) is marked and left out.
test-fast: install
	@$(UV) run pytest -q -m "not stack" libs services tests
