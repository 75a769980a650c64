# Warren — the two commands a new user needs are `make run` and `make test`.
# Everything else here is a convenience over the same environment.

SHELL := /bin/bash
.DEFAULT_GOAL := help

# uv manages the environment and the lock. If it is not installed, bootstrap it into .tools/.
UV := $(shell command -v uv 2>/dev/null || echo .tools/bin/uv)
PY := .venv/bin/python
PYTEST := $(PY) -m pytest

# Where the suite and the tests find the broker and the database (override to point elsewhere).
# `make run` uses the vhost `warren`; the tests make (and delete) a fresh vhost of their own.
AMQP_SERVER ?= amqp://guest:guest@127.0.0.1:5672
export DATABASE_URL ?= postgresql://postgres@127.0.0.1:5432/postgres
export RABBITMQ_MANAGEMENT_URL ?= http://127.0.0.1:15672
# Every workspace member's src folder: what mypy checks (a new service is picked up by the glob).
SOURCES := $(wildcard libs/*/src contracts/src services/*/src)
empty :=
space := $(empty) $(empty)

.PHONY: help install services tools test unit integration e2e lint mypy docs docs-serve fmt schemas run demo clean

help:  ## list the targets
	@grep -hE '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

.tools/bin/uv:
	python3 -m venv .tools
	.tools/bin/pip install --quiet "uv>=0.4"

# The development environment: every member, editable, plus the dev tools (tests, linters).
.venv/.synced: pyproject.toml uv.lock $(wildcard */pyproject.toml */*/pyproject.toml) | $(UV)
	$(UV) sync --frozen --all-packages
	@touch $@

install: .venv/.synced  ## create .venv from the lock file (every member and the dev tools)

# `make run` needs the members only: no test or lint toolchain is installed for it. (--inexact
# keeps the dev tools of an earlier `make install`.)
.venv/.runtime: pyproject.toml uv.lock $(wildcard */pyproject.toml */*/pyproject.toml) | $(UV)
	$(UV) sync --frozen --all-packages --no-dev --inexact
	@touch $@

services:  ## make sure RabbitMQ and PostgreSQL are reachable (starts local ones if stopped)
	infra/local/ensure-services

tools:  ## make sure the test tools from outside the lock are on PATH (promtool)
	infra/local/ensure-promtool

# Tests refuse to skip for want of servers under `make test`: a missing server is a failure.
TEST_ENV := AMQP_URL=$(AMQP_SERVER)/ WARREN_REQUIRE_SERVERS=1 HYPOTHESIS_PROFILE=make-test

test: install lint docs services tools  ## lint, docs, then every test layer (starts local RabbitMQ + PostgreSQL)
	$(TEST_ENV) $(PYTEST) tests -m "not long"

run: .venv/.runtime services  ## start the whole suite locally (Ctrl-C stops it)
	AMQP_URL=$(AMQP_SERVER)/warren .venv/bin/warren run

demo: .venv/.runtime  ## with `make run` going: place one order of each outcome and show how each ended
	$(PY) -m orders.demo

unit: install  ## unit tests only (no servers)
	$(PYTEST) tests/unit

integration: install services  ## integration tests (real RabbitMQ + PostgreSQL)
	$(TEST_ENV) $(PYTEST) tests/integration

e2e: install services  ## the whole saga over HTTP and AMQP
	$(TEST_ENV) $(PYTEST) tests/e2e

lint: install  ## ruff, mypy (strict for the platform and contracts), the import rules
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(MAKE) --no-print-directory mypy
	.venv/bin/warren check imports

docs: install  ## build the documentation site into site/ (strict: a broken link or reference fails)
	NO_MKDOCS_2_WARNING=1 .venv/bin/mkdocs build --strict --quiet

docs-serve: install  ## preview the documentation site on http://127.0.0.1:8000
	NO_MKDOCS_2_WARNING=1 .venv/bin/mkdocs serve

mypy: install  ## type-check every member (strict for the platform and the contracts)
	MYPYPATH=$(subst $(space),:,$(SOURCES)) $(PY) -m mypy $(SOURCES)

fmt: install  ## format and autofix
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

schemas: install  ## re-record the JSON Schemas of every event (after a deliberate, compatible change)
	.venv/bin/warren schema --record

clean:  ## remove the environment
	rm -rf .venv .tools .mypy_cache .ruff_cache .pytest_cache

# Benchmarks (issues 8, 16): raw aio-pika vs FastStream vs warren, the saga before and after,
# the outbox relay.
# Syncs the `bench` dependency group (a later plain `make install`/`make test` removes it again).
# BENCH_ARGS passes flags through, e.g. `make bench BENCH_ARGS=--quick`.
BENCH_ARGS ?=

.PHONY: bench
bench: services  ## benchmarks vs raw aio-pika and FastStream, the saga before/after, the outbox (~20 min)
	$(UV) sync --frozen --group bench --group dev
	$(PY) -m bench --amqp-url $(AMQP_SERVER)/ --management-url $(RABBITMQ_MANAGEMENT_URL) \
		--database-url $(DATABASE_URL) $(BENCH_ARGS)

# --- deployment: docker compose and Kubernetes (README "Deploying") -----------------------------
OVERLAY ?= dev

.PHONY: up down logs k8s static

up:  ## build the images and start the whole suite in docker compose (needs a Docker engine)
	@docker info >/dev/null 2>&1 || { echo "make up needs a running Docker engine (docker info fails here); without one, 'make run' starts the suite as local processes"; exit 1; }
	@test -f .env || { cp .env.example .env; echo "created .env from .env.example: change its passwords"; }
	docker compose up --build --detach --wait
	@echo "APIs http://localhost:8001..8004  RabbitMQ :15672  Jaeger :16686  Prometheus :9090  Grafana :3000"

down:  ## stop the compose suite (add ARGS=--volumes to also drop its data)
	docker compose down $(ARGS)

logs:  ## follow the compose suite's logs
	docker compose logs --follow

k8s: install  ## regenerate the topology and monitoring resources and render an overlay: make k8s OVERLAY=dev|prod
	.venv/bin/warren topology k8s --output k8s/base/rabbitmq-topology.yaml
	.venv/bin/warren monitoring k8s --output k8s/base/monitoring.yaml
	kubectl kustomize k8s/overlays/$(OVERLAY)

static: install tools  ## static checks of the deployment files (compose, k8s, CRDs, alert rules, hadolint, checkov)
	$(PYTEST) tests/static

.PHONY: chaos
chaos: install  ## fault injection, long: 1000 orders, every fault, a 3-node cluster (own servers)
	CHAOS_PROFILE=long $(TEST_ENV) $(PYTEST) tests/chaos -s
