# The two commands of the README: `make run` and `make test`. Both set everything up on a fresh machine.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 5000
HOST ?= 127.0.0.1
export FLASK_APP := lms_service

.PHONY: run test install translations migrate lint typecheck clean

$(VENV)/.installed: setup.cfg
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,dev]'
	touch $@

install: $(VENV)/.installed translations

# Catalogs are compiled at install so a fresh clone shows both languages.
translations: $(VENV)/.installed
	$(BIN)/python -m babel.messages.frontend compile -d lms_service/translations >/dev/null

migrate: install
	$(BIN)/flask db upgrade

# Migrate the SQLite database under instance/, import the bundled modules, load the demo company and
# accounts, then serve on http://$(HOST):$(PORT).
run: migrate
	@if $(BIN)/flask modules --help >/dev/null 2>&1; then $(BIN)/flask modules import modules/; fi
	$(BIN)/flask demo load
	@echo "Serving on http://$(HOST):$(PORT)  (demo accounts: see README.md)"
	$(BIN)/gunicorn "lms_service:create_app()" --bind $(HOST):$(PORT) --workers 2 --threads 4

# axe-core for the accessibility scans in the browser tests (from the npm registry, when npm is there).
tests/browser/node_modules/axe-core/axe.min.js:
	@if command -v npm >/dev/null 2>&1; then sh tests/browser/install-axe.sh; \
	else echo "npm not found: the accessibility scans will be skipped"; fi

test: install tests/browser/node_modules/axe-core/axe.min.js
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check --line-length 120 --select E,F,W,B,I,UP --ignore E501 lms_service xapi tests bench

typecheck: install
	$(BIN)/mypy lms_service xapi

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
