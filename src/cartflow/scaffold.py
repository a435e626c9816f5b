"""`cartflow init`: a new project directory with a commented cartflow.toml, a landing inbox,
and a models/ folder holding one example mart (the user's own SQLMesh models).

`cartflow init --example shopify DIR` copies a ready-made example project instead: its
cartflow.toml and sample files, from `examples/<name>/` (shipped inside the wheel as
`cartflow/examples/<name>/`).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from cartflow.config import CONFIG_FILE

EXAMPLES = ("shopify",)
"""Examples `cartflow init --example` can create."""
_EXAMPLE_FILES = ("cartflow.toml", "README.md", "landing")

TEMPLATE = '''\
# cartflow project configuration.
# Every key can be overridden from the environment: CARTFLOW__SECTION__KEY=value,
# for example CARTFLOW__LAKE__ROOT=s3://my-bucket/shop.

[project]
name = "{name}"

[lake]
# Where raw, bronze and published marts live: a local directory (relative to this
# file) or an S3 URI such as "s3://bucket/prefix".
root = "lake"
# "keep" (default) keeps the immutable raw copy forever, so any batch can be converted again;
# "delete_after_standardize" deletes a batch's raw object once it reconciled in silver
# (raw = silver + quarantine). Its manifest row stays (marked raw_deleted_at), so it is never
# landed twice; a restatement (--from/--to, dlq replay) rebuilds from bronze, not raw.
raw_retention = "keep"

[warehouse]
# The engine that runs the SQLMesh models: "duckdb" (embedded) or "spark".
engine = "duckdb"
# The warehouse file; by default <lake>/warehouse.duckdb.
# path = "lake/warehouse.duckdb"
# DuckDB's memory limit; larger joins and sorts spill to disk instead (scale 50 fits in 4 GiB).
memory_limit = "2GB"

[state]
# Runs, manifests and watermarks: "sqlite" (embedded) or "postgres".
backend = "sqlite"
path = ".cartflow/state.db"

[currency]
# Sales and transactions are converted to this currency; order lines must already be in it
# (an order-line source's `currency` equals it: their prices are never converted).
base = "GBP"

# The UCI Online Retail order-line feed: drop CSV files into landing/online_retail/.
[sources.online_retail]
kind = "files"
entity = "order_lines"
path = "landing/online_retail"
format = "csv"
currency = "GBP"
# A required source that fails fails the run; an optional one makes it "partial".
required = true
# Only finished files are taken: size and modification time unchanged for settle_seconds
# (0: files are complete when they appear). Files named *.tmp, *.part, *.partial ... are
# left alone until renamed. Producers that write a marker when done can say so instead:
# ready_marker = ".done" takes x.csv once x.csv.done exists ("_SUCCESS": once the folder has one).
settle_seconds = 5
# A file that cannot be read at all (empty, binary, compressed, wrong encoding or header)
# is rejected with its reason and left where it is; the other files go on and the run
# ends "partial" (`cartflow dlq list files`). The same bytes are not tried again.
# A file name already landed that comes back with other content is rejected as
# changed_after_landing, never counted twice: put new or corrected rows in a new file.
# follow_symlinks = false     # a symbolic link is rejected unless true
# recursive = false           # sub-folders are skipped (with a note) unless true

[sources.online_retail.csv]
encoding = "latin-1"        # the Kaggle export is ISO-8859-1, not UTF-8
delimiter = ","
quote = '"'
date_format = "%-m/%-d/%Y %-H:%M"   # 12/1/2010 8:26
decimal = "."               # "," for the semicolon re-export with decimal commas

# --- Operations (docs/operations.md) -------------------------------------------------
# Every section below is optional; the values shown are the defaults unless noted.

# Retries of each source's extraction: exponential backoff with jitter.
# [retries]
# attempts = 3                # tries in all, the first included
# backoff_seconds = 2.0       # doubled for each retry, capped at max_backoff_seconds
# max_backoff_seconds = 60.0
# jitter = 0.5                # share of each wait that is random
# [retries.sources.online_retail]
# attempts = 5                # one source's own policy

# Cron schedules for `cartflow scheduler` (times in `timezone`).
# [schedule]
# timezone = "UTC"
# catchup = false             # after downtime: run once for the latest missed time (true: run every missed time)
# max_catchup_runs = 24
# [schedule.jobs.nightly]
# cron = "0 2 * * *"          # 02:00 every day
# catchup = true              # per-job override

# `cartflow watch`: start a run when files land in a files source's inbox.
# [watch]
# poll_seconds = 2.0
# debounce_seconds = 5.0      # run once nothing new arrived for this long...
# max_wait_seconds = 60.0     # ...or at the latest this long after the first new file

# Alerts: always appended to the alert log; also sent to a webhook and/or by email.
# [alerts]
# on_failure = true
# on_partial = true
# on_success = false
# on_quality = true           # quarantine share, freshness, reconciliation breaks
# log = ".cartflow/alerts.jsonl"
# delivery_attempts = 3
# [alerts.webhook]            # Slack incoming webhook, or any JSON receiver
# url_env = "CARTFLOW_ALERT_WEBHOOK_URL"   # the env var holding the URL (or: url = "https://...")
# format = "slack"            # or "json": the whole alert as JSON
# [alerts.email]
# host = "smtp.example.com"
# port = 587
# starttls = true
# from_addr = "cartflow@example.com"
# to = ["data-team@example.com"]
# username_env = "CARTFLOW_SMTP_USER"
# password_env = "CARTFLOW_SMTP_PASSWORD"

# Data-quality checks after each run (a breach alerts; it does not fail the run).
# [quality]
# quarantine_max_share = 0.05 # alert when more than 5% of a run's new rows are quarantined
# quarantine_min_rows = 100   # ...judged on runs with at least this many rows
# freshness_max_hours = 26    # alert when a source's newest data is older (default: off)
# freshness_basis = "arrival" # or "event": the newest invoice time

# Structured logs: stderr, plus a JSON-lines file with the run id on every line.
# [logging]
# format = "text"             # or "json"
# level = "INFO"
# file = ".cartflow/logs/cartflow.jsonl"
'''


EXAMPLE_MART = "mart_revenue_by_country.sql"
EXAMPLE_MART_SQL = '''\
/*
  gold.mart_revenue_by_country: net revenue per shipping country and calendar month.

  An example of a project model: any .sql file in this models/ folder is a SQLMesh
  model (DuckDB dialect) that runs in the same plan as cartflow's built-in models and
  may select from any of them (silver.*, gold.*: `cartflow catalog` lists them). A
  model in the gold schema is published with the marts: `cartflow sql "SELECT * FROM
  mart_revenue_by_country"`. Preview a change with `cartflow plan`; check it with
  `cartflow test` (the YAML tests in tests/, and audits); rebuild only it with
  `cartflow run --select gold.mart_revenue_by_country`. Delete the file to drop it.
  See docs/extending.md.
*/
MODEL (
  name gold.mart_revenue_by_country,
  kind FULL,
  grain (country, month_start),
  description 'Net revenue per country and calendar month (order lines with a country).',
  audits (
    not_null(columns := (country, month_start, net_revenue, orders)),
    unique_combination_of_columns(columns := (country, month_start))
  )
);

WITH order_lines AS (
  SELECT * FROM gold.fct_order_line
),

with_country AS (
  SELECT
    country,
    CAST(DATE_TRUNC('month', invoice_date) AS DATE) AS month_start,
    invoice_no,
    is_sale,
    net_amount
  FROM order_lines
  WHERE country IS NOT NULL
),

by_month AS (
  SELECT
    country,
    month_start,
    CAST(SUM(net_amount) AS DECIMAL(18, 3)) AS net_revenue,
    COUNT(DISTINCT CASE WHEN is_sale THEN invoice_no END) AS orders
  FROM with_country
  GROUP BY country, month_start
)

SELECT
  CAST(country AS VARCHAR) AS country,
  CAST(month_start AS DATE) AS month_start,
  CAST(net_revenue AS DECIMAL(18, 3)) AS net_revenue,
  CAST(orders AS BIGINT) AS orders
FROM by_month
'''


def init_project(directory: Path, name: str | None = None, force: bool = False, example: str | None = None) -> Path:
    """Create `directory/cartflow.toml`, the landing inbox and models/ with an example mart (or an
    example project); refuse to overwrite cartflow.toml unless forced. An existing models/ file is
    never replaced."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / CONFIG_FILE
    if path.exists() and not force:
        raise FileExistsError(f"{path} already exists: pass --force to overwrite it")
    if example is not None:
        return _copy_example(example, directory, name)
    path.write_text(TEMPLATE.format(name=name or directory.resolve().name), encoding="utf-8")
    (directory / "landing" / "online_retail").mkdir(parents=True, exist_ok=True)
    models = directory / "models"
    models.mkdir(exist_ok=True)
    mart = models / EXAMPLE_MART
    if not mart.exists():
        mart.write_text(EXAMPLE_MART_SQL, encoding="utf-8")
    return path


def example_dir(example: str) -> Path:
    """Where an example's files are: inside the installed package, or in the repository's examples/."""
    if example not in EXAMPLES:
        raise ValueError(f"unknown example {example!r} (available: {', '.join(EXAMPLES)})")
    here = Path(__file__).resolve().parent
    for candidate in (here / "examples" / example, here.parents[1] / "examples" / example):
        if (candidate / CONFIG_FILE).is_file():
            return candidate
    raise FileNotFoundError(f"the {example} example is not installed with this copy of cartflow")


def _copy_example(example: str, directory: Path, name: str | None) -> Path:
    source = example_dir(example)
    for entry in _EXAMPLE_FILES:
        src = source / entry
        if src.is_dir():
            shutil.copytree(src, directory / entry, dirs_exist_ok=True)
        elif src.is_file():
            shutil.copyfile(src, directory / entry)
    path = directory / CONFIG_FILE
    if name:
        text = path.read_text(encoding="utf-8")
        path.write_text(text.replace(f'name = "{example}-example"', f"name = {json.dumps(name)}", 1),
                        encoding="utf-8")
    return path
