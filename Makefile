# latchkey. The two commands a newcomer needs:
#   make run    the whole service on 127.0.0.1 (API :8000, AWS endpoint :4566)
#   make test   static checks and every test
# Both create .venv and install what they need on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
STAGE ?= dev

# Codacy's Node coverage reporter, for tests/test_reporters.py (project-local,
# gitignored). Best effort: without npm or its registry that test skips.
NODE_STAMP := .node/.installed
NODE_REPORTER := codacy-coverage@3.4.0

# Debian's Chromium for the console's browser tests (Playwright drives it by
# its path; `playwright install` downloads browsers and cannot work here).
CHROMIUM := /usr/bin/chromium

.PHONY: install run test test-fast lint audit bench deploy package clean

$(STAMP): requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

$(NODE_STAMP):
	-npm install --prefix .node --no-save --no-audit --no-fund --loglevel=error $(NODE_REPORTER) && touch $(NODE_STAMP)

$(CHROMIUM):
	@if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	else sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; fi

install: $(STAMP)

run: $(STAMP)
	$(BIN)/python scripts/run_local.py --stage $(STAGE)

test: lint $(NODE_STAMP) $(CHROMIUM)
	$(BIN)/python -m pytest -q

# The quick loop: everything but the tests marked slow, e2e or browser.
test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow and not e2e and not browser"

# Lint, security lint (every `# nosec` says why) and a type check of chalicelib/.
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/bandit -q -c pyproject.toml -r chalicelib app.py manage.py scripts
	$(BIN)/mypy

# Known vulnerabilities in the installed dependencies; skips (exit 0) when
# the advisory service cannot be reached.
audit: $(STAMP)
	$(BIN)/python scripts/audit.py

# Measure on this machine and rewrite docs/benchmarks.md (a few minutes).
bench: $(STAMP)
	$(BIN)/python -m bench.run --json .bench-figures.json

# Deploy a stage to AWS (or to AWS_ENDPOINT_URL): see docs/deployment.md.
deploy: $(STAMP)
	$(BIN)/python scripts/deploy.py deploy --stage $(STAGE)

# One CloudFormation/SAM template for the stage, in build/$(STAGE)/package/.
package: $(STAMP)
	$(BIN)/python scripts/deploy.py package --stage $(STAGE)
	$(BIN)/cfn-lint build/$(STAGE)/package/sam.json

clean:
	rm -rf $(VENV) .node .pytest_cache .hypothesis build
