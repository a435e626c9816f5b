"""Run the SQLMesh project (silver + gold) against the warehouse, and read its results.

The pipeline calls :func:`transform` once per run, after it has written the bronze
Parquet files and the pending-batch list. The SQLMesh config is built here in Python
(no yaml next to the models) so the warehouse path and the lake variables come from
``cartflow.toml`` through the caller, and so DuckDB commands never load a Spark gateway
(that one lives in its own config, added with the Spark engine).
"""

from __future__ import annotations

import glob
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from cartflow.transform.connection import duckdb_connection
from cartflow.transform.entity_defaults import ENTITY_DEFAULTS
from cartflow.transform.fingerprint import deployed_fingerprint, project_fingerprint, record_deployed
from cartflow.transform._console import CapturingConsole, model_name

PROJECT_DIR = Path(__file__).resolve().parent
"""The SQLMesh project: models/, audits/, macros/, tests/."""

DEFAULT_VARIABLES: dict[str, Any] = {
    "order_date_format": "%-m/%-d/%Y %-H:%M",
    "currency": "GBP",
    **ENTITY_DEFAULTS,  # the multi-source entities read empty files unless the pipeline says otherwise
}
REQUIRED_VARIABLES = ("bronze_order_lines", "pending_order_lines")

GOLD_TABLES = (
    "gold.dim_customer",
    "gold.dim_product",
    "gold.dim_date",
    "gold.fct_order_line",
    "gold.fct_order",
)
MARTS = (
    "gold.mart_revenue_daily",
    "gold.mart_revenue_weekly",
    "gold.mart_revenue_monthly",
    "gold.mart_revenue_quarterly",
    "gold.mart_top_products_by_season",
    "gold.mart_customer_rfm",
    "gold.mart_cohort_retention",
    "gold.mart_customer_purchase_history",
    "gold.mart_quarantine_summary",
)

Progress = Callable[[str], None]


