# sdgen site. `make demo` to try it, `make run` on your own results, `make test` to check it.
PYTHON ?= python3
HOST ?= 127.0.0.1
PORT ?= 8000
VENV := .venv
PY := $(VENV)/bin/python
RUNTIME := $(VENV)/.runtime-installed
DEV := $(VENV)/.dev-installed
DEMO_DIR ?= $(CURDIR)/var/demo
DEMO_ENV := SDGEN_DATA_DIR=$(DEMO_DIR) SDGEN_RESULTS_DIR=$(DEMO_DIR)/results
SERVE := $(PY) manage.py serve --host $(HOST) --port $(PORT)

.PHONY: demo run test lint setup bench clean

$(PY):
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else "sdgen site needs Python 3.10 or newer, found " + sys.version.split()[0])'
	$(PYTHON) -m venv $(VENV)

# What the site needs to run; the tools to test it come on top, only for test and lint.
$(RUNTIME): $(PY) requirements.txt
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	@touch $(RUNTIME)

$(DEV): $(RUNTIME) requirements-dev.txt
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $(DEV)

# Database, static files and the first admin account, for whichever SDGEN_DATA_DIR is set.
setup: $(RUNTIME)
	@$(PY) manage.py migrate --noinput -v0
	@$(PY) manage.py collectstatic --noinput -v0
	@$(PY) manage.py createinitialadmin

test: $(DEV)
	$(PY) -m pytest

# ruff, mypy, and the import contracts in pyproject.toml (apps depend one way).
lint: $(DEV)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports --no-cache --no-logo

# A few finished runs, and one that keeps going while you look. It is aborted when the server
# stops, however it stops (Ctrl+C, or a server that could not start at all).
demo: $(RUNTIME)
	@$(DEMO_ENV) $(MAKE) --no-print-directory setup
	@[ -d $(DEMO_DIR)/results ] || $(DEMO_ENV) $(PY) manage.py simulatesessions --sessions 6 --images 6 --rate 0 --image-size 256x384
	@$(DEMO_ENV) $(PY) manage.py runwatchdog --once
	@$(DEMO_ENV) $(PY) manage.py simulatesessions --sessions 3 --images 100 --rate 0.5 --image-size 256x384 \
		>$(DEMO_DIR)/live-run.log 2>&1 & simulator=$$!; \
	trap 'kill $$simulator 2>/dev/null; wait $$simulator 2>/dev/null' EXIT INT TERM HUP; \
	$(DEMO_ENV) $(SERVE)

run: $(RUNTIME)
	@$(MAKE) --no-print-directory setup
	@$(SERVE)

# ORIGINAL=path/to/local-sd-generator (ORIGINAL_PYTHON=its virtualenv's python) adds it to bench/original.py.
bench: $(RUNTIME)
	$(PY) bench/sync.py
	$(PY) bench/watch.py
	$(PY) bench/thumbnails.py
	$(PY) bench/api.py
	$(PY) bench/stream.py
	$(PY) bench/image_parameters.py
	$(PY) bench/other_generators.py
	$(PY) bench/lean_api.py
	$(PY) bench/original.py $(if $(ORIGINAL),--original $(ORIGINAL)) $(if $(ORIGINAL_PYTHON),--python $(ORIGINAL_PYTHON))

clean:
	rm -rf $(VENV) .pytest_cache
