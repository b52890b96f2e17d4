# One command to run, one to test. Each bootstraps .venv (and node_modules when needed) on a
# fresh machine that has only python3 (and node/npm for the AWS test servers).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
ARGS ?= --duration 20 --rate 10000 --window-seconds 5
RUN_DIR ?= data/make-run
AWS_LOCAL_ARGS ?=

.PHONY: run aws-local test lint typecheck unit bench lock clean

# The demo starts afresh each time in its own data dir; query it with --data-dir $(RUN_DIR).
run: $(STAMP)
	rm -rf $(RUN_DIR)
	$(VENV)/bin/taxi-stream run --data-dir $(RUN_DIR) $(ARGS)

# kinesalite and dynalite on 127.0.0.1, the AWS pipeline run on them; stopped on exit.
aws-local: $(STAMP) node_modules/.installed
	$(VENV)/bin/taxi-stream aws local $(AWS_LOCAL_ARGS)

# The browser tests drive Debian's chromium (Playwright's own download does not work here).
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

test: $(STAMP) node_modules/.installed
	$(VENV)/bin/ruff format --check src tests bench
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/mypy
	command -v chromium >/dev/null || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium; }
	$(PY) -m pytest $(PYTEST_ARGS)

unit: $(STAMP)
	$(PY) -m pytest tests/unit $(PYTEST_ARGS)

bench: $(STAMP) node_modules/.installed
	$(PY) bench/run.py $(BENCH_ARGS)

$(STAMP): requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	$(PY) -m compileall -q src  # as pip does for installed wheels (PYTHONDONTWRITEBYTECODE aside)
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# Re-resolve the pins after editing pyproject.toml or requirements-dev.in.
lock:
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/pip install --quiet -r requirements-dev.in -e .
	.lock-venv/bin/pip freeze --all --exclude pip --exclude-editable --exclude taxi-stream > requirements.lock
	rm -rf .lock-venv

clean:
	rm -rf $(VENV) node_modules build
