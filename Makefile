# The tasks a newcomer needs; `make` alone lists them.
.DEFAULT_GOAL := help
SHELL := /bin/bash

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# What is installed, redone whenever pyproject.toml is newer: Aerie with what running
# needs (``make run``), or with the dev tools as well (tests, linters, Playwright).
RUN_STAMP := $(VENV)/.installed-run
STAMP := $(VENV)/.installed

# pytest-xdist workers: the suite mostly waits on servers, so two cores keep four busy.
WORKERS ?= 4
# Left out of `make check`: what needs MariaDB, Chromium or nginx, starts whole processes
# or database servers of its own.
QUICK := not mariadb and not browser and not nginx and not processes and not cluster

.PHONY: help venv run test check bench demo lint

help: ## list the tasks
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-6s %s\n", $$1, $$2}'

venv: $(STAMP) ## create .venv and install Aerie with its dev tools

$(BIN)/python:
	@echo "make: creating a virtual environment in $(VENV)"
	@$(PYTHON) -m venv $(VENV)

$(RUN_STAMP): pyproject.toml | $(BIN)/python
	@echo "make: installing Aerie and what it needs to run (FastAPI, uvicorn, SQLAlchemy, matplotlib...) into $(VENV); about a minute the first time"
	@$(BIN)/pip install --quiet --disable-pip-version-check -e .
	@touch $@

$(STAMP): pyproject.toml | $(BIN)/python
	@echo "make: installing Aerie with its dev tools (pytest, mypy, ruff, Playwright, aiosmtpd) into $(VENV)"
	@$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $@ $(RUN_STAMP)

run: $(RUN_STAMP) ## install what running needs, migrate, then run the API (:8001), the web app (:8000) and two copies of each app server
	@echo "make: migrating the database (AERIE_DATABASE_URL, default var/aerie.db)"
	@$(BIN)/aerie db upgrade
	@echo "make: starting every role (Ctrl-C stops them all)"
	@$(BIN)/aerie up

test: venv ## run the whole suite (SQLite, and MariaDB where one answers)
	$(BIN)/pytest -n $(WORKERS) $(PYTEST_ARGS)

check: venv ## the quick loop after every change: ruff, mypy, and the SQLite tests that need nothing else
	$(BIN)/ruff check .
	$(BIN)/mypy aerie api_service web_service interactor presenters rpc app_servers deploy ops
	$(BIN)/pytest -n $(WORKERS) -q -m "$(QUICK)" $(PYTEST_ARGS)

bench: venv ## print ingestion throughput and latency figures
	$(BIN)/python bench/ingest.py

demo: $(RUN_STAMP) ## create or refresh the demo account (demo@aerie.local / demo) with 90 days of data
	$(BIN)/aerie demo

lint: venv ## ruff and mypy (strict on the kernel, aerie/)
	$(BIN)/ruff check .
	$(BIN)/mypy aerie api_service web_service interactor presenters rpc app_servers deploy ops
