# Two commands: `make run` and `make test`. Everything else is set up by them.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cksum setup.cfg | cut -d' ' -f1)

.PHONY: run test faults lint setup system-deps bench clean

$(STAMP): setup.cfg
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

setup: $(STAMP)

## Start the whole product on embedded PostgreSQL + Redis (data kept in instance/).
run: $(STAMP)
	$(BIN)/python -m messenger.runner

## Install what browser and antivirus tests need, when missing (Debian, as root).
system-deps:
	@sh scripts/system-deps.sh

## Set up, run the gates (lint), then the whole suite.
test: $(STAMP) system-deps lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

## Gates: ruff (style, bugs, import order, complexity), mypy on messenger/, radon complexity <= 15.
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/python scripts/complexity.py

## Only the fault-injection suite (tests/faults/: real processes killed under load); make test runs it too.
faults: $(STAMP) system-deps
	$(BIN)/python -m pytest tests/faults $(PYTEST_ARGS)

## Benchmarks (each prints one JSON line last); slow, bounded, on 127.0.0.1. The panel and reports
## dataset is seeded once per BENCH_SCALE into instance/ (0.1 = 10,000 conversations / 100,000 messages,
## seeded in about a minute; 1 = the issue's 1,000,000 messages, seeded in minutes the first time);
## FANOUT_CLIENTS streams in the fan-out bench (10,000 by default).
BENCH_SCALE    ?= 0.1
FANOUT_CLIENTS ?= 10000
bench: $(STAMP) system-deps
	$(BIN)/python bench/fanout.py --clients $(FANOUT_CLIENTS) --workers 2
	$(BIN)/python bench/chat_load.py
	$(BIN)/python bench/assignment.py
	$(BIN)/python bench/write_throughput.py
	$(BIN)/python bench/commit_ceiling.py
	$(BIN)/python bench/widget_weight.py
	BENCH_SCALE=$(BENCH_SCALE) $(BIN)/python bench/panel_queries.py
	BENCH_SCALE=$(BENCH_SCALE) $(BIN)/python bench/reports.py
	$(BIN)/python bench/webhooks.py

clean:
	rm -rf $(VENV) build *.egg-info
