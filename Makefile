# The two commands of the quick start: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PLUGINS := $(wildcard plugins/*/setup.cfg)
PLUGIN_DIRS := $(patsubst %/setup.cfg,%,$(PLUGINS))
export HUB_INSTANCE_PATH ?= $(CURDIR)/instance

.PHONY: run run-distributed test lint install upgrade clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip 'setuptools>=70' wheel

# Reinstall whenever a distribution's metadata changes.
$(VENV)/.installed: $(BIN)/python setup.cfg pyproject.toml $(PLUGINS)
	$(BIN)/pip install --quiet -e '.[dev,server,postgres,celery]' $(foreach d,$(PLUGIN_DIRS),-e '$(d)[test]')
	touch $@

install: $(VENV)/.installed

upgrade: install
	$(BIN)/flask --app wsgi db upgrade

run: upgrade
	HUB_SANDBOX=1 $(BIN)/flask --app wsgi hub dev-setup
	HUB_SANDBOX=1 $(BIN)/flask --app wsgi run --host 127.0.0.1 --port 5000 --no-reload

# PostgreSQL, Redis, gunicorn, two Celery workers, beat and the sandboxes; docs/deploy.md.
run-distributed: install
	BIN=$(BIN) scripts/run-distributed.sh

test: install
	$(BIN)/python -m pytest tests
	@for dir in $(PLUGIN_DIRS); do \
		echo "== $$dir"; \
		(cd $$dir && ../../$(BIN)/python -m pytest -c ../../pyproject.toml --rootdir . tests) || exit 1; \
	done

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) instance
