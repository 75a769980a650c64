# Warren — the two commands a new user needs are `make run` and `make test`.
# Everything else here is a convenience over the same environment.

SHELL := /bin/bash
.DEFAULT_GOAL := help

# uv manages the environment and the lock. If it is not installed, bootstrap it into .tools/.
UV := $(shell command -v uv 2>/dev/null || echo .tools/bin/uv)
PY := .venv/bin/python
PYTEST := $(PY) -m pytest

# Where the suite and the tests find the broker and the database (override to point elsewhere).
export AMQP_URL ?= amqp://guest:guest@127.0.0.1:5672/
export DATABASE_URL ?= postgresql://postgres@127.0.0.1:5432/postgres
export RABBITMQ_MANAGEMENT_URL ?= http://127.0.0.1:15672

.PHONY: help install services test unit integration e2e chaos lint fmt schemas run demo bench clean

help:  ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

.tools/bin/uv:
	python3 -m venv .tools
	.tools/bin/pip install --quiet "uv>=0.4"

.venv/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen
	@touch $@

install: .venv/.synced  ## create .venv from the lock file

services:  ## make sure RabbitMQ and PostgreSQL are reachable (starts local ones if stopped)
	infra/local/ensure-services

test: install lint  ## lint, then every test layer (needs RabbitMQ + PostgreSQL)
	$(PYTEST) tests

unit: install  ## unit tests only (no servers)
	$(PYTEST) tests/unit

integration: install  ## integration tests (real RabbitMQ + PostgreSQL)
	$(PYTEST) tests/integration

e2e: install  ## the whole saga over HTTP and AMQP
	$(PYTEST) tests/e2e

chaos: install  ## fault injection
	$(PYTEST) tests/chaos

lint: install  ## ruff, mypy (strict for contracts and libs), import-linter
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy contracts libs/warren services
	.venv/bin/lint-imports

fmt: install  ## format and autofix
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

schemas: install  ## re-record the JSON Schemas of every event (after a deliberate, compatible change)
	$(PY) -m contracts.schema write contracts/schemas

clean:  ## remove the environment
	rm -rf .venv .tools .mypy_cache .ruff_cache .pytest_cache
