# Every target builds .venv from pyproject.toml when it is missing or older than it.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test lint format typecheck imports docs docs-check sync sync-check pytest pytest-h11 cov test-matrix clean bench bench-quick soak

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/python examples/tour.py

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

typecheck: $(STAMP)
	$(BIN)/mypy sdk_core sdk_transports

imports: $(STAMP)
	$(BIN)/lint-imports

pytest: $(STAMP)
	$(BIN)/pytest -q

# The docs' state diagram is generated from sdk_core.TRANSITIONS; docs-check fails on drift.
docs: $(STAMP)
	$(BIN)/python scripts/call_diagram.py

docs-check: $(STAMP)
	$(BIN)/python scripts/call_diagram.py --check

# The sync twins are generated from the async sources that carry a `# unasync: <target>`
# marker (scripts/unasync.py); sync-check fails when a committed sync file is stale.
sync: $(STAMP)
	$(BIN)/python scripts/unasync.py

sync-check: $(STAMP)
	$(BIN)/python scripts/unasync.py --check --diff

# The transport suites again with httptools hidden, as a plain `pip install` runs them:
# every transport reads with the h11 codec (the main run has the llhttp one).
H11_SUITES := tests/transports/test_codec_in_use.py tests/conformance/test_transport_conformance.py \
	tests/conformance/test_stream_conformance.py tests/conformance/test_failure_catalogue.py \
	tests/transports/test_h11_transports.py tests/transports/test_h11_timeouts.py \
	tests/transports/test_h11_responses.py tests/transports/test_h11_fault_table.py

pytest-h11: $(STAMP)
	SDK_TESTS_WITHOUT_HTTPTOOLS=1 $(BIN)/pytest -q $(H11_SUITES)

test: lint typecheck imports docs-check sync-check pytest pytest-h11 cov

# 100 % branch coverage of sdk_core from tests/core, or the target fails.
cov: $(STAMP)
	$(BIN)/coverage run -m pytest -q tests/core
	$(BIN)/coverage report

# Runs the suite on every Python from 3.10 to 3.13 that pyenv (or PATH) has.
test-matrix:
	@set -e; for v in 3.10 3.11 3.12 3.13; do \
	  py=$$(pyenv prefix $$v 2>/dev/null | head -1)/bin/python3; \
	  [ -x "$$py" ] || py=$$(command -v python$$v || true); \
	  if [ -z "$$py" ] || [ ! -x "$$py" ]; then echo "== Python $$v: not found, skipped"; continue; fi; \
	  echo "== Python $$v ($$py)"; \
	  $(MAKE) --no-print-directory VENV=.venv-$$v PYTHON=$$py pytest; \
	done

clean:
	rm -rf $(VENV) .venv-3.* .mypy_cache .ruff_cache .coverage build dist

# Benchmarks, never part of `make test`: this project against httpx, httpx2, aiohttp,
# urllib3 and requests on a private nginx (installed with apt-get when missing).
# Writes docs/benchmarks/; `make bench BENCH_ARGS="--suites sync,async"` to pick suites.
BENCH_STAMP := $(VENV)/.bench-installed

$(BENCH_STAMP): $(STAMP) pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)
	$(BIN)/python benchmarks/run.py $(BENCH_ARGS)

# About two minutes: fewer requests and rounds.
bench-quick: $(BENCH_STAMP)
	$(BIN)/python benchmarks/run.py --quick $(BENCH_ARGS)

# The soak, never part of `make test`: SOAK_CALLS mixed calls per (transport, loop)
# through a fault-injecting proxy in front of hypercorn; prints a table, fails on a
# broken invariant (see soak/__main__.py). About 3.5 minutes at the full size (2 cores).
SOAK_CALLS ?= 10000

soak: $(STAMP)
	SOAK_CALLS=$(SOAK_CALLS) $(BIN)/python -m soak --calls $(SOAK_CALLS)
