# The two first commands: `make demo` and `make test`. Each sets up what it needs.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV := .venv
BIN := $(VENV)/bin
# Python 3.13 (.python-version): pyenv's if present, else python3.13 on PATH.
PYTHON ?= $(shell pyenv which python3.13 2>/dev/null || command -v python3.13 2>/dev/null || ls -d $$HOME/.pyenv/versions/3.13*/bin/python3.13 2>/dev/null | tail -n 1)
STAMP := $(VENV)/.installed

help: ## List the targets
	@grep -hE '^[a-z][a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@test -n "$(PYTHON)" || { echo "Python 3.13 not found: install it (pyenv install 3.13) or set PYTHON=/path/to/python3.13" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip uv
# Bytecode compiled at install, as pip does in the Lambda image: without it (uv's default, and
# this machine sets PYTHONDONTWRITEBYTECODE) every process compiles what it imports, which
# took 5.3 of the 7.3 s from a cold process to a ready Lambda handler.
	$(BIN)/python -m uv pip install --quiet --compile-bytecode --python $(BIN)/python -e '.[local,dev,notebooks]'
# The venv's own "python3" kernel spec, which papermill and JupyterLab run notebooks with.
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	@touch $(STAMP)

venv: $(STAMP) ## Create .venv with the package, the local stack and the test tools

demo: $(STAMP) ## A month of data end to end on the local emulators, reports in reports/index.html (~1.5 min; KEEP=1 leaves the stack up)
	$(BIN)/ingest demo $(if $(KEEP),--keep)

# The suite runs in TEST_WORKERS processes (pytest-xdist, whole files per worker), each with its
# own local stack: on 2 cores it took 709 s in one process, 345 s in two plus 110 s for the load
# tests, which run alone after the rest: their four runner processes beside another worker's
# emulators made handler calls slow enough to time out and be retried. Exit code 5 is "no test
# selected".
TEST_WORKERS ?= 2
test: $(STAMP) ## Run the test suite (starts its own emulators; TEST_WORKERS=2 processes)
	@$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile -m "not alone" $(PYTEST_ARGS); rc=$$?; \
	  [ $$rc -eq 0 ] || [ $$rc -eq 5 ] || exit $$rc; \
	  $(BIN)/python -m pytest -m alone $(PYTEST_ARGS); rc=$$?; [ $$rc -eq 0 ] || [ $$rc -eq 5 ] || exit $$rc

test-unit: $(STAMP) ## Only the unit tests: no emulators, in-memory fakes of the ports (under a minute)
	$(BIN)/python -m pytest tests/unit $(PYTEST_ARGS)

lint: $(STAMP) ## ruff check, format check and mypy (strict on ingest.core and ingest.ingestion)
	$(BIN)/ruff check ingest ingest_devstack tests benchmarks
	$(BIN)/ruff format --check ingest ingest_devstack tests benchmarks
	$(BIN)/mypy

up: $(STAMP) ## Start the local stack and print its environment
	$(BIN)/ingest local up

down: $(STAMP) ## Stop the local stack
	$(BIN)/ingest local down

lab: $(STAMP) ## JupyterLab on notebooks/, pointed at the local stack (started if not running)
	@$(BIN)/ingest local status >/dev/null 2>&1 || $(BIN)/ingest local up >/dev/null
	eval "$$($(BIN)/ingest local env)" && export INGEST_LOCAL_DIR="$${INGEST_LOCAL_DIR:-$(CURDIR)/.local}" PATH="$(CURDIR)/$(BIN):$$PATH" \
		&& $(BIN)/jupyter lab --notebook-dir=notebooks $(if $(filter 0,$(shell id -u)),--allow-root) $(LAB_ARGS)

bench: $(STAMP) ## Benchmarks against dlt, pandas-gbq and DuckDB; memory, Lambda, GX; reports/bench/results.json (45-80 min)
	$(BIN)/python -m benchmarks.bench $(BENCH_ARGS)

bench-quick: $(STAMP) ## The same benchmarks at small sizes, 2 runs each (a few minutes)
	$(BIN)/python -m benchmarks.bench --quick $(BENCH_ARGS)

loadtest: $(STAMP) ## Load test on the local stack: 10,000 files delivered 1-3 times, 4 runners, exact accounting (~8 min; LOADTEST_ARGS="--files 1000 --mode backfill")
	$(BIN)/python -m benchmarks.loadtest $(LOADTEST_ARGS)

clean: ## Remove the venv, local stack state and generated reports
	-$(BIN)/ingest local down 2>/dev/null
	rm -rf $(VENV) .local reports/demo reports/batches reports/reconciliation reports/monitoring reports/loadtest reports/bench

.PHONY: help venv demo test test-unit lint up down lab bench bench-quick loadtest clean
