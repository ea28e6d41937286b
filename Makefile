# tenant-backup-operator: developer and CI entry points. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: help install packages controlplane node images minio bench bench-scale bench-schedules bench-ui chart-tools promtool age kstatus actionlint chart-lint crds docs lint unit test demo demo-down cluster-up cluster-down run kind-e2e

help: ## List the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

$(BIN)/tenant-backup: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

install: $(BIN)/tenant-backup ## Create .venv with the operator and its dev tools

packages: ## Install the Debian packages the tests and the demo need (if missing)
	tools/system-packages.sh

controlplane: ## Build (once) the test control plane from upstream Go modules
	tools/controlplane/build.sh

node: ## Build (once) kubelet and kube-proxy for the local real node
	tools/controlplane/build-node.sh

images: install ## Build the pause and operator images for the real node (cached by their inputs)
	$(BIN)/python -m devenv.images

minio: ## Build (once) the MinIO server the S3 tests run
	tools/minio/build.sh

chart-tools: ## Build (once) helm and kubeconform from the Go module proxy
	tools/chart-tools/build.sh

promtool: ## Build (once) Prometheus's promtool from the Go module proxy (checks the chart's alerts)
	tools/promtool/build.sh

kstatus: ## Build (once) the kstatus library (Flux's judge of custom resources) as a command, from the Go module proxy
	tools/kstatus/build.sh

actionlint: ## Build (once) actionlint from the Go module proxy (checks .github/workflows in make lint)
	tools/actionlint/build.sh

age: ## Build (once) the reference age CLI from the Go module proxy (interoperability tests)
	tools/age/build.sh

# kubeconform -strict over `helm template` runs in tests/integration/test_chart.py: it needs
# the test API server's OpenAPI document for offline schemas of the built-in kinds.
chart-lint: chart-tools ## helm lint --strict of charts/tenant-backup-operator
	"$$(tools/chart-tools/build.sh)/helm" lint --strict charts/tenant-backup-operator

crds: install ## Regenerate crds/ from the pydantic models
	$(BIN)/python -m tenant_backup.api.crd crds

docs: install ## Regenerate docs/troubleshooting.md from the reasons' guides
	$(BIN)/python -m tenant_backup.api.troubleshooting docs/troubleshooting.md

lint: install actionlint ## ruff, mypy --strict, import contracts, generated docs current, actionlint
	$(BIN)/ruff check operator devenv tests tools
	$(BIN)/ruff format --check operator devenv tests tools
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/python -m tenant_backup.api.troubleshooting --check docs/troubleshooting.md
	"$$(tools/actionlint/build.sh)/actionlint" -no-color

unit: install ## Unit tests only (no cluster, no database)
	$(BIN)/pytest tests/unit

test: install packages controlplane node images minio chart-lint promtool age kstatus lint ## Everything: lint, unit, integration, and end to end on a real node
	$(BIN)/pytest

demo: $(if $(KIND),,install packages controlplane node images chart-tools) ## A real backup on a local real-node cluster (KIND=1: on kind), restored; leaves it up
	$(if $(KIND),$(PYTHON) tools/kind-e2e/run.py --keep,$(BIN)/python -m devenv.demo up)

demo-down: install ## Stop what `make demo` left running
	$(BIN)/python -m devenv.demo down

bench: install packages minio ## Runner vs bare pg_dump and zstd -dc | pg_restore on a small and a 1 GiB tenant (file and S3), and on PostgreSQL 18; BENCH_ARGS="--only small"
	PYTHONPATH=.:operator $(BIN)/python tools/bench/bench.py $(BENCH_ARGS)

bench-scale: install controlplane packages ## The operator with 500 and 5,000 TenantBackups on KWOK: RSS, latencies, requests; BENCH_SCALE_ARGS="--objects 500"
	PYTHONPATH=.:operator $(BIN)/python tools/bench/scale.py $(BENCH_SCALE_ARGS)

bench-schedules: install packages controlplane ## Schedules: slot -> child Jobs (5 tenants), operator RSS with 50 schedules; BENCH_ARGS="--only memory"
	PYTHONPATH=.:operator $(BIN)/python tools/bench/schedules.py $(BENCH_ARGS)

bench-ui: install ## The UI's overview for 50/500 and 500/5,000 tenants/backups: decode, rows, HTML, JSON, and the ratio; BENCH_ARGS="--sizes 500/5000"
	PYTHONPATH=.:operator $(BIN)/python tools/bench/ui.py $(BENCH_ARGS)

cluster-up: install controlplane ## Start the local control plane in the background; prints KUBECONFIG
	$(BIN)/python -m devenv.cluster_cli up

cluster-down: install ## Stop the local control plane
	$(BIN)/python -m devenv.cluster_cli down

run: install ## Run the operator against $$KUBECONFIG (all namespaces)
	TENANT_BACKUP_LEADER_ELECTION=false $(BIN)/tenant-backup operator --all-namespaces

kind-e2e: ## Where Docker exists: kind cluster, image, chart, PostgreSQL, a backup to a PVC, restored
	$(PYTHON) tools/kind-e2e/run.py $(if $(KEEP),--keep)
