# opt: `make help` lists the targets.
PYTHON ?= python3
STAGE1_ARGS ?=
STAGE2_ARGS ?=

.PHONY: help install test test-fast bench bench-gpu stage1 stage2 promote ui ui-check lint typecheck

help: ## list the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  %-10s %s\n", $$1, $$2}'

install: ## install opt and its dev tools into the current Python (torch pinned to the CPU 2.13.0 wheel)
	$(PYTHON) -m pip install -e ".[dev]"

test: ## run the whole test suite (README's test command)
	$(PYTHON) -m pytest -q

test-fast: ## unit tests only (skips the end-to-end CLI tests)
	$(PYTHON) -m pytest -q -m "not slow"

bench: ## benchmarks: prints the figures and writes bench.json
	$(PYTHON) -m benchmarks.run

bench-gpu: ## CNN trial and epoch time on CUDA (mixed precision) vs CPU on the ES file; skips without CUDA
	$(PYTHON) -m benchmarks.bench_gpu

stage1: ## stage-1 search on the default synthetic data (STAGE1_ARGS="data=csv data.path=...")
	$(PYTHON) -m opt run +stage=1 $(STAGE1_ARGS)

stage2: ## stage-2 search on the best stage-1 dataset
	$(PYTHON) -m opt run +stage=2 $(STAGE2_ARGS)

promote: ## validate the best stage-2 trial on the held-out part and register it
	$(PYTHON) -m opt promote

ui: ## MLflow UI on 127.0.0.1:5000 against mlruns/mlflow.db
	$(PYTHON) -m opt ui

ui-check: ## MLflow UI in headless Chromium on a tiny study: asserts and screenshots in /tmp/opt-ui-screenshots
	$(PYTHON) -m pytest -q tests/e2e/test_ui_browser.py

lint: ## ruff
	$(PYTHON) -m ruff check src tests benchmarks

typecheck: ## mypy on src/opt (zero errors)
	$(PYTHON) -m mypy
