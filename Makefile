# secpipe developer commands. `make demo` and `make test` each do all their own set-up.
VENV   ?= .venv
PYTHON ?= python3
BIN     = $(VENV)/bin
EXAMPLE = examples/request-classifier
# extras the default pipelines need on the example, and the ones the tests need
DEMO_EXTRAS = example,ml,models,provenance
TEST_EXTRAS = dev,example

.PHONY: demo test lint check-wheel setup setup-test clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

setup: $(BIN)/python
	$(BIN)/pip install -q -e ".[$(DEMO_EXTRAS)]"

setup-test: $(BIN)/python
	$(BIN)/pip install -q -e ".[$(TEST_EXTRAS)]"
	VENV=$(VENV) bash scripts/ci-tools.sh

## demo: set up, build the example's data, run the mlsecops pipeline on the example
demo: setup
	VENV=$(VENV) bash scripts/demo.sh

## lint: ruff, mypy (strict), and secpipe's own secrets scanner on its own code
lint:
	$(BIN)/ruff check src tests benchmarks examples
	$(BIN)/mypy
	$(BIN)/secpipe scan secrets src tests benchmarks docs scripts .ci README.md -q --no-cache

## check-wheel: build the sdist and wheel, install the wheel (no extras) in a clean venv, run it
check-wheel:
	VENV=$(VENV) bash scripts/check-wheel.sh

## test: set up everything (venv, tools, servers are started by the tests), lint, run the tests,
## then check the built wheel in a clean venv
test: setup-test lint
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/pytest -q
	$(MAKE) check-wheel VENV=$(VENV)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache $(EXAMPLE)/.secpipe
