# secpipe developer commands. `make demo` and `make test` each do all their own set-up.
VENV   ?= .venv
PYTHON ?= python3
BIN     = $(VENV)/bin
EXAMPLE = examples/request-classifier
# extras the default pipelines need on the example, and the ones the tests need
DEMO_EXTRAS = example,ml,models,provenance
TEST_EXTRAS = dev,example

.PHONY: demo demo-devsecops test lint check-wheel setup setup-test clean fuzz

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

setup: $(BIN)/python
	$(BIN)/pip install -q -e ".[$(DEMO_EXTRAS)]"

setup-test: $(BIN)/python
	$(BIN)/pip install -q -e ".[$(TEST_EXTRAS)]"
	VENV=$(VENV) bash scripts/ci-tools.sh
	bash scripts/base-image.sh  # Debian 12 base as an OCI layout, once (cached)

## demo: set up, build the example's data, run the mlsecops pipeline on the example
demo: setup
	VENV=$(VENV) bash scripts/demo.sh

## demo-devsecops: set up, then run devsecops on the example with the image stages live (build
## with buildah on a debootstrap base, scan, gate, sign, push to a local registry, verify; root)
demo-devsecops: setup
	VENV=$(VENV) bash scripts/demo-devsecops.sh

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

## fuzz: the property tests with fresh random seeds and 20x the examples (not part of `test`)
fuzz: setup-test
	SECPIPE_FUZZ_RANDOM=1 SECPIPE_FUZZ_EXAMPLES=$${SECPIPE_FUZZ_EXAMPLES:-4000} \
	  $(BIN)/pytest -q -p no:cacheprovider tests/scanners/models/test_models_fuzz.py \
	  tests/scanners/secrets/test_secrets_fuzz.py tests/scanners/deps/test_readers_fuzz.py \
	  tests/scanners/iac/*/test_*fuzz.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache $(EXAMPLE)/.secpipe
