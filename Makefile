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

# Deploy a stage to AWS (or to AWS_ENDPOINT_URL): see docs/deployment.md.
.PHONY: deploy package
deploy: $(STAMP)
	$(BIN)/python scripts/deploy.py deploy --stage $(STAGE)

# One CloudFormation/SAM template for the stage, in build/$(STAGE)/package/.
package: $(STAMP)
	$(BIN)/python scripts/deploy.py package --stage $(STAGE)
	$(BIN)/cfn-lint build/$(STAGE)/package/sam.json
# Codacy's Node coverage reporter, for tests/test_reporters.py (project-local,
# gitignored). Best effort: without npm or a registry the test skips.
NODE_STAMP := .node/.installed
NODE_REPORTER := codacy-coverage@3.4.0

$(NODE_STAMP):
	-npm install --prefix .node --no-save --no-audit --no-fund --loglevel=error $(NODE_REPORTER) && touch $(NODE_STAMP)

test: $(NODE_STAMP)

# `make bench`: measure on this machine and rewrite docs/benchmarks.md (a few minutes; not part of `make test`).
.PHONY: bench
bench: $(STAMP)
	$(BIN)/python -m bench.run --json .bench-figures.json

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
