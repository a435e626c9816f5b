"""`cartflow init`: a new project directory with a commented cartflow.toml and a landing inbox."""

from __future__ import annotations

from pathlib import Path

from cartflow.config import CONFIG_FILE

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
# "keep" (default) keeps the immutable raw copy forever, so any batch can be replayed;
# "delete_after_standardize" removes it once the batch reached silver.
raw_retention = "keep"

[warehouse]
# The engine that runs the SQLMesh models: "duckdb" (embedded) or "spark".
engine = "duckdb"
# The warehouse file; by default <lake>/warehouse.duckdb.
# path = "lake/warehouse.duckdb"

[state]
# Runs, manifests and watermarks: "sqlite" (embedded) or "postgres".
backend = "sqlite"
path = ".cartflow/state.db"

[currency]
# Every amount is converted to this currency.
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

[sources.online_retail.csv]
encoding = "latin-1"        # the Kaggle export is ISO-8859-1, not UTF-8
delimiter = ","
quote = '"'
date_format = "%-m/%-d/%Y %-H:%M"   # 12/1/2010 8:26
decimal = "."               # "," for the semicolon re-export with decimal commas
'''


def init_project(directory: Path, name: str | None = None, force: bool = False) -> Path:
    """Create `directory/cartflow.toml` and the landing inbox; refuse to overwrite unless forced."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / CONFIG_FILE
    if path.exists() and not force:
        raise FileExistsError(f"{path} already exists: pass --force to overwrite it")
    path.write_text(TEMPLATE.format(name=name or directory.resolve().name), encoding="utf-8")
    (directory / "landing" / "online_retail").mkdir(parents=True, exist_ok=True)
    return path
