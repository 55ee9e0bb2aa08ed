# The verbs of the project. Each bootstraps what it needs, idempotently:
# a second run installs nothing (the stamp is newer than pyproject.toml).
SHELL := /bin/bash
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
	command -v $$p >/dev/null && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null \
	&& { echo $$p; break; }; done)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.starbrain-installed
PIP := $(BIN)/python -m pip --disable-pip-version-check
PYTEST_ARGS ?=

.PHONY: run test test-all bench lint fmt clean setup serve debian-deps

# the web console's third-party files (three.js, coastlines, Swagger UI) from the npm registry,
# checked against pinned sha512 sums, into a git-ignored folder
VENDOR := src/starbrain/console/static/vendor/VERSIONS

setup: $(STAMP) $(VENDOR)

$(VENDOR): src/starbrain/console/frontend/fetch_vendor.sh
	bash $<
	@touch $@

# Debian packages the tests need (chromium for the console's browser tests); a no-op when present
debian-deps:
	@bash scripts/install-debian-deps.sh

$(STAMP): pyproject.toml constraints.txt
	@test -n "$(PYTHON)" || { echo "starbrain needs Python >= 3.11 on PATH"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "installing starbrain and its dependencies into $(VENV) (once)"
	@# torch first, pinned: a lean CPU build; pip then finds the range satisfied.
	$(PIP) install -q -c constraints.txt torch
	$(PIP) install -q -c constraints.txt -e '.[dev,plots]'
	@touch $(STAMP)

BENCH_STAMP := $(VENV)/.starbrain-bench-installed
$(BENCH_STAMP): $(STAMP) bench/requirements.txt
	@# benchmark peers, some GPL-licensed: installed for measurement only, never imported by src/
	$(PIP) install -q -c constraints.txt -r bench/requirements.txt
	@touch $(BENCH_STAMP)

run: $(STAMP) $(VENDOR)
	$(BIN)/starbrain demo

serve: $(STAMP) $(VENDOR)
	$(BIN)/starbrain serve

test: $(STAMP) $(VENDOR) debian-deps
	$(BIN)/ruff check src tests bench
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-all: $(STAMP) $(VENDOR) debian-deps
	$(BIN)/python -m pytest -m '' $(PYTEST_ARGS)

bench: $(BENCH_STAMP)
	@for b in bench/[!_]*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy src

fmt: $(STAMP)
	$(BIN)/ruff check --fix src tests bench
	$(BIN)/ruff format src tests bench

clean:
	rm -rf $(VENV) starbrain-data .pytest_cache .ruff_cache .mypy_cache
