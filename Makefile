# cdc-engine developer targets. `make test` is the canonical test command.

VENV   ?= .venv
PYTHON := $(VENV)/bin/python
# Lint only the source packages that exist (some may not be created yet).
LINT_PKGS := $(wildcard cdc schemas snapshot sinks servers)

.PHONY: setup test demo lint bench test-slot-wal soak faults bench-sink conformance bench-mysql bench-doc-sinks

setup:
	bash scripts/bootstrap.sh

# The one test marked slow (1 GB of WAL) runs in `make test-slot-wal`, so that the suite stays within CI's ~20
# minutes on 2 cores.
# The suite mostly waits (server start-up, group joins, engine restarts), so it runs in TEST_WORKERS pytest-xdist
# processes, each with its own servers; `--dist loadfile` keeps a file's tests (and module fixtures) together.
# TEST_WORKERS=0 runs it in one process.
TEST_WORKERS ?= 3
test: setup
	$(PYTHON) -m pytest -q -rs --durations=15 -m 'not slow' -n $(TEST_WORKERS) --dist loadfile tests

demo: setup
	$(PYTHON) -m cdc.demo

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy $(LINT_PKGS)

bench: setup
	$(PYTHON) bench/pg_throughput.py

# Slot safety at full size: 1 GB of WAL from uncaptured tables must leave the slot retaining < 64 MB within 60 s.
test-slot-wal: setup
	CDC_TEST_SLOW=1 $(PYTHON) -m pytest -q -s -m slow tests/integration/test_pg_slot_safety.py

# The fault-injection suite alone (also part of `make test`).
faults: setup
	$(PYTHON) -m pytest -q tests/faults

# 100 SIGKILLs of the engine under continuous mixed writes; prints lost (must be 0) and the duplicate window
# against the stored offsets (docs/reliability.md). About 10-15 minutes.
soak: setup
	$(PYTHON) tests/faults/soak.py --cycles 100

bench-sink: setup
	$(PYTHON) bench/jdbc_sink.py

# The real Debezium 3.6.3 next to the engine on one database; prints matched/total and every difference.
conformance: setup
	$(PYTHON) tests/conformance/runner.py --out $${CONFORMANCE_OUT:-/tmp/cdc-conformance}
	$(PYTHON) tests/conformance/mysql_compare.py

bench-mysql: setup
	$(PYTHON) bench/mysql_throughput.py

# N change events → MongoDB / Elasticsearch / OpenSearch sink tasks vs the same server's raw bulk write.
bench-doc-sinks: setup
	$(PYTHON) bench/doc_sinks.py --only mongodb,elasticsearch
	$(PYTHON) bench/doc_sinks.py --only opensearch --events 20000  # osmem-server takes ~1,000 docs/s
