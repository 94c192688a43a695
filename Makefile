# benhan — every dependency is installed by these targets; nothing is installed by hand.
SHELL := /bin/bash
PYTHON ?= python3.11
UV_VERSION := 0.13.8
UV := .venv-uv/bin/uv
VENV := .venv
PY := $(VENV)/bin/python
PYTEST := $(VENV)/bin/pytest
EXTERNAL_DB ?= $(TEST_DATABASE_URL)


.PHONY: help install demo serve test lint typecheck unit integration e2e bench bench-full clean browsers loadtools guide-images assets

help:
	@echo "make demo   install everything, load the demo province and serve http://127.0.0.1:8000"
	@echo "make test   run every check and test (lint, types, layers, unit, integration, e2e)"
	@echo "make bench  quick benchmark (~3 min); make bench-full: 10,000 patients (~35 min)"

$(UV):
	$(PYTHON) -m venv .venv-uv
	.venv-uv/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(VENV)/.synced: $(UV) pyproject.toml uv.lock
	$(UV) sync --frozen --python $(PYTHON) --quiet
	@touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

install: $(VENV)/.synced node_modules/.installed assets

# Web assets: vendor JS from node_modules into src/benhan/web/static/vendor, gettext .po -> .mo (both gitignored).
assets: $(VENV)/.synced node_modules/.installed
	$(PY) tools/build_web.py

# Debian's Chromium for the end-to-end tests (browser downloads do not work on CI machines).
browsers:
	@if [ ! -x /usr/bin/chromium ]; then \
		if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; \
		else sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; fi; \
	fi

# wrk (Debian) drives the single-request benchmark workloads; bench/wrk.py says why.
loadtools:
	@if ! command -v wrk >/dev/null; then \
		if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; \
		else sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; fi; \
	fi

demo: install
	$(VENV)/bin/benhan demo

serve: install
	$(VENV)/bin/benhan serve

lint: install
	$(VENV)/bin/ruff check src tests tools bench migrations
	$(VENV)/bin/lint-imports --no-cache

typecheck: install
	$(VENV)/bin/mypy

unit: install
	$(PYTEST) tests/unit -q

# Integration tests against the embedded PostgreSQL and, when TEST_DATABASE_URL is set, against that server.
# The two runs go side by side (each ~50 % database-bound; one after the other took 16.6 min of an 18-min
# `make test` on a slow 2-core VM): the external run's output is kept in var/ and shown when both are done.
integration: install loadtools
	@mkdir -p var; ext=; \
	if [ -n "$(EXTERNAL_DB)" ]; then \
	  echo "integration against $(EXTERNAL_DB): in the background, output in var/integration-external.log"; \
	  TEST_DATABASE_URL="$(EXTERNAL_DB)" $(PYTEST) tests/integration -q -p no:cacheprovider \
	    > var/integration-external.log 2>&1 & ext=$$!; \
	fi; \
	echo "integration against the embedded PostgreSQL:"; \
	env -u TEST_DATABASE_URL $(PYTEST) tests/integration -q; embedded=$$?; external=0; \
	if [ -n "$$ext" ]; then \
	  wait $$ext; external=$$?; \
	  echo "integration against $(EXTERNAL_DB):"; cat var/integration-external.log; \
	fi; \
	[ $$embedded -eq 0 ] && [ $$external -eq 0 ]

e2e: install browsers
	$(PYTEST) tests/e2e -q

test: lint typecheck unit integration e2e

bench: install loadtools
	$(PY) -m bench.run --quick

bench-full: install loadtools
	$(PY) -m bench.run --full

clean:
	rm -rf $(VENV) .venv-uv node_modules .pytest_cache .mypy_cache .ruff_cache

# Refresh the screenshots of docs/guide from the end-to-end journeys.
guide-images: install browsers
	BENHAN_UPDATE_GUIDE=1 $(PYTEST) tests/e2e -q
