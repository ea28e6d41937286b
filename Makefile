# tenant-backup-operator: developer and CI entry points. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CRD := crds/tenantbackups.tenantbackup.dev.yaml

.PHONY: help install controlplane crds lint unit test cluster-up cluster-down run

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

$(BIN)/tenant-backup: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

install: $(BIN)/tenant-backup ## Create .venv with the operator and its dev tools

controlplane: ## Build (once) the test control plane from upstream Go modules
	tools/controlplane/build.sh

crds: install ## Regenerate crds/ from the pydantic models
	$(BIN)/python -m tenant_backup.api.crd > $(CRD)

lint: install ## ruff and mypy --strict
	$(BIN)/ruff check operator tests
	$(BIN)/ruff format --check operator tests
	$(BIN)/mypy

unit: install ## Unit tests only (no cluster, no database)
	$(BIN)/pytest tests/unit

test: install controlplane lint ## Everything: lint, unit, and integration on a real API server and PostgreSQL
	$(BIN)/pytest

cluster-up: install controlplane ## Start the local control plane in the background; prints KUBECONFIG
	$(BIN)/python tests/support/cluster.py up

cluster-down: install ## Stop the local control plane
	$(BIN)/python tests/support/cluster.py down

run: install ## Run the operator against $$KUBECONFIG (all namespaces)
	$(BIN)/tenant-backup operator --all-namespaces
