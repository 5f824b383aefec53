# latchkey. The two commands a newcomer needs:
#   make run    the whole service on 127.0.0.1 (API :8000, AWS endpoint :4566)
#   make test   static checks and every test
# `make` alone (or `make help`) lists every target. Each target installs what
# it needs into .venv on first use: `make run` only the service and its local
# endpoint (requirements-run.txt), `make test` the development tools too.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
RUN_STAMP := $(VENV)/.installed-run
DEV_STAMP := $(VENV)/.installed-dev
STAGE ?= dev
# A custom domain for `make deploy` / `make package` (docs/deployment.md):
#   make package STAGE=prod DOMAIN_NAME=latchkey.example.com CERTIFICATE_ARN=arn:aws:acm:...
DOMAIN_NAME ?=
CERTIFICATE_ARN ?=
DOMAIN_ARGS = --domain-name "$(DOMAIN_NAME)" --certificate-arn "$(CERTIFICATE_ARN)"
PORT ?= 8000
LOCAL_AWS_PORT ?= 4566
HOST ?= 127.0.0.1
# `make deploy` paths: stack (one CloudFormation stack, the default) or chalice.
DEPLOY_PATH ?= stack

# Codacy's Node coverage reporter, for tests/test_reporters.py (project-local,
# gitignored). Best effort: without npm or its registry that test skips.
NODE_STAMP := .node/.installed
NODE_REPORTER := codacy-coverage@3.4.0

# Debian's Chromium for the console's browser tests (Playwright drives it by
# its path; `playwright install` downloads browsers and cannot work here).
CHROMIUM := /usr/bin/chromium

.DEFAULT_GOAL := help
.PHONY: help install install-dev run test test-fast lint audit bench deploy package clean

help: ## List the targets (this text)
	@echo "latchkey: make run, then make test. Targets:"
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  make %-12s %s\n", $$1, $$2}' $(MAKEFILE_LIST)
	@echo "Settings: STAGE=$(STAGE) PORT=$(PORT) LOCAL_AWS_PORT=$(LOCAL_AWS_PORT) HOST=$(HOST) DEPLOY_PATH=$(DEPLOY_PATH)"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(RUN_STAMP): requirements.txt requirements-run.txt | $(BIN)/python
	@echo "Installing the service and its local AWS endpoint into $(VENV) (requirements-run.txt:"
	@echo "Chalice, PynamoDB, moto; about 160 MB, a minute or two on a first start)..."
	$(BIN)/pip install --quiet -r requirements-run.txt
	@touch $(RUN_STAMP)

$(DEV_STAMP): $(RUN_STAMP) requirements-dev.txt
	@echo "Installing the development tools into $(VENV) (requirements-dev.txt: pytest, linters,"
	@echo "cfn-lint, Playwright...; about 400 MB more, a few minutes the first time)..."
	$(BIN)/pip install --quiet -r requirements-dev.txt
	@touch $(DEV_STAMP)

$(NODE_STAMP):
	-npm install --prefix .node --no-save --no-audit --no-fund --loglevel=error $(NODE_REPORTER) && touch $(NODE_STAMP)

$(CHROMIUM):
	@if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	else sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; fi

install: $(RUN_STAMP) ## Install what make run needs into .venv
install-dev: $(DEV_STAMP) ## Install the development tools too

run: $(RUN_STAMP) ## The whole service on HOST:PORT with its AWS endpoint on LOCAL_AWS_PORT
	$(BIN)/python scripts/run_local.py --stage $(STAGE) --host $(HOST) --port $(PORT) --aws-port $(LOCAL_AWS_PORT)

test: lint $(NODE_STAMP) $(CHROMIUM) ## Static checks, then every test (installs Debian's Chromium if missing)
	$(BIN)/python -m pytest -q

test-fast: $(DEV_STAMP) ## Every test but those marked slow, e2e or browser, on every core (under 2 min)
	$(BIN)/python -m pytest -q -n auto -m "not slow and not e2e and not browser"

lint: $(DEV_STAMP) ## ruff, bandit (every nosec says why) and mypy of chalicelib/, app.py, manage.py, scripts/, infra/
	$(BIN)/ruff check .
	$(BIN)/bandit -q -c pyproject.toml -r chalicelib app.py manage.py scripts infra
	$(BIN)/mypy

audit: $(DEV_STAMP) ## Known vulnerabilities in the installed dependencies (skips offline)
	$(BIN)/python scripts/audit.py

bench: $(DEV_STAMP) ## Measure on this machine and rewrite docs/benchmarks.md (minutes)
	$(BIN)/python -m bench.run --json .bench-figures.json

deploy: $(DEV_STAMP) ## Deploy STAGE to AWS (or AWS_ENDPOINT_URL); DEPLOY_PATH=stack|chalice, docs/deployment.md
	$(BIN)/python scripts/deploy.py deploy --stage $(STAGE) --path $(DEPLOY_PATH) $(DOMAIN_ARGS)

package: $(DEV_STAMP) ## One CloudFormation template for STAGE in build/STAGE/package/, cfn-lint checked
	$(BIN)/python scripts/deploy.py package --stage $(STAGE) $(DOMAIN_ARGS)
	$(BIN)/cfn-lint build/$(STAGE)/package/sam.json

clean: ## Remove .venv, .node and build output (not .local/, the data of make run)
	rm -rf $(VENV) .node .pytest_cache .hypothesis build
