# The two commands of the README's quick start: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CONFIG ?= conduwuit.toml
STAMP_RUN := $(VENV)/.installed-run
STAMP_TEST := $(VENV)/.installed-test
STAMP_FUZZ := $(VENV)/.installed-fuzz
STAMP_BROWSER := $(VENV)/.installed-browser
# make fuzz: examples per operation and the overall time budget (CI's small budget);
# a deeper manual run: make fuzz FUZZ_EXAMPLES=100 FUZZ_SECONDS=3600
FUZZ_EXAMPLES ?= 5
FUZZ_SECONDS ?= 150
# make crashloop: kill -9 trials (CI's small number); manual runs: make crashloop CRASH_TRIALS=100
CRASH_TRIALS ?= 3

.PHONY: run test lint layers typecheck pytest config admin-docs route-shapes bench fuzz crashloop clean sliding-client

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP_RUN): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	@touch $@

$(STAMP_TEST): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test,crosscheck]'
	@touch $@ $(STAMP_RUN)

$(STAMP_BROWSER): $(STAMP_TEST)
	$(BIN)/pip install --quiet -e '.[test,browser]'
	@touch $@

$(STAMP_FUZZ): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[fuzz]'
	@touch $@

## Write a development config (if none exists) and serve on 127.0.0.1:8008.
run: $(STAMP_RUN)
	@$(BIN)/conduwuit init-dev-config --config $(CONFIG)
	$(BIN)/conduwuit serve --config $(CONFIG)

## Lint, type-check and run the whole test suite.
test: lint layers typecheck pytest

lint: $(STAMP_TEST)
	$(BIN)/ruff check conduwuit tests bench images fuzz
	$(BIN)/ruff format --check conduwuit tests bench images fuzz

## The layer contract in pyproject.toml (imports point down only).
layers: $(STAMP_TEST)
	$(BIN)/lint-imports --no-cache

typecheck: $(STAMP_TEST)
	$(BIN)/mypy

pytest: $(STAMP_TEST)
	$(BIN)/pytest -q $(PYTEST_ARGS)

## Build the matrix-rust-sdk client of tests/sliding_client once (cached in
## .cache/sliding-client; the first build takes 4.5 CPU-minutes, 12 to 21 minutes on
## two loaded cores, see docs/development/testing.md) and run the test
## that drives it against a server process (Simplified Sliding Sync, as Element X).
sliding-client: $(STAMP_TEST)
	cargo build --locked --manifest-path tests/sliding_client/Cargo.toml --target-dir .cache/sliding-client
	$(BIN)/pytest -q tests/e2e/test_sliding_client.py

## Cinny (a Matrix web client) in headless Chromium against a server process; see
## docs/development/testing.md. Installs Debian's chromium if missing (needs root).
.PHONY: e2e-browser
e2e-browser: $(STAMP_BROWSER)
	@command -v chromium >/dev/null || { apt-get update -q && apt-get install -y -q chromium; }
	CONDUWUIT_E2E_BROWSER=1 $(BIN)/pytest -q -s tests/browser $(PYTEST_ARGS)

## Regenerate docs/conduwuit-example.toml from the config models.
config: $(STAMP_RUN)
	$(BIN)/conduwuit generate-config > docs/conduwuit-example.toml

## Regenerate docs/admin.md from the admin commands' declarations.
admin-docs: $(STAMP_RUN)
	$(BIN)/conduwuit generate-admin-docs > docs/admin.md

## After changing a lazily loaded route group's routes (conduwuit/api/lazy.py).
route-shapes: $(STAMP_RUN)
	$(BIN)/conduwuit generate-route-shapes > conduwuit/api/route_shapes.py

## Benchmarks side by side with Synapse (installs it under .cache/bench once); see docs/performance.md.
bench: $(STAMP_TEST)
	$(BIN)/python bench/run.py --against conduwuit,synapse $(BENCH_ARGS)
	$(BIN)/python -m bench.accounts
	$(BIN)/python -m bench.rooms
	$(BIN)/python -m bench.discovery
	$(BIN)/python -m bench.federation

## Spec-driven fuzzing of the client-server API (schemathesis); see docs/development/fuzzing.md.
fuzz: $(STAMP_FUZZ)
	$(BIN)/python -m fuzz.run --examples $(FUZZ_EXAMPLES) --seconds $(FUZZ_SECONDS) $(FUZZ_ARGS)

## kill -9 during concurrent sends and registrations, restart, check; see docs/development/fuzzing.md.
crashloop: $(STAMP_RUN)
	$(BIN)/python -m fuzz.crashloop --trials $(CRASH_TRIALS) $(CRASH_ARGS)

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
