# The two commands of the README's quick start: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CONFIG ?= conduwuit.toml
STAMP_RUN := $(VENV)/.installed-run
STAMP_TEST := $(VENV)/.installed-test

.PHONY: run test lint layers typecheck pytest config bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP_RUN): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	@touch $@

$(STAMP_TEST): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test,crosscheck]'
	@touch $@ $(STAMP_RUN)

## Write a development config (if none exists) and serve on 127.0.0.1:8008.
run: $(STAMP_RUN)
	@$(BIN)/conduwuit init-dev-config --config $(CONFIG)
	$(BIN)/conduwuit serve --config $(CONFIG)

## Lint, type-check and run the whole test suite.
test: lint layers typecheck pytest

lint: $(STAMP_TEST)
	$(BIN)/ruff check conduwuit tests bench images
	$(BIN)/ruff format --check conduwuit tests bench images

## The layer contract in pyproject.toml (imports point down only).
layers: $(STAMP_TEST)
	$(BIN)/lint-imports --no-cache

typecheck: $(STAMP_TEST)
	$(BIN)/mypy

pytest: $(STAMP_TEST)
	$(BIN)/pytest -q $(PYTEST_ARGS)

## Regenerate docs/conduwuit-example.toml from the config models.
config: $(STAMP_RUN)
	$(BIN)/conduwuit generate-config > docs/conduwuit-example.toml

## Benchmarks side by side with Synapse (installs it under .cache/bench once); see docs/performance.md.
bench: $(STAMP_TEST)
	$(BIN)/python bench/run.py --against conduwuit,synapse $(BENCH_ARGS)
	$(BIN)/python -m bench.accounts
	$(BIN)/python -m bench.rooms

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
