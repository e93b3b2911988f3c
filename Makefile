# cdc-engine developer targets. `make test` is the canonical test command.

VENV   ?= .venv
PYTHON := $(VENV)/bin/python
# Lint only the source packages that exist (some may not be created yet).
LINT_PKGS := $(wildcard cdc schemas snapshot sinks servers)

.PHONY: setup test demo lint bench bench-doc-sinks

setup:
	bash scripts/bootstrap.sh

test: setup
	$(PYTHON) -m pytest -q -rs tests

demo: setup
	$(PYTHON) -m cdc.demo

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy $(LINT_PKGS)

bench: setup
	$(PYTHON) bench/pg_throughput.py

# N change events → MongoDB / Elasticsearch / OpenSearch sink tasks vs the same server's raw bulk write.
bench-doc-sinks: setup
	$(PYTHON) bench/doc_sinks.py
