# Parley: `make run` (embedded default) and `make test` (the whole suite) do all the set-up.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PACKAGES := libs/common services/messages services/gateway services/presence launcher clients/python
PYPROJECTS := $(foreach p,$(PACKAGES),$(p)/pyproject.toml)

# The test suite talks to real servers; these are the local ones by default.
TEST_DATABASE_URL ?= $(or $(DATABASE_URL),postgresql://postgres@127.0.0.1:5432/test)
TEST_REDIS_URL ?= $(or $(REDIS_URL),redis://127.0.0.1:6379/0)

.PHONY: install run cluster test check lint typecheck pytest migrate clean

$(STAMP): $(PYPROJECTS) requirements-dev.txt constraints.txt
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Parley needs Python 3.11+"'
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt $(foreach p,$(PACKAGES),-e $(p)) -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP)

## run: all three services in one process on $PORT (8000), SQLite in ./var, dev tokens on.
run: install
	DEV_MODE=$${DEV_MODE:-true} $(BIN)/parley

## cluster: the production topology as separate processes on the local PostgreSQL and Redis:
## messages, presence and $GATEWAYS (2) gateways on $PORT (8000), $PORT+1, ...; Ctrl-C stops all.
cluster: install
	DEV_MODE=$${DEV_MODE:-true} $(BIN)/parley-cluster

## test: lint, type-check, then the whole suite against real PostgreSQL and Redis.
test: install check pytest

pytest: install
	DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) $(BIN)/python -m pytest $(PYTEST_ARGS)

check: lint typecheck

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy libs/common/parley_common services/messages/parley_messages \
	  services/gateway/parley_gateway services/presence/parley_presence launcher/parley_launcher \
	  clients/python/parley_client tests bench

## migrate: bring $DATABASE_URL to the newest schema (Alembic).
migrate: install
	$(BIN)/parley-messages migrate

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache .hypothesis
