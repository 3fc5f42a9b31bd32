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

.PHONY: install run cluster test check lint typecheck pytest migrate clean ts-test web expo bench bench-quick soak faults

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
test: install check ts-test expo pytest

# tests/expo runs in `make expo`, after the export it drives.
# Two workers, each a file at a time: most of the suite waits on processes, sockets and timers,
# so two halve its time on two cores. Every test has its own ids, ports and database already.
PYTEST_WORKERS ?= 2
pytest: install
	DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) $(BIN)/python -m pytest --ignore=tests/expo \
	  -n $(PYTEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

check: lint typecheck

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy libs/common/parley_common services/messages/parley_messages \
	  services/gateway/parley_gateway services/presence/parley_presence launcher/parley_launcher \
	  clients/python/parley_client tests bench

## ts-test: the TypeScript SDK (clients/ts): `tsc --strict`, its build to dist/, its vitest suite.
NPM_CI := npm ci --no-audit --no-fund --loglevel=error
ts-test:
	cd clients/ts && $(NPM_CI) && npm run typecheck && npm run build && npm test

## expo: the Expo app (clients/expo) on the SDK's dist/: `tsc --strict`, its Jest suite (the SDK's React
## Native adapters on the packages' own mocks), the bundle guard (a Node or DOM module fails a phone's
## build), and `expo export` offline for Android and iOS (Metro, Hermes bytecode) and the web, into
## clients/expo/dist; then tests/expo drives the web export in Chromium against the production topology.
## Metro's cache is cleared: a fresh machine's time.
EXPO_STAMP := clients/expo/node_modules/.installed
# `npm install` of the committed lockfile, not `npm ci`: Expo's native helpers list optional
# packages for every OS that the registry reached here does not serve, so they cannot be in the
# lockfile and `npm ci` refuses it; `npm install` takes the locked versions and skips those.
$(EXPO_STAMP): clients/expo/package-lock.json clients/expo/package.json
	cd clients/expo && npm install --no-audit --no-fund --loglevel=error
	touch $(EXPO_STAMP)

expo: install $(EXPO_STAMP)
	cd clients/ts && (test -d node_modules || $(NPM_CI)) && npm run build
	cd clients/expo && npm run typecheck && npm test && node test/bundle-guard.mjs && npm run export
	DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) $(BIN)/python -m pytest tests/expo -q

## web: rebuild the chat page (clients/web) into the gateway package; commit the result.
web:
	cd clients/ts && $(NPM_CI)
	cd clients/web && $(NPM_CI) && npm run build

## bench: Parley's own benchmark (bench/run_bench.py, a few minutes): `make cluster` on a fresh database
## (parley_bench), every scenario of bench/parley_bench, side by side with ../shared/peer when it is there;
## writes the table of docs/performance.md and docs/perf/*.png. BENCH_RUNS=3: medians of 3 alternating runs.
## Then bench/bus_scaleout.py (about 12 minutes): the bus cost per gateway with 1, 2, 4 and 8 gateways,
## medians of 3 rounds.
## bench-quick (or BENCH_QUICK=1): tiny sizes. BENCH_ARGS passes more flags (`bench/run_bench.py --help`).
BENCH_STAMP := $(VENV)/.bench-installed
$(BENCH_STAMP): $(STAMP) bench/requirements.txt constraints.txt
	$(BIN)/pip install --quiet -c constraints.txt -r bench/requirements.txt
	touch $(BENCH_STAMP)

## Then issue 19's table with the yardstick (bench/yardstick.py, ~30 min for 3 rounds; needs `npm ci` in
## ../shared/bench and ../shared/peer): YARDSTICK_ROUNDS (3), YARDSTICK=0 skips it.
YARDSTICK ?= 1
YARDSTICK_ROUNDS ?= 3
bench: install $(BENCH_STAMP)
	$(BIN)/python bench/run_bench.py $(BENCH_ARGS)
	$(BIN)/python bench/bus_scaleout.py --rounds 3
	if [ "$(YARDSTICK)" != 0 ]; then $(BIN)/python bench/yardstick.py --rounds $(YARDSTICK_ROUNDS); fi

bench-quick: install $(BENCH_STAMP)
	BENCH_QUICK=1 $(BIN)/python bench/run_bench.py $(BENCH_ARGS)
	BENCH_QUICK=1 $(BIN)/python bench/bus_scaleout.py

## soak: $(SOAK_CONNECTIONS) connections chatting through two gateways for $(SOAK_SECONDS) s: memory,
## file descriptors and tasks of every process, printed and checked (docs/reliability.md).
## `make test` runs a short one (200 connections, 30 s).
SOAK_CONNECTIONS ?= 1000
SOAK_SECONDS ?= 180
soak: install
	DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) SOAK_CONNECTIONS=$(SOAK_CONNECTIONS) \
	  SOAK_SECONDS=$(SOAK_SECONDS) $(BIN)/python -m pytest tests/soak -q

## faults: the fault suite (tests/faults) larger and longer than in `make test`: 8 members
## instead of 4, every phase of each scenario 4 times as long.
faults: install
	DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) FAULTS_MEMBERS=8 FAULTS_PACE_S=1.5 \
	  FAULTS_SCALE=4 $(BIN)/python -m pytest tests/faults -q

## migrate: bring $DATABASE_URL to the newest schema (Alembic).
migrate: install
	$(BIN)/parley-messages migrate

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache .hypothesis
