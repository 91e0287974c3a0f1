# creneau — two commands: `make run` and `make test`.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
PG_TEST_URL ?= postgresql://postgres@127.0.0.1:5432/creneau
# Find a Python >= 3.12 (Django 6 needs it): PATH first, then pyenv's versions.
PYTHON_BOOT := $(shell for c in python3.13 python3.12 python3 $$HOME/.pyenv/versions/3.13*/bin/python $$HOME/.pyenv/versions/3.12*/bin/python /usr/local/bin/python3.1[23] /usr/bin/python3.1[23]; do \
	p=$$(command -v $$c 2>/dev/null) || continue; \
	$$p -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' 2>/dev/null && { echo $$p; break; }; done)

# Dependencies: uv.lock (every file hashed; runtime, dev and bench groups, see pyproject.toml) installed by
# uv, itself a pinned, hash-checked download from PyPI into .tools/ when missing. `make UV=uv` uses yours.
UV_DIR := .tools
UV ?= $(UV_DIR)/bin/uv
UV_DEP := $(if $(filter $(UV_DIR)/bin/uv,$(UV)),$(UV_DIR)/bin/uv)
export UV_PYTHON_DOWNLOADS := never
export UV_LINK_MODE := copy

.PHONY: run test test-sqlite test-postgres test-tools lint typecheck bench venv migrate seed clean lock worker

$(UV_DIR)/bin/uv: requirements/uv.txt
	@test -n "$(PYTHON_BOOT)" || { echo "No Python >= 3.12 found (tried PATH and ~/.pyenv/versions)."; exit 1; }
	@test -x $(UV_DIR)/bin/python || $(PYTHON_BOOT) -m venv $(UV_DIR)
	$(UV_DIR)/bin/python -m pip install -q --disable-pip-version-check --require-hashes --no-deps -r requirements/uv.txt
	@touch $@

# The runtime, dev and bench groups exactly as locked (--locked: refuses a lock that pyproject.toml has outgrown),
# the project itself editable.
$(VENV)/.installed: uv.lock pyproject.toml $(UV_DEP)
	@test -n "$(PYTHON_BOOT)" || { echo "No Python >= 3.12 found (tried PATH and ~/.pyenv/versions)."; exit 1; }
	$(UV) sync --locked --python $(PYTHON_BOOT)
	@touch $@

venv: $(VENV)/.installed

migrate: venv
	@mkdir -p var
	$(PY) manage.py migrate --noinput

seed: migrate
	$(PY) manage.py seed_demo --if-empty

run: seed
	$(PY) manage.py compilemessages --ignore=.venv -v 0 || true
	@# The background worker (tasks, e-mails, SMS, reminders, waiting list) lives as long as the server.
	@$(PY) manage.py notifications_worker & worker=$$!; \
	trap 'kill $$worker 2>/dev/null; wait $$worker 2>/dev/null' EXIT INT TERM; \
	$(PY) manage.py runserver 127.0.0.1:8000

# The worker alone (production runs one or more of these next to the web processes).
worker: migrate
	$(PY) manage.py notifications_worker

# Test tools from npm, exactly as locked (tests/fhir_validator/package-lock.json, integrity-checked): the HL7
# FHIR R4 JSON schema every FHIR answer is validated against, and fhir-kit-client (a partner flow).
FHIR_TOOLS := tests/fhir_validator
$(FHIR_TOOLS)/node_modules/.package-lock.json: $(FHIR_TOOLS)/package.json $(FHIR_TOOLS)/package-lock.json
	@command -v npm >/dev/null || { echo "npm not found (Debian: apt-get install nodejs npm)."; exit 1; }
	npm ci --prefix $(FHIR_TOOLS) --ignore-scripts --no-audit --no-fund --loglevel=error
	@touch $@

test-tools: $(FHIR_TOOLS)/node_modules/.package-lock.json

# Whole suite on SQLite, then again on PostgreSQL. Under CI=true the PostgreSQL pass is mandatory.
test: venv test-tools lint typecheck test-sqlite test-postgres

test-sqlite: venv test-tools
	@mkdir -p var test-artifacts
	env -u DATABASE_URL $(PY) -m pytest -n 2 -p no:cacheprovider

test-postgres: venv test-tools
	@mkdir -p var test-artifacts
	@# The suite runs as a runtime role (INSERT/SELECT only on the audit tables); migrations and test
	@# databases as an owner role; attack scenarios as the superuser of PG_TEST_URL. The roles are created
	@# on the local server if missing (scripts/pg_test_roles.py).
	@if [ "$$CI" = "true" ] || $(PY) -c "import psycopg,sys; psycopg.connect('$(PG_TEST_URL)'.rsplit('/',1)[0]+'/postgres', connect_timeout=2).close()" 2>/dev/null; then \
		roles=$$($(PY) scripts/pg_test_roles.py '$(PG_TEST_URL)') || exit 1; \
		env $$roles CRENEAU_REQUIRE_POSTGRES=1 $(PY) -m pytest -n 2 -p no:cacheprovider; \
	else echo "PostgreSQL not reachable at $(PG_TEST_URL): PostgreSQL pass skipped (it is mandatory under CI=true)."; fi

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports --no-cache

typecheck: venv
	$(VENV)/bin/mypy creneau config tests

bench: venv
	$(PY) -m bench.run

# After editing dependencies in pyproject.toml: re-resolve (other pins kept), then export the runtime alone.
# Move pins on purpose with LOCK_ARGS="--upgrade-package django" or LOCK_ARGS=--upgrade.
lock: $(UV_DEP)
	$(UV) lock --python $(PYTHON_BOOT) $(LOCK_ARGS)
	$(UV) export --frozen --no-default-groups --no-emit-project --format requirements-txt \
		--output-file requirements/runtime.txt --quiet

clean:
	rm -rf $(VENV) $(UV_DIR) var test-artifacts $(FHIR_TOOLS)/node_modules
