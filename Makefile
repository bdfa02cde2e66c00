# Two commands for a fresh clone: `make repro` runs the pipeline, `make test` runs the tests.
# Both create .venv (if missing) and install the pinned dependencies first.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install repro lint test test-fast bench clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# The tests' headless Chromium and its driver, from npm (tests/browser/package-lock.json).
BROWSER_STAMP := tests/browser/node_modules/.installed-stamp
$(BROWSER_STAMP): tests/browser/package.json tests/browser/package-lock.json
	npm ci --prefix tests/browser --silent --no-audit --no-fund
	touch $(BROWSER_STAMP)

repro: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/dvc repro

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache

# Two lanes of tests, both on two workers that each take whole files. `make test` (what CI runs)
# runs every test. `make test-fast` (under 3 minutes on two cores) leaves out the end-to-end tests
# (marker e2e: each copies the project into its own git + DVC repository and runs its commands;
# tests/conftest.py marks every test that asks for make_project) and the slow ones (marker slow,
# set by hand: a recipe trained to its quality floor, every family or trick in turn).
PYTEST := PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m pytest -n 2 --dist loadfile

test: lint $(BROWSER_STAMP)
	$(PYTEST)

test-fast: lint $(BROWSER_STAMP)
	$(PYTEST) -m "not e2e and not slow"

bench: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python benchmarks/run_all.py

# `dvc exp show` narrowed to what tells runs apart, about 100 columns: the experiment, its epochs,
# the validation and test headline metrics of the family that ran (only those present show), the
# family and the learning rate. RUNS_KEEP adds columns by name (a regular expression), e.g.
# make runs RUNS_KEEP='tricks\..*|model\.hidden'
RUNS_COLUMNS := Experiment|epochs|val_acc|val_loss|accuracy|elbo|model\.family|optimizer\.lr
RUNS_KEEP ?=
.PHONY: runs
runs:
	@PATH="$(CURDIR)/$(BIN):$$PATH" dvc exp show --no-pager --drop '.*' \
		--keep '^($(RUNS_COLUMNS)$(if $(RUNS_KEEP),|$(RUNS_KEEP)))$$'

clean:
	rm -rf data/prepared models metrics plots exported checkpoints lightning_logs mlruns mlflow.db
