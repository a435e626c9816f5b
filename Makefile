# cartflow — the two commands a fresh machine needs are `make demo` and `make test`.
# Both bootstrap uv (into .tools/ when it is not on PATH) and the locked virtualenv.

SHELL := /bin/bash
UV_VERSION := 0.13.8
UV := $(shell command -v uv 2>/dev/null || echo $(CURDIR)/.tools/bin/uv)
SYNC_STAMP := .venv/.synced

.PHONY: demo test test-fast chaos bench bench-quick lint clean help

help:  ## list the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

$(CURDIR)/.tools/bin/uv:
	python3 -m venv .tools
	.tools/bin/pip install --quiet "uv==$(UV_VERSION)"

# --compile-bytecode: the venv ships compiled modules, so commands start fast even where
# PYTHONDONTWRITEBYTECODE is set (then every process would compile SQLMesh's ~900 modules again).
$(SYNC_STAMP): uv.lock pyproject.toml | $(UV)
	$(UV) sync --frozen --all-extras --compile-bytecode
	@touch $(SYNC_STAMP)

demo: $(SYNC_STAMP)  ## generate scale-1 Online Retail data into demo/ (git-ignored), run the pipeline, print the answers (options: make demo DEMO_ARGS="--scale 0.1")
	.venv/bin/cartflow demo --dir demo $(DEMO_ARGS)

test: $(SYNC_STAMP)  ## start the test services (PostgreSQL) and run the test suite
	bash scripts/test-services.sh
	PATH="$(dir $(UV)):$$PATH" $(UV) run pytest  # uv on PATH: the Airflow test builds a venv with it

# test-fast: the suite without the tests marked slow (whole-pipeline runs, Spark, Airflow, browser, Kafka,
# S3, docs); -m replaces addopts' own -m, hence "not chaos" again.
test-fast: $(SYNC_STAMP)  ## the tier to run while developing (under 5 min): every test not marked slow
	bash scripts/test-services.sh
	$(UV) run pytest -m "not slow and not chaos"

# lint: ruff's rules, mypy on src/ and the import layers contract (pyproject.toml); about a minute.
# `ruff format` is not applied: the reason is in pyproject.toml.
lint: $(SYNC_STAMP)  ## ruff check, mypy (src/), import-linter layers: what CI checks before the tests
	$(UV) run --frozen ruff check src tests benchmarks scripts
	$(UV) run --frozen mypy
	$(UV) run --frozen lint-imports

# chaos: the whole robustness suite at full size (docs/reliability.md says what each part promises):
# Schemathesis >= 1,000 requests with every check, the property suite's 8 runs, >= 50 kill -9 points over
# every stage, >= 1,000 fuzzed files. The figures go to docs/chaos-results.json and into docs/reliability.md
# (also when a suite fails: its failures are the figures then). CARTFLOW_CHAOS_SEED changes the seed.
# Every size is an environment knob (a smaller run on a busy machine: `CARTFLOW_CHAOS_KILLS=20 make chaos`;
# the figures then say what ran), and CHAOS_TESTS picks the suites (`make chaos CHAOS_TESTS=tests/test_chaos_kill.py`).
CARTFLOW_CHAOS_EXAMPLES ?= 250
CARTFLOW_CHAOS_RUNS ?= 8
CARTFLOW_CHAOS_KILLS ?= 52
CARTFLOW_CHAOS_FILES ?= 260
CARTFLOW_CHAOS_FILE_RUNS ?= 4
CHAOS_TESTS ?= tests/test_chaos_api.py tests/test_property_stream.py tests/test_chaos_kill.py tests/test_chaos_files.py
CHAOS_SIZES = CARTFLOW_CHAOS_EXAMPLES=$(CARTFLOW_CHAOS_EXAMPLES) CARTFLOW_CHAOS_RUNS=$(CARTFLOW_CHAOS_RUNS) \
	CARTFLOW_CHAOS_KILLS=$(CARTFLOW_CHAOS_KILLS) CARTFLOW_CHAOS_FILES=$(CARTFLOW_CHAOS_FILES) \
	CARTFLOW_CHAOS_FILE_RUNS=$(CARTFLOW_CHAOS_FILE_RUNS)
chaos: $(SYNC_STAMP)  ## the whole chaos suite at full size (~45 min on a quiet machine) -> docs/reliability.md
	bash scripts/test-services.sh
	status=0; $(CHAOS_SIZES) PYTHONPATH=tests $(UV) run pytest -m chaos -p chaos_results \
		--chaos-results docs/chaos-results.json --timeout 5400 -p no:cacheprovider $(CHAOS_TESTS) \
		|| status=$$?; \
	$(UV) run python scripts/chaos_report.py docs/chaos-results.json docs/reliability.md && exit $$status

# bench: scales 1, 10 and 50, one round: cartflow, pandas, the DuckDB same-job baseline and CSV copy
# (PySpark at 10 only); the incremental day at 10 through the CLI; no-op `run` and one-row `sql` vs a
# bare `import duckdb`; streaming (three-process setup, paced 20,000/s); multi-source extraction.
# ~25 min on an idle 2-core machine (22 min on 2026-12-05), half of it cartflow at scale 50. BENCH_ARGS="--runs 3" for
# medians of three rounds; benchmarks/__main__.py lists every option.
bench: $(SYNC_STAMP)  ## every issue-15 target, scales 1/10/50 (~25 min) -> docs/benchmarks.md
	$(UV) run python -m benchmarks $(BENCH_ARGS)

bench-quick: $(SYNC_STAMP)  ## the same at scale 1, one round, no PySpark/multi-source (~10 min)
	$(UV) run python -m benchmarks --scales 1 --runs 1 --incremental-scale 1 --skip pyspark,multisource $(BENCH_ARGS)

clean:  ## remove the virtualenv, tools and demo project
	rm -rf .venv .tools demo
