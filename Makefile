# movierec: `make up` runs the whole system locally, `make test` runs every test. `make help` lists all.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help install up down status test lock clean bench-ingest bench-recommend test-unit bench-train bench-reliability bench-journal bench-scaling chromium dashboard bench-first-start

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

$(BIN)/pip:  # pip comes last in venv creation: an interrupted creation is redone
	rm -rf $(VENV) && $(PYTHON) -m venv $(VENV)

# torch first, as the CPU build (a bare torch requirement would pull a multi-GB CUDA build); then the rest,
# pinned by constraints.txt; then this project, editable.
$(STAMP): $(BIN)/pip constraints.txt requirements-dev.txt functions/ingest/requirements.txt functions/recommend/requirements.txt pyproject.toml
	$(BIN)/pip install --quiet --disable-pip-version-check "pip<26.3"
	$(BIN)/pip install --quiet --disable-pip-version-check torch==2.13.0
	$(BIN)/pip install --quiet --disable-pip-version-check -c constraints.txt -r requirements-dev.txt
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $(STAMP)

install: $(STAMP) chromium ## create .venv and install the pinned dependencies (only when they changed), and chromium

up: install ## start the whole local system in the foreground; Ctrl-C stops what it started
	$(BIN)/movierec up

down: ## stop every local service (moto, tansu, API) left running
	@if [ -x $(BIN)/movierec ]; then $(BIN)/movierec down; else echo "nothing installed, nothing running"; fi

status: install ## each local component, its address and whether it answers
	$(BIN)/movierec status

# The dashboard test drives the OS's Chromium (tests/integration/test_dashboard_browser.py). Installed from the
# distribution's packages when missing and we are root (CI is); otherwise the test says what is missing.
chromium: ## install chromium and chromium-driver (Debian packages) when missing, for the dashboard test
	@if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing chromium and chromium-driver (apt-get)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; \
	else echo "chromium/chromedriver missing and not root: the dashboard browser test will be skipped (apt-get install chromium chromium-driver)"; fi

dashboard: install ## serve the live dashboard page on 127.0.0.1:3000 (charts from CloudWatch, alarm states)
	$(BIN)/movierec dashboard

test: install ## install, then run the whole test suite (starts and stops the services it needs)
	$(BIN)/python -m pytest --cov --cov-report=term:skip-covered $(PYTEST_ARGS)

test-unit: install ## the fast part: tests/unit (no services; under a minute)
	$(BIN)/python -m pytest -q tests/unit $(PYTEST_ARGS)

lock: install ## rewrite constraints.txt from the installed environment, then the functions' pinned requirements
	@{ head -2 constraints.txt; $(BIN)/pip freeze --exclude-editable | sed 's/^torch==\(.*\)+cpu$$/torch==\1/'; } > constraints.tmp && mv constraints.tmp constraints.txt
	$(BIN)/python -m infra.requirements_gen

bench-recommend: install ## recommend latency, cold start, starting-design ratio, index reader (Lance vs Arrow IPC), then the 100k-request soak
	$(BIN)/python bench/recommend.py && $(BIN)/python bench/index_format.py && $(BIN)/python bench/soak.py

bench-ingest: install ## ingest: parser lines/s, then Kafka (tansu) -> DynamoDB (moto) events/s on its own stack
	$(BIN)/python bench/ingest.py

bench-train: install ## ranker v2: training time, rank latency, then HTTP latency with v2 serving on its own stack
	$(BIN)/python bench/train.py --http 1000

bench-reliability: install ## chaos and load: poller SIGKILLs, broker and storage restarts, 100 clients, 300 slow ones (CHAOS_ARGS="--quick")
	$(BIN)/python bench/chaos.py $(CHAOS_ARGS)

bench-scaling: install ## ingest with 1, 2, 4 worker processes (events/s, item writes/event, CPU by process), then the capacity plan (docs/scaling.md)
	$(BIN)/python bench/scaling.py --json reports/scaling.json && $(BIN)/python bench/capacity.py --measured reports/scaling.json

bench-first-start: install ## a first `movierec up` from a cold run folder and empty embedding cache: seconds to the first 200, to the first collaborative answer, and Ctrl-C to exit
	$(BIN)/python bench/first_start.py

bench-journal: install ## moto's write journal: PutItem rate with and without it, journal size, restart (replay) time, compaction; then read latency while it compacts
	$(BIN)/python bench/moto_journal.py --items 1000
	$(BIN)/python bench/moto_journal.py --while-compacting

clean: down ## remove the run folder, caches and untracked reports (keeps .venv and the tracked offline reports)
	rm -rf .run .pytest_cache htmlcov .coverage
	git clean -fqX -- reports  # the reports' untracked outputs; the tracked offline reports stay
