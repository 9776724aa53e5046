# Pantau — the two commands a newcomer needs:
#   make demo   install everything, start the services, ingest, alerts, API and the simulator
#   make test   install everything and run ruff, mypy --strict and the whole test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test install system lint typecheck pytest bench clean

demo: install
	$(BIN)/pantau demo

test: install lint typecheck pytest

install: system $(STAMP)

system:
	@bash scripts/install-system.sh

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[server,dev]'
	touch $(STAMP)

lint:
	$(BIN)/ruff check .

typecheck:
	$(BIN)/mypy

pytest:
	$(BIN)/pytest -q

bench: install
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache
