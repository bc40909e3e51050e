# Two commands set everything up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run serve test test-postgres test-fuzz bench bench-quick bench-postgres bench-quick-postgres install migrate clean

$(BIN)/python:
	$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "Python 3.11 or newer is needed")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Reinstalls only when a requirements file changed.
$(VENV)/.installed: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed

migrate: install
	DJANGO_DEBUG=$${DJANGO_DEBUG:-1} $(BIN)/python manage.py migrate --noinput

# Local development server on SQLite (db.sqlite3), with DEBUG on unless told otherwise.
run: migrate
	DJANGO_DEBUG=$${DJANGO_DEBUG:-1} $(BIN)/python manage.py runserver $(HOST):$(PORT)

# Production server: gunicorn, DEBUG off (needs DJANGO_SECRET_KEY and DJANGO_ALLOWED_HOSTS;
# see "Production" in the README). Workers, threads and bind address from the environment.
serve: install
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0
	DJANGO_DEBUG=0 $(BIN)/gunicorn -c python:pocketpaw.gunicorn_conf pocketpaw.wsgi

test: install
	$(BIN)/python -m pytest

# The same suite on a throwaway PostgreSQL server, installed from Debian's packages if missing.
test-postgres: install
	scripts/with-postgres.sh $(BIN)/python -m pytest

# Schema fuzzing with schemathesis; FUZZ_EXAMPLES bounds the examples per operation.
test-fuzz: install
	$(BIN)/python -m pytest -m fuzz

# The benchmark (bench/run.py): its own database, its own PocketPaw environment;
# writes bench/RESULTS.md and bench/delete-scaling.png. bench-quick is the CI smoke run.
$(VENV)/.bench-installed: bench/requirements.txt $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -r bench/requirements.txt
	touch $@

bench: $(VENV)/.bench-installed
	$(BIN)/python bench/run.py

bench-quick: $(VENV)/.bench-installed
	$(BIN)/python bench/run.py --quick

bench-postgres: $(VENV)/.bench-installed
	scripts/with-postgres.sh $(BIN)/python bench/run.py --output bench/RESULTS-postgres.md --plot bench/delete-scaling-postgres.png

bench-quick-postgres: $(VENV)/.bench-installed
	scripts/with-postgres.sh $(BIN)/python bench/run.py --quick

clean:
	rm -rf $(VENV) .pytest_cache
