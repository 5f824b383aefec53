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

# Static checks (not yet part of `make test`): lint, security lint, types.
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/bandit -q -c pyproject.toml -r chalicelib app.py manage.py scripts
	$(BIN)/mypy

# Known vulnerabilities in the installed dependencies; skips (exit 0) when
# the advisory service cannot be reached.
.PHONY: audit
audit: $(STAMP)
	$(BIN)/python scripts/audit.py
