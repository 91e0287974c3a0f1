# creneau — two commands: `make run` and `make test`.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
PG_TEST_URL ?= postgresql://postgres@127.0.0.1:5432/creneau
# Find a Python >= 3.12 (Django 6 needs it): PATH first, then pyenv's versions.
PYTHON_BOOT := $(shell for c in python3.13 python3.12 python3 $$HOME/.pyenv/versions/3.13*/bin/python $$HOME/.pyenv/versions/3.12*/bin/python /usr/local/bin/python3.1[23] /usr/bin/python3.1[23]; do \
	p=$$(command -v $$c 2>/dev/null) || continue; \
	$$p -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' 2>/dev/null && { echo $$p; break; }; done)

.PHONY: run test test-sqlite test-postgres lint typecheck bench venv migrate seed clean lock worker

$(VENV)/.installed: requirements.lock pyproject.toml
	@test -n "$(PYTHON_BOOT)" || { echo "No Python >= 3.12 found (tried PATH and ~/.pyenv/versions)."; exit 1; }
	@test -x $(PY) || $(PYTHON_BOOT) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.lock
	$(PY) -m pip install -q --no-deps -e .
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

# Whole suite on SQLite, then again on PostgreSQL. Under CI=true the PostgreSQL pass is mandatory.
test: venv lint typecheck test-sqlite test-postgres

test-sqlite: venv
	@mkdir -p var test-artifacts
	env -u DATABASE_URL $(PY) -m pytest -n 2 -p no:cacheprovider

test-postgres: venv
	@mkdir -p var test-artifacts
	@if [ "$$CI" = "true" ] || $(PY) -c "import psycopg,sys; psycopg.connect('$(PG_TEST_URL)'.rsplit('/',1)[0]+'/postgres', connect_timeout=2).close()" 2>/dev/null; then \
		DATABASE_URL=$(PG_TEST_URL) CRENEAU_REQUIRE_POSTGRES=1 $(PY) -m pytest -n 2 -p no:cacheprovider; \
	else echo "PostgreSQL not reachable at $(PG_TEST_URL): PostgreSQL pass skipped (it is mandatory under CI=true)."; fi

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: venv
	$(VENV)/bin/mypy creneau config

bench: venv
	$(PY) -m bench.run

lock:
	$(PY) -m pip freeze --exclude-editable | grep -v '^-e' > requirements.lock

clean:
	rm -rf $(VENV) var test-artifacts
