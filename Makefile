PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Written only once the install has succeeded: a .venv without it was left by a failed or
# interrupted install, and is built again from scratch.
STAMP := $(VENV)/.installed
# `make run PORT=8001 HOST=0.0.0.0`: where the demo listens (default 127.0.0.1:8000).
SERVE_FLAGS := $(if $(PORT),--port $(PORT)) $(if $(HOST),--host $(HOST))

.PHONY: run test test-slow lint format schema constraints clean

$(STAMP): pyproject.toml constraints.txt
	@sh scripts/require-python.sh '$(PYTHON)' '$(firstword $(MAKECMDGOALS))'
	@if [ -d $(VENV) ] && [ ! -f $(STAMP) ]; then \
	  echo "Removing the half-built $(VENV) of an earlier install"; rm -rf $(VENV); fi
	@echo "Installing FleetQL and its test tools into $(VENV) (a minute or two the first time)"
	$(PYTHON) -m venv $(VENV) || { rm -rf $(VENV); exit 1; }
	$(BIN)/pip install --quiet --upgrade pip || { rm -rf $(VENV); exit 1; }
	$(BIN)/pip install -c constraints.txt -e '.[test,tracing]' || { rm -rf $(VENV); exit 1; }
	touch $(STAMP)

## Start the gateway on 127.0.0.1:8000 with emulated backends and demo tokens.
run: $(STAMP)
	$(BIN)/fleetql serve $(SERVE_FLAGS)

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

## Re-resolve every dependency to its newest allowed version and rewrite constraints.txt.
constraints:
	rm -rf .venv-constraints
	$(PYTHON) -m venv .venv-constraints
	.venv-constraints/bin/pip install --quiet --upgrade pip
	.venv-constraints/bin/pip install --quiet '.[test,tracing]'
	{ head -n 2 constraints.txt; .venv-constraints/bin/pip freeze --exclude-editable \
	  | grep -v '^fleetql'; } > constraints.txt.new
	mv constraints.txt.new constraints.txt
	rm -rf .venv-constraints

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
