# The two set-up commands: `make run` and `make test`. Both bootstrap .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 5000
# The Fedify cross-checks (tests/interop) need Node packages; without npm they are skipped.
INTEROP := tests/interop
INTEROP_STAMP := $(INTEROP)/node_modules/.installed
NPM := $(shell command -v npm 2>/dev/null)

.PHONY: run test test-deps lint bench demo clean

# Installer output goes to $(INSTALL_LOG), shown only if the install fails, so that what
# `make run` prints last is the node's address (and its setup link), not pip's chatter.
INSTALL_LOG := $(VENV)/install.log

$(STAMP): pyproject.toml
	@echo "Installing Branchline into $(VENV) (details in $(INSTALL_LOG))..."
	@$(PYTHON) -m venv $(VENV)
	@{ $(BIN)/python -m pip install --quiet --upgrade pip \
	  && $(BIN)/python -m pip install --quiet -e '.[postgres,server,test]'; } \
	  > $(INSTALL_LOG) 2>&1 || { cat $(INSTALL_LOG); exit 1; }
	@touch $(STAMP)

$(INTEROP_STAMP): $(INTEROP)/package.json $(INTEROP)/package-lock.json
	npm ci --prefix $(INTEROP) --no-audit --no-fund
	touch $@

run: $(STAMP)
	@$(BIN)/branchline db upgrade > $(VENV)/upgrade.log 2>&1 || { cat $(VENV)/upgrade.log; exit 1; }
	@$(BIN)/branchline run --host $(HOST) --port $(PORT)

# What the tests need installed: .ci/run builds it once before running its two passes.
test-deps: $(STAMP) $(if $(NPM),$(INTEROP_STAMP))

test: test-deps
	$(BIN)/ruff check node federation schemas tests bench deploy
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python bench/pages.py

# Four group nodes and a national aggregator on 127.0.0.1 until Ctrl-C (deploy/demo.py).
demo: $(STAMP)
	$(BIN)/python deploy/demo.py

clean:
	rm -rf $(VENV) instance .demo .pytest_cache $(INTEROP)/node_modules
