# Developer and CI entry points. Needs only python3, git and make on the machine:
# everything else is installed into .venv from pyproject.toml.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# Stamp file: reinstall only when pyproject.toml changes, not on every make run.
STAMP := $(VENV)/.installed

PYTEST_ARGS ?= -n 2 --dist loadgroup -p no:cacheprovider
RUNALL_ARGS ?=

.PHONY: venv run test bench lint clean distclean

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# Demo data, then web + worker + beat (+ embedded Redis when REDIS_URL is unset).
# Translations ship compiled (.mo), so no compilemessages step.
run: venv
	$(PY) manage.py migrate --noinput
	$(PY) manage.py load_demo
	$(PY) manage.py runall $(RUNALL_ARGS)

# Without Chromium the browser tests are skipped locally (tests/e2e/conftest.py); say so once, loudly.
test: venv
	@test -x /usr/bin/chromium || [ "$$CI" = true ] || echo "!!! browser tests SKIPPED: Chromium is not installed; install it with 'apt-get install chromium' (CI requires them) !!!"
	$(PY) -m pytest $(PYTEST_ARGS)

# The bench command may not exist yet; say so instead of failing with a Django traceback.
# The benchmarks use the development database: migrate it first (a fresh clone has none).
# ARGS picks and sizes them, e.g. make bench ARGS="--only federation --clusters 100 --resources 1000"
# (manage.py bench --help lists every option).
ARGS ?=
bench: venv
	@if $(PY) manage.py help bench >/dev/null 2>&1; then \
		$(PY) manage.py migrate --noinput -v 0 && $(PY) manage.py bench $(ARGS); \
	else \
		echo "bench: no 'bench' management command yet"; \
	fi

lint: venv
	$(PY) -m ruff check .

# Caches and build output only: var/ (the dev database, embedded Redis) and .venv survive.
clean:
	find . -path ./$(VENV) -prune -o -type d -name __pycache__ -exec rm -rf {} +
	rm -rf .pytest_cache .ruff_cache build *.egg-info test-results

distclean: clean
	rm -rf $(VENV) var