class TransformError(RuntimeError):
    """A SQLMesh plan or run failed; the message names the model(s) and SQLMesh's error."""

    def __init__(self, message: str, failed_models: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.failed_models = failed_models or {}


class ReconciliationError(RuntimeError):
    """bronze rows != silver rows + quarantine rows for at least one batch."""

    def __init__(self, broken: list[BatchReconciliation]) -> None:
        lines = [
            f"batch {b.batch_id}: bronze {b.bronze_rows} != silver {b.silver_rows}"
            f" + quarantine {b.quarantine_rows}"
            for b in broken
        ]
        super().__init__("order_lines do not reconcile:\n  " + "\n  ".join(lines))
        self.broken = broken


@dataclass(frozen=True)
class TransformSettings:
    warehouse: Path  # DuckDB file (the warehouse); SQLMesh state lives in it too
    variables: dict[str, Any]  # bronze_order_lines, pending_order_lines, order_date_format, currency
    gateway: str = "duckdb"  # or "spark" (transform/spark.py, its own SQLMesh config)
    connection_setup: Callable[[duckdb.DuckDBPyConnection], None] | None = None
    """Run on every DuckDB connection that reads the lake: httpfs + the S3 secret for an s3:// lake."""
    duckdb_config: dict[str, str] = field(default_factory=dict)
    """DuckDB settings for the warehouse connection, e.g. {"memory_limit": "2GB"}."""
    spark: Any | None = None
    """cartflow.transform.spark.SparkSettings for the Spark config (spark.build_spark_config);
    never read by the DuckDB config here, so DuckDB runs never import pyspark."""


@dataclass(frozen=True)
class TransformResult:
    status: Any  # sqlmesh.utils.CompletionStatus of the run
    plan_seconds: float
    run_seconds: float
    total_seconds: float
    model_seconds: dict[str, float] = field(default_factory=dict)
    """Evaluation time per model during plan backfill and run (summed)."""
    planned: bool = True
    """False when the project was unchanged since the last applied plan and planning was skipped."""
    rebuilt_models: tuple[str, ...] = ()
    """Incremental models that this plan gave a new physical table (a breaking change).

    Such a table starts empty and only receives the batches pending in this run: the
    caller must replay every bronze batch (pending = all batch ids) to restore history.
    """


@dataclass(frozen=True)
class TableName:
    model: str  # e.g. "gold.mart_revenue_daily"
    virtual: str  # the view readers use, e.g. '"warehouse"."gold"."mart_revenue_daily"'
    physical: str  # the versioned table behind it


@dataclass(frozen=True)
class BatchReconciliation:
    batch_id: str
    bronze_rows: int
    silver_rows: int
    quarantine_rows: int

    @property
    def ok(self) -> bool:
        return self.bronze_rows == self.silver_rows + self.quarantine_rows


def variables_for(settings: TransformSettings) -> dict[str, Any]:
    """The SQLMesh variables: defaults overlaid by the settings, required ones checked."""
    variables = {**DEFAULT_VARIABLES, **settings.variables}
    missing = [name for name in REQUIRED_VARIABLES if not variables.get(name)]
    if missing:
        raise TransformError(f"transform variables missing: {', '.join(missing)}")
    return {key: str(value) if isinstance(value, Path) else value for key, value in variables.items()}


def build_config(settings: TransformSettings) -> Any:
    """The SQLMesh Config for the embedded DuckDB warehouse.

    cron '@daily' with allow_partials: every ``run(ignore_cron=True)`` finds a missing
    partial interval (the last one ends at "now", which is later than the end recorded
    by the previous run), so incremental and FULL models are evaluated on every
    pipeline run, which is what reading the pending batches requires; two runs a
    second apart both evaluate everything (tested). interval_unit is 'day', not
    'five_minute': SQLMesh expands every interval since `start` in Python on each plan
    and run, and 16 years of five-minute intervals (1.7 M) cost ~60 s per call against
    ~0.1 s for days. Unique-key models ignore the interval bounds, so the unit changes
    nothing else. SQLMesh state lives in the warehouse file itself.
    """
    from sqlmesh.core.config import (
        Config,
        GatewayConfig,
        ModelDefaultsConfig,
    )

    if settings.gateway == "spark":
        from cartflow.transform.spark import build_spark_config  # only Spark projects load it

        return build_spark_config(settings)
    if settings.gateway != "duckdb":
        raise TransformError(f"gateway {settings.gateway!r} is not available in this config (only 'duckdb')")
    warehouse = Path(settings.warehouse).resolve()
    return Config(
        gateways={"duckdb": GatewayConfig(connection=duckdb_connection(str(warehouse), settings.connection_setup,
                                                                           settings.duckdb_config))},
        default_gateway="duckdb",
        model_defaults=ModelDefaultsConfig(
            dialect="duckdb",
            start="2010-01-01",
            cron="@daily",
            interval_unit="day",
            allow_partials=True,
        ),
        variables=variables_for(settings),
        disable_anonymized_analytics=True,
        # Keep SQLMesh's parse cache out of the source tree (it may be read-only).
        cache_dir=str(warehouse.parent / f".{warehouse.name}.sqlmesh-cache"),
    )


@contextmanager
def open_context(settings: TransformSettings, console: Any | None = None) -> Iterator[Any]:
    """A loaded SQLMesh Context on the warehouse; its connection is closed on exit."""
    from sqlmesh import Context
    from sqlmesh.core.console import get_console, set_console

    Path(settings.warehouse).parent.mkdir(parents=True, exist_ok=True)
    previous = get_console()
    set_console(console or CapturingConsole())
    try:
        context = Context(paths=PROJECT_DIR, config=build_config(settings))
        try:
            yield context
        finally:
            context.close()
    finally:
        set_console(previous)


def transform(settings: TransformSettings, progress: Progress | None = None) -> TransformResult:
    """Deploy model changes (plan, auto-applied) and run every model over the pending batches.

    Raises TransformError naming the failed model(s) and SQLMesh's error, including a
    failed blocking audit (e.g. reconciliation_holds).
    """
    say = progress or (lambda _message: None)
    console = CapturingConsole(progress=say)
    started = time.perf_counter()
    _check_bronze(settings)
    with open_context(settings, console) as context:
        fingerprint = project_fingerprint(PROJECT_DIR, variables_for(settings), settings.gateway)
        marker = Path(settings.warehouse).with_name(f".{Path(settings.warehouse).name}.plan-fingerprint")
        rebuilt: tuple[str, ...] = ()
        planned = deployed_fingerprint(context, marker) != fingerprint
        if not planned:
            say("transform: models unchanged since the last plan, planning skipped")
        else:
            say("transform: planning")
            before = _incremental_versions(context)
            try:
                # empty_backfill: the plan creates tables and views and records their
                # intervals without computing them; the run right after evaluates every
                # model once anyway (see build_config), so a deploy costs one evaluation,
                # not two. Unit tests run in the test suite, not on every pipeline run.
                context.plan(auto_apply=True, no_prompts=True, skip_tests=True, empty_backfill=True)
            except Exception as error:  # noqa: BLE001 - re-raised with the model named
                raise _error("plan", console, error) from error
            after = _incremental_versions(context)
            rebuilt = tuple(sorted(name for name, version in after.items()
                                   if name in before and before[name] != version))
            record_deployed(context, marker, fingerprint)
        if rebuilt:
            say(f"transform: new table versions for {', '.join(rebuilt)}: replay all batches to restore history")
        planned_at = time.perf_counter()
        say("transform: running")
        try:
            status = context.run(ignore_cron=True)
        except Exception as error:  # noqa: BLE001
            raise _error("run", console, error) from error
        if status.is_failure:
            raise _error("run", console, None)
        finished = time.perf_counter()
    say(f"transform: {status.value} in {finished - started:.1f}s")
    return TransformResult(
        status=status,
        plan_seconds=planned_at - started,
        run_seconds=finished - planned_at,
        total_seconds=finished - started,
        model_seconds=dict(console.model_seconds),
        planned=planned,
        rebuilt_models=rebuilt,
    )


def _incremental_versions(context: Any) -> dict[str, str]:
    """Physical version per deployed incremental model (empty before the first plan)."""
    environment = context.state_reader.get_environment("prod")
    if environment is None:
        return {}
    return {
        model_name(snapshot.name): snapshot.version
        for snapshot in environment.snapshots
        if snapshot.kind_name is not None and snapshot.kind_name.is_incremental
    }


def _check_bronze(settings: TransformSettings) -> None:
    """Fail early and clearly when the inputs the views read are missing.

    Without this, DuckDB reports "No files found that match the pattern" from inside a
    view creation, several frames deep in SQLMesh.
    """
    variables = variables_for(settings)
    for name in REQUIRED_VARIABLES:
        location = str(variables[name])
        if "://" in location:
            continue  # remote lakes are checked by the engine
        if not glob.glob(location):
            raise TransformError(f"transform input {name} matches no file: {location}")


def _error(stage: str, console: CapturingConsole, error: BaseException | None) -> TransformError:
    failed = dict(console.failed_models)
    if failed:
        details = "\n".join(f"model {model}: {message}" for model, message in failed.items())
        return TransformError(f"SQLMesh {stage} failed:\n{details}", failed)
    return TransformError(f"SQLMesh {stage} failed: {error or 'see SQLMesh log'}")


def table_names(settings: TransformSettings, models: Iterable[str] = GOLD_TABLES + MARTS) -> list[TableName]:
    """Fully qualified virtual (view) and physical names of the deployed gold tables and marts.

    Read from the prod environment in SQLMesh state, so they are the tables the last
    applied plan built, not what the model files on disk would build.
    """
    wanted = list(models)
    with open_context(settings) as context:
        environment = context.state_reader.get_environment("prod")
        if environment is None:
            raise TransformError(f"no deployed SQLMesh environment in {settings.warehouse}: run transform first")
        catalog = context.default_catalog
        by_name = {snapshot.name: snapshot for snapshot in environment.snapshots}
        names = []
        for model in wanted:
            key = _qualify(model, catalog)
            snapshot = by_name.get(key)
            if snapshot is None:
                raise TransformError(f"model {model} is not deployed in {settings.warehouse}")
            names.append(TableName(model=model, virtual=key, physical=_quote(snapshot.table_name())))
        return names


def _qualify(model: str, catalog: str | None) -> str:
    parts = [catalog, *model.split(".")] if catalog else model.split(".")
    return ".".join(f'"{part}"' for part in parts)


def _quote(name: str) -> str:
    if name.startswith('"'):
        return name
    return ".".join(f'"{part}"' for part in name.split("."))


def read_table(settings: TransformSettings, name: str) -> pa.Table:
    """Read a warehouse table or view (e.g. 'gold.mart_revenue_daily') into Arrow, read-only."""
    with duckdb.connect(str(settings.warehouse), read_only=True) as connection:
        return connection.sql(f"SELECT * FROM {name}").to_arrow_table()


def reconcile(settings: TransformSettings, batch_ids: Iterable[str]) -> list[BatchReconciliation]:
    """Per batch: rows in the bronze Parquet vs rows in silver + quarantine in the warehouse.

    Independent of the SQLMesh audit of the same rule: bronze is counted from the files
    themselves, so a view or model bug cannot hide a loss.
    """
    ids = sorted(set(batch_ids))
    if not ids:
        return []
    variables = variables_for(settings)
    with duckdb.connect() as lake:
        if settings.connection_setup:
            settings.connection_setup(lake)
        bronze = dict(
            lake.execute(
                "SELECT _batch_id, COUNT(*) FROM read_parquet(?) "
                "WHERE _batch_id IN (SELECT UNNEST(?)) GROUP BY _batch_id",
                [variables["bronze_order_lines"], ids],
            ).fetchall()
        )
    if settings.gateway == "spark":
        from cartflow.transform.spark import batch_counts

        silver = batch_counts(settings, "silver.order_lines", ids)
        quarantine = batch_counts(settings, "silver.quarantine_order_lines", ids)
    else:
        with duckdb.connect(str(settings.warehouse), read_only=True) as warehouse:
            silver = _counts(warehouse, "silver.order_lines", ids)
            quarantine = _counts(warehouse, "silver.quarantine_order_lines", ids)
    return [
        BatchReconciliation(
            batch_id=batch_id,
            bronze_rows=int(bronze.get(batch_id, 0)),
            silver_rows=int(silver.get(batch_id, 0)),
            quarantine_rows=int(quarantine.get(batch_id, 0)),
        )
        for batch_id in ids
    ]


def assert_reconciled(results: Iterable[BatchReconciliation]) -> None:
    """Raise ReconciliationError when any batch lost or doubled rows."""
    broken = [result for result in results if not result.ok]
    if broken:
        raise ReconciliationError(broken)


def _counts(connection: duckdb.DuckDBPyConnection, table: str, ids: list[str]) -> dict[str, int]:
    rows = connection.execute(
        f"SELECT _batch_id, COUNT(*) FROM {table} WHERE _batch_id IN (SELECT UNNEST(?)) GROUP BY _batch_id",
        [ids],
    ).fetchall()
    return {batch_id: int(count) for batch_id, count in rows}
