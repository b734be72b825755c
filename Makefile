PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-slow lint format schema clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,tracing]'
	touch $(STAMP)

## Start the gateway on 127.0.0.1:8000 with emulated backends and demo tokens.
run: $(STAMP)
	$(BIN)/fleetql serve

## Lint, check formatting, and run the test suite but its slow tests.
test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest -m "not slow"

## The slow tests: the heaviest property tests and the benchmark smoke runs.
test-slow: $(STAMP)
	$(BIN)/pytest -m slow

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

## Rewrite schema.graphql from the code.
schema: $(STAMP)
	$(BIN)/fleetql schema > schema.graphql

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
