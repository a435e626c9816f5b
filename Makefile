# cartflow — the two commands a fresh machine needs are `make demo` and `make test`.
# Both bootstrap uv (into .tools/ when it is not on PATH) and the locked virtualenv.

SHELL := /bin/bash
UV_VERSION := 0.13.8
UV := $(shell command -v uv 2>/dev/null || echo $(CURDIR)/.tools/bin/uv)
SYNC_STAMP := .venv/.synced

.PHONY: demo test bench lint clean help

help:  ## list the targets
	@grep -E '^[a-z]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

$(CURDIR)/.tools/bin/uv:
	python3 -m venv .tools
	.tools/bin/pip install --quiet "uv==$(UV_VERSION)"

$(SYNC_STAMP): uv.lock pyproject.toml | $(UV)
	$(UV) sync --frozen --all-extras
	@touch $(SYNC_STAMP)

demo: $(SYNC_STAMP)  ## generate scale-1 Online Retail data, run the pipeline, print the answers
	$(UV) run cartflow demo --dir demo

test: $(SYNC_STAMP)  ## start the test services (PostgreSQL) and run the test suite
	bash scripts/test-services.sh
	PATH="$(dir $(UV)):$$PATH" $(UV) run pytest  # uv on PATH: the Airflow test builds a venv with it

bench: $(SYNC_STAMP)  ## run benchmarks/ and write docs/benchmarks.md (options: make bench BENCH_ARGS="--scales 1")
	$(UV) run python -m benchmarks $(BENCH_ARGS)

clean:  ## remove the virtualenv, tools and demo project
	rm -rf .venv .tools demo
