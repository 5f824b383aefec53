# Latchkey: `make run` serves everything locally, `make test` tests it.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
STAGE ?= dev

.PHONY: run test lint clean

$(STAMP): requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/python scripts/run_local.py --stage $(STAGE)

test: $(STAMP)
	$(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis

# `make bench`: measure on this machine and rewrite docs/benchmarks.md (a few minutes; not part of `make test`).
.PHONY: bench
bench: $(STAMP)
	$(BIN)/python -m bench.run --json .bench-figures.json
