# The two commands: `make up` (the whole system, locally, no Docker) and `make test`.
SHELL := /bin/bash
export UV_PYTHON_DOWNLOADS := never
export PATH := $(HOME)/.local/bin:$(PATH)
UV := uv

.PHONY: help install up down status token test test-fast

help:
	@echo "make up      install, start PostgreSQL, Kafka, Temporal, mail sink and every service (dev profile)"
	@echo "make down    stop everything 'make up' started"
	@echo "make status  what is running"
	@echo "make token   print a dev Clerk session token for the gateway (ORG=org_dev USER_ID=user_dev ROLE=admin; V1=1 for v1 claims)"
	@echo "make test    install, start a separate test stack, run every test, stop it"

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

test: install
	@bash scripts/test.sh

# Unit tests only: no servers.
test-fast: install
	@$(UV) run pytest -q -m "not stack" libs services
